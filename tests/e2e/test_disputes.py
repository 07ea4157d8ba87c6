"""Disputes end to end on the real stack: every cheating strategy is pinpointed to its step and slashed,
and an honest solver challenged falsely keeps its stake and earns the challenger's bond."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from pinpoint.chain import Chain, JobState
from pinpoint.client import CoordinatorClient
from pinpoint.economics import job_economics
from pinpoint.localnet import ANVIL_KEYS, LOCAL_REVIEW_SECONDS, LocalStack, Role, free_port
from pinpoint.spec import example_mlp_spec
from tests.e2e.waiting import wait_for
from worker.cheats import CHEATS, INFERENCE_CHEATS, START_CHEATS, WITHHOLDING_CHEATS
from worker.engine import operator_game as og
from worker.engine.operator_game import spec_program

ETHER = 10**18
MAX_PRICE, STAKE = ETHER // 20, ETHER // 2
pytestmark = pytest.mark.e2e


def run_job(stack: LocalStack, spec, solver_options=(), verifier_options=(), second_verifier=False):
    stack.start_all(solver_options, verifier_options, progress=lambda _: None, second_verifier=second_verifier)
    submitter = Chain(stack.rpc_url, stack.deployment_file, ANVIL_KEYS[1])
    api = CoordinatorClient(stack.api_url)
    accepted = api.submit_spec(spec)
    job_id = submitter.post_job(accepted["spec_hash"], spec.checkpoint_count, spec.checkpoint_interval,
                                max_price=MAX_PRICE, samples=spec.checkpoint_count, required_stake=STAKE, bidding_seconds=4,
                                execution_seconds=600, challenge_seconds=LOCAL_REVIEW_SECONDS)
    ended = (JobState.FINALIZED, JobState.SLASHED)
    job = wait_for(lambda: (j := submitter.job(job_id))["state"] in ended and j, "the job to end", 400)
    view = wait_for(lambda: (v := api.job(job_id))["state"] in ("finalized", "slashed") and v, "the index")
    return submitter, job_id, job, view


COMPUTING_CHEATS = sorted(set(CHEATS) - INFERENCE_CHEATS - WITHHOLDING_CHEATS - START_CHEATS - {"perturb_withhold"})
EVERY_RUN = {"perturb_once"}  # a tampered weight
"""The other computing cheats reach the same bisection once they deviate (tests/worker/test_cheats.py shows each
deviates exactly at its step, tests/worker/test_unlisted_cheats.py that any deviation is pinpointed, tampered
optimizer state included): nightly, to keep `make test` near 40 minutes."""


@pytest.mark.parametrize("cheat", [c if c in EVERY_RUN else pytest.param(c, marks=pytest.mark.nightly) for c in COMPUTING_CHEATS])
def test_cheatingSolver_isPinpointedAndSlashed(tmp_path, cheat):
    # perturb_withhold (a state not served at the pinpointed step) is in test_withholding.py.
    spec = example_mlp_spec()  # 64 steps, a checkpoint every 8
    step = 13
    with LocalStack(tmp_path, chain_port=free_port(), api_port=free_port(), poll_seconds=0.3) as stack:
        submitter, job_id, job, view = run_job(stack, spec, solver_options=("--cheat", f"{cheat}@{step}"))
        assert job["state"] == JobState.SLASHED
        [dispute] = view["disputes"]
        assert dispute["solver_won"] is False
        assert (dispute["lo"], dispute["hi"]) == (step, step + 1)  # pinpointed to the very step
        assert dispute["rounds"] <= math.ceil(math.log2(spec.checkpoint_interval))
        assert not [v for v in view["verdicts"] if v["agrees"]]
        # The stake pays the harmed submitter and the challenger; the submitter also gets its escrow back.
        verifier = submitter.w3.eth.account.from_key(ANVIL_KEYS[3]).address
        solver = submitter.w3.eth.account.from_key(ANVIL_KEYS[2]).address
        market = submitter.market.functions
        assert int(view["slashed"]) == STAKE
        assert market.credits(submitter.address).call() == MAX_PRICE + STAKE // 2
        assert market.credits(verifier).call() == STAKE // 2
        assert submitter.game.functions.credits(verifier).call() == submitter.game.functions.challengeBond().call()
        assert submitter.staking.functions.lockedStake(solver).call() == 0


def test_backdooredStart_everyIntervalReplays_butTheGenesisDisputeSlashes(tmp_path):
    """A solver that trains honestly from weights of its own choosing: the sample's replays all agree, so only
    the verifier's check of checkpoint 0 against the spec catches it, and the referees recompute that start."""
    spec = example_mlp_spec()
    with LocalStack(tmp_path, chain_port=free_port(), api_port=free_port(), poll_seconds=0.3) as stack:
        submitter, _, job, view = run_job(stack, spec, solver_options=("--cheat", "backdoor_init@0"))
        assert job["state"] == JobState.SLASHED
        [dispute] = view["disputes"]
        assert (dispute["kind"], dispute["solver_won"], dispute["lo"], dispute["hi"]) == ("genesis", False, 0, 0)
        [verdict] = view["verdicts"]
        assert not verdict["agrees"] and "initial state" in verdict["detail"]
        verifier = submitter.w3.eth.account.from_key(ANVIL_KEYS[3]).address
        market = submitter.market.functions
        assert int(view["slashed"]) == STAKE
        assert market.credits(submitter.address).call() == MAX_PRICE + STAKE // 2
        assert market.credits(verifier).call() == STAKE // 2
        assert submitter.game.functions.credits(verifier).call() == submitter.game.functions.challengeBond().call()


