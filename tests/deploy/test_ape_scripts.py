"""The operator scripts run as an operator runs them (`ape run stake ...` in a subprocess) against the session's
anvil, checked on the chain. Each `ape run` costs a few seconds, so one test walks the whole stake life cycle
and one the start of a dispute."""

import json
import subprocess
import sys
from pathlib import Path

from eth_account import Account

from pinpoint.chain import Chain
from pinpoint.merkle import checkpoint_tree
from tests.conftest import advance_time

REPO = Path(__file__).resolve().parents[2]
APE = Path(sys.executable).parent / "ape"
ETHER = 10**18

# Anvil account 6 (ape's TEST::6, same mnemonic): no other test in the session touches it.
ACCOUNT = "TEST::6"
ADDRESS = "0x976EA74026E726554dB657fA54763abd0C3a0aa9"


# Anvil accounts 7, 8 and 9 play the dispute test's submitter, solver and challenger; other tests on the session's
# chain use 0, 1, 4, 6 and the key 0x0707...07.
SUBMITTER, SOLVER, CHALLENGER = 7, 8, 9
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"


def anvil_key(n: int) -> str:
    """The private key of anvil's dev account n (ape's TEST::n)."""
    Account.enable_unaudited_hdwallet_features()
    return Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{n}").key.hex()


def ape_run(chain_stack, script: str, *args: str, account: str | None = ACCOUNT) -> subprocess.CompletedProcess:
    env = dict(
        chain_stack.env,
        APE_FOUNDRY_HOST=chain_stack.rpc_url,
        PINPOINT_DEPLOYMENT_FILE=str(chain_stack.deployment_file),
    )
    command = [str(APE), "run", script, *args, "--network", "ethereum:local:foundry"]
    command += ["--account", account] if account else []
    return subprocess.run(command, check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)


