"""The operator scripts run as an operator runs them (`ape run stake ...` in a subprocess) against the session's
anvil, checked on the chain. Each `ape run` costs a few seconds, so one test walks the whole stake life cycle."""

import subprocess
import sys
from pathlib import Path

from pinpoint.chain import Chain

REPO = Path(__file__).resolve().parents[2]
APE = Path(sys.executable).parent / "ape"
ETHER = 10**18

# Anvil account 6 (ape's TEST::6, same mnemonic): no other test in the session touches it.
ACCOUNT = "TEST::6"
ADDRESS = "0x976EA74026E726554dB657fA54763abd0C3a0aa9"


def ape_run(chain_stack, script: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(
        chain_stack.env,
        APE_FOUNDRY_HOST=chain_stack.rpc_url,
        PINPOINT_DEPLOYMENT_FILE=str(chain_stack.deployment_file),
    )
    command = [str(APE), "run", script, *args, "--network", "ethereum:local:foundry", "--account", ACCOUNT]
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