def test_honestSolver_challengedFalsely_keepsItsStake_andEarnsTheBond(tmp_path):
    spec = example_mlp_spec()
    with LocalStack(tmp_path, chain_port=free_port(), api_port=free_port(), poll_seconds=0.3) as stack:
        # The liar approves nothing, and unapproved work is not paid: a second, honest verifier checks too.
        submitter, job_id, job, view = run_job(stack, spec, verifier_options=("--lie",), second_verifier=True)
        assert job["state"] == JobState.FINALIZED
        [dispute] = view["disputes"]
        assert dispute["solver_won"] is True and dispute["hi"] - dispute["lo"] == 1
        solver = submitter.w3.eth.account.from_key(ANVIL_KEYS[2]).address
        game = submitter.game.functions
        bond = game.challengeBond().call()
        # The solver was paid its price, claimed the bond, and its stake is free again.
        assert int(view["solver_payout"]) == job["price"]
        wait_for(lambda: game.credits(solver).call() == 0 and submitter.market.functions.credits(solver).call() == 0,
                 "the solver to claim its pay and the bond")
        assert submitter.staking.functions.lockedStake(solver).call() == 0
        assert game.totalBonds().call() == 0 and bond > 0
        # The liar also committed to its wrong hashes in an audit: revealed, they disagree with a solver
        # that was not slashed, so that bond is forfeited too.
        audit = submitter.audit.functions
        wait_for(lambda: audit.settled(job_id).call(), "the keeper to settle the audit")
        settled = {e.args.verifier: (e.args.outcome, e.args.amount) for e in
                   submitter.audit.events.AuditSettled().get_logs(from_block=0, argument_filters={"jobId": job_id})}
        liar, honest = (submitter.w3.eth.account.from_key(ANVIL_KEYS[i]).address for i in (3, 6))
        bond = audit.auditBond().call()
        reward = job_economics(MAX_PRICE, spec.checkpoint_count, spec.checkpoint_count).verifier_reward
        assert settled == {liar: (0, bond), honest: (2, bond + reward + bond)}  # Forfeited; Paid the pot


def test_reproducibleJob_cheatingSolver_isSlashedOnChain_withNoRefereeAtAll(tmp_path):
    """A job on the reproducible profile, submitted with `pinpoint job submit`, which registers its program: no
    referee is running or registered, and the cheater is still slashed. The bisection pinpoints the step, the
    router opens an operator game over it, the two daemons play it (worker/disputes.py) and the chain decides."""
    spec = example_mlp_spec(profile={"ops": "reproducible"})
    step = 13
    roles = [Role("solver", "solver", ANVIL_KEYS[2], options=("--cheat", f"perturb_once@{step}")),
             Role("verifier", "verifier", ANVIL_KEYS[3])]
    with LocalStack(tmp_path, chain_port=free_port(), api_port=free_port(), poll_seconds=0.3) as stack:
        stack.start_all(progress=lambda _: None, roles=roles)
        submitter = Chain(stack.rpc_url, stack.deployment_file, ANVIL_KEYS[1])
        api = CoordinatorClient(stack.api_url)
        env = dict(stack.env, PINPOINT_PRIVATE_KEY=ANVIL_KEYS[1])
        (tmp_path / "job.json").write_text(spec.model_dump_json())
        done = subprocess.run([Path(sys.executable).parent / "pinpoint", "job", "submit", tmp_path / "job.json",
                               "--max-price", "0.05", "--stake", "0.5", "--samples", str(spec.checkpoint_count),
                               "--bidding", "4", "--execution", "600",
                               "--challenge", str(LOCAL_REVIEW_SECONDS), "--json"],
                              check=False, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        posted = json.loads(done.stdout)
        job_id = posted["job_id"]
        assert posted["program"] == "0x" + spec_program(spec)[0].hex()
        ended = (JobState.FINALIZED, JobState.SLASHED)
        job = wait_for(lambda: (j := submitter.job(job_id))["state"] in ended and j, "the job to end", 400)
        assert job["state"] == JobState.SLASHED
        view = wait_for(lambda: (v := api.job(job_id))["state"] == "slashed" and v, "the index")
        [dispute] = view["disputes"]
        assert (dispute["solver_won"], dispute["lo"], dispute["hi"]) == (False, step, step + 1)
        assert submitter.court.functions.requestCount().call() == 0  # no referee was asked, none could have been
        game = submitter.struct("OperatorGame", "game", submitter.dispute(dispute["id"])["requestId"])
        assert game["outcome"] == og.CHALLENGER_WON