def output(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def test_stakeScript_deposit_request_earlyWithdraw_show(chain_stack):
    chain = Chain(chain_stack.rpc_url, chain_stack.deployment_file)
    staking = chain.staking.functions
    assert (staking.freeStake(ADDRESS).call(), staking.pendingWithdrawal(ADDRESS).call()) == (0, 0), (
        f"{ADDRESS} ({ACCOUNT}) must be this test's own account"
    )

    deposited = ape_run(chain_stack, "stake", "deposit", "0.25")
    assert deposited.returncode == 0, output(deposited)
    assert "deposited 0.25 ETH" in output(deposited)
    assert staking.freeStake(ADDRESS).call() == ETHER // 4

    requested = ape_run(chain_stack, "stake", "request-withdrawal", "0.1")
    assert requested.returncode == 0, output(requested)
    assert (staking.freeStake(ADDRESS).call(), staking.pendingWithdrawal(ADDRESS).call()) == (
        15 * ETHER // 100,
        ETHER // 10,
    )
    withdrawable_at = staking.withdrawableAt(ADDRESS).call()
    assert f"withdrawable at {withdrawable_at}" in output(requested)

    # The session's Staking has a 60 s unbonding delay: withdrawing right away must fail, and say why.
    early = ape_run(chain_stack, "stake", "withdraw")
    assert chain.w3.eth.get_block("latest").timestamp < withdrawable_at  # the premise: still unbonding
    assert early.returncode != 0
    text = output(early)
    assert f"withdraw reverted with WithdrawalNotReady(availableAt={withdrawable_at})" in text, text
    assert "the unbonding delay has not passed" in text, text
    assert "Traceback" not in text and 'File "' not in text, text  # a message, not a Python stack
    assert staking.pendingWithdrawal(ADDRESS).call() == ETHER // 10  # nothing left the contract

    shown = ape_run(chain_stack, "stake", "show")
    assert shown.returncode == 0, output(shown)
    lines = [" ".join(line.split()) for line in shown.stdout.splitlines()]
    assert f"account: {ADDRESS}" in lines
    assert "free stake: 0.15 ETH" in lines
    assert "locked stake: 0 ETH" in lines
    assert "pending: 0.1 ETH" in lines
    assert f"withdrawable at: {withdrawable_at} (unix time)" in lines
    shown = ape_run(chain_stack, "stake", "show", "--json")
    assert json.loads(shown.stdout.strip().splitlines()[-1]) == {
        "account": ADDRESS, "free_stake": str(ETHER * 15 // 100), "locked_stake": "0", "pending": str(ETHER // 10),
        "withdrawable_at": withdrawable_at}, output(shown)


def reviewed_job(chain_stack):
    """A job submitted over three checkpoints, its sample sealed, past the audit's commit window: open to
    challenges. Returns the parties, the job id, the solver's states and their tree."""
    submitter, solver, challenger = (
        Chain(chain_stack.rpc_url, chain_stack.deployment_file, anvil_key(n)) for n in (SUBMITTER, SOLVER, CHALLENGER)
    )
    stake = ETHER // 40  # the market's minimum for 0.02 ether over 2 intervals, 1 sampled, is just over 0.02
    job_id = submitter.post_job("0x" + "5d" * 32, 2, 4, max_price=ETHER // 50, required_stake=stake,
                                bidding_seconds=60, execution_seconds=3600, challenge_seconds=3600)
    solver.transact("Staking", "deposit", value=stake)
    solver.transact("Market", "bid", job_id, ETHER // 100)
    advance_time(submitter.w3, 61)
    submitter.transact("Market", "closeBidding", job_id)
    hashes = ["0x" + f"{i + 1:02x}" * 32 for i in range(3)]  # the solver's states at steps 0, 4 and 8
    tree = checkpoint_tree(job_id, hashes, 4)
    solver.transact("Market", "postProgress", job_id, 1, checkpoint_tree(job_id, hashes[:2], 4).root)
    solver.transact("Market", "submitResult", job_id, tree.root)
    assert solver.job(job_id)["state"].name == "SUBMITTED"
    advance_time(submitter.w3, 1)
    advance_time(submitter.w3, 1)  # the seed block exists
    submitter.transact("Market", "sealSample", job_id)
    advance_time(submitter.w3, submitter.audit.functions.commitWindow().call() + 1)  # challenges open
    return submitter, solver, challenger, job_id, hashes, tree


def test_disputeScript_open_show_refusedMove(chain_stack, tmp_path):
    """A submitted job (set up with web3), challenged with `ape run dispute open`, shown, and a move refused
    because it is not the challenger's turn."""
    submitter, solver, challenger, job_id, hashes, tree = reviewed_job(chain_stack)

    challenge = tmp_path / "challenge.json"
    challenge.write_text(json.dumps({
        "job_id": job_id, "index": 0, "agreed_hash": hashes[0], "agreed_proof": tree.get_proof(0),
        "solver_hash": hashes[1], "solver_proof": tree.get_proof(1), "challenger_hash": "0x" + "ee" * 32,
    }))
    opened = ape_run(chain_stack, "dispute", "open", "--from-file", str(challenge), account=f"TEST::{CHALLENGER}")
    assert opened.returncode == 0, output(opened)
    dispute_id = challenger.game.functions.disputesOf(job_id).call()[-1]
    assert dispute_id != 0
    assert f"dispute {dispute_id} opened over steps 0..4; next: Reveal" in output(opened)
    dispute = challenger.dispute(dispute_id)
    assert (dispute["challenger"], dispute["solver"], dispute["phase"].name) == (
        challenger.address, solver.address, "REVEAL")
    assert challenger.job(job_id)["state"].name == "DISPUTED"

    shown = ape_run(chain_stack, "dispute", "show", str(dispute_id), account=None)
    assert shown.returncode == 0, output(shown)
    lines = [" ".join(line.split()) for line in shown.stdout.splitlines()]
    clock = challenger.game.functions.clockDuration().call()
    solver_left, challenger_left = challenger.game.functions.clocks(dispute_id).call()
    assert f"dispute: {dispute_id} (job {job_id})" in lines, shown.stdout
    assert "phase: Reveal" in lines, shown.stdout
    assert f"steps: lo 0 (agreed {hashes[0]}), hi 4 (solver claims {hashes[1]})" in lines, shown.stdout
    assert any(line.startswith(f"turn: the solver ({solver.address}) to reveal, ") for line in lines), shown.stdout
    clocks = next(line for line in lines if line.startswith("clocks:"))
    solver_shown, challenger_shown = (int(part.split()[-2]) for part in clocks.removeprefix("clocks: ").split(", "))
    assert challenger_shown == challenger_left == clock  # the challenger's clock does not run in Reveal
    assert solver_left <= solver_shown <= clock  # the solver's clock runs (the chain may have moved on since)
    facts = json.loads(ape_run(chain_stack, "dispute", "show", str(dispute_id), "--json", account=None)
                       .stdout.strip().splitlines()[-1])
    assert (facts["phase"], facts["lo"], facts["hi"], facts["hi_hash"]) == ("Reveal", 0, 4, hashes[1])
    assert facts["turn"]["party"] == "solver" and facts["challenger_clock"] == clock

    refused = ape_run(chain_stack, "dispute", "respond", str(dispute_id), "0", account=f"TEST::{CHALLENGER}")
    assert refused.returncode != 0
    text = output(refused)
    assert f"cannot respond now: it is the solver's turn ({solver.address}) to reveal" in text, text
    assert "Traceback" not in text and 'File "' not in text, text
    assert challenger.dispute(dispute_id)["phase"].name == "REVEAL"  # nothing was sent


def test_disputeScript_demand_show(chain_stack):
    """`ape run dispute demand` opens an availability dispute: the solver's clock runs."""
    _, solver, challenger, job_id, _, _ = reviewed_job(chain_stack)
    demanded = ape_run(chain_stack, "dispute", "demand", str(job_id), "2", account=f"TEST::{CHALLENGER}")
    assert demanded.returncode == 0, output(demanded)
    dispute_id = challenger.game.functions.disputesOf(job_id).call()[-1]
    dispute = challenger.dispute(dispute_id)
    assert (dispute["kind"].name, dispute["index"], dispute["phase"].name) == ("AVAILABILITY", 2, "SERVE")
    assert challenger.game.functions.bondOf(dispute_id).call() == challenger.game.functions.availabilityBond().call()
    shown = ape_run(chain_stack, "dispute", "show", str(dispute_id), account=None)
    assert "kind: availability of checkpoint 2" in " ".join(shown.stdout.split()), shown.stdout
    beyond = ape_run(chain_stack, "dispute", "demand", str(job_id), "99", account=f"TEST::{CHALLENGER}")
    assert beyond.returncode != 0 and "demand reverted" in output(beyond)  # no checkpoint 99
    again = ape_run(chain_stack, "dispute", "demand", str(job_id), "1", account=f"TEST::{CHALLENGER}")
    assert again.returncode == 0, output(again)  # demands run side by side
    assert challenger.game.functions.disputesOf(job_id).call()[-2:] == [dispute_id, dispute_id + 1]
