"""Infrastructure faults on the real stack, one honest job through all of them: the Redis-protocol server
killed (-9) before the award is dispatched and again mid-job, the coordinator's API killed mid-job, its
indexer killed mid-job, and its database deleted mid-job and rebuilt from the chain (re-indexed from the
deployment block) with the solver re-reporting what it lost. The solver worker's own kill is
test_solver_restart.py.

After each fault the test waits for the job to move again and reports the stall (printed, and written to
<home>/logs/faults.log). The job must end finalized with exact payouts, nobody slashed, disputed or
challenged, the verifier's audit agreeing and paid.
"""

import os
import signal
import time

import httpx
import pytest

from pinpoint.chain import Chain, JobState
from pinpoint.client import CoordinatorClient, CoordinatorError
from pinpoint.economics import job_economics
from pinpoint.localnet import ANVIL_KEYS, LOCAL_REVIEW_SECONDS, LocalStack, free_port
from pinpoint.merkle import checkpoint_tree
from pinpoint.spec import example_mlp_spec
from tests.e2e.waiting import wait_for

ETHER = 10**18
PAID = 2  # IAudit.Outcome
pytestmark = pytest.mark.e2e


def kill(stack: LocalStack, name: str) -> None:
    """kill -9 the process (group) `name`, no warning."""
    process = dict(stack.processes)[name]
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def test_honestJob_survivesBrokerApiIndexerAndDatabaseFaults(tmp_path, capsys):
    spec = example_mlp_spec(steps=1152, checkpoint_interval=24)  # 48 checkpoints, about a second each here
    max_price = ETHER // 20
    stalls: dict[str, float] = {}
    with LocalStack(tmp_path, chain_port=free_port(), api_port=free_port(), poll_seconds=0.3) as stack:
        stack.start_all(progress=lambda _: None)
        chain = Chain(stack.rpc_url, stack.deployment_file)
        submitter = Chain(stack.rpc_url, stack.deployment_file, ANVIL_KEYS[1])
        solver = chain.w3.eth.account.from_key(ANVIL_KEYS[2]).address
        verifier = chain.w3.eth.account.from_key(ANVIL_KEYS[3]).address
        api = CoordinatorClient(stack.api_url)
        accepted = api.submit_spec(spec)

        def done() -> int:
            return chain.job(job_id)["checkpointsDone"]

        def indexed(predicate):
            try:
                return predicate(api.job(job_id))
            except (CoordinatorError, httpx.HTTPError):  # not indexed (again) yet, or the API restarting
                return False

        def moves_on(fault: str, since: float, beyond: int) -> None:
            wait_for(lambda: done() > beyond, f"progress after: {fault}", 120)
            stalls[fault] = time.monotonic() - since

        # (b1) The broker dies before the award is dispatched; the award is indexed while it is down. The
        # outbox keeps the execute task until the broker is back (nobody restarts a worker).
        job_id = submitter.post_job(accepted["spec_hash"], spec.checkpoint_count, spec.checkpoint_interval,
                                    max_price=max_price, bidding_seconds=4, execution_seconds=900,
                                    challenge_seconds=LOCAL_REVIEW_SECONDS)
        kill(stack, "valkey")
        wait_for(lambda: indexed(lambda v: v["state"] == "running"), "the award, indexed while the broker is down", 60)
        killed_at = time.monotonic()
        time.sleep(2)
        assert done() == 0, "the job started without a broker"
        stack.start_redis(name="valkey-2")
        moves_on("broker killed before dispatch, restarted 2 s later", killed_at, 0)

        # (c) The API dies mid-job; the solver's reports fail and its task retries.
        wait_for(lambda: done() >= 6, "some progress")
        killed_at, at = time.monotonic(), done()
        kill(stack, "coordinator")
        time.sleep(2)
        stack.start_coordinator(name="coordinator-2")
        moves_on("API killed mid-job, restarted 2 s later", killed_at, at + 1)

        # (d) The indexer dies mid-job: the chain moves on, the index follows once it is back.
        killed_at = time.monotonic()
        kill(stack, "indexer")
        time.sleep(2)
        stack.start_indexer(name="indexer-2")
        wait_for(lambda: indexed(lambda v: v["checkpoints_done"] >= done() - 1 > 0), "the index to catch up", 60)
        stalls["indexer killed mid-job, restarted 2 s later (index caught up)"] = time.monotonic() - killed_at

        # (b2) The broker dies mid-job: the running task goes on; the execute still due is sent again.
        killed_at, at = time.monotonic(), done()
        kill(stack, "valkey-2")
        time.sleep(2)
        stack.start_redis(name="valkey-3")
        moves_on("broker killed mid-job, restarted 2 s later", killed_at, at + 1)
        # The running task needs no broker to go on; the indexer's resend comes on its next poll.
        wait_for(lambda: "the broker restarted" in (stack.logs / "indexer-2.log").read_text(),
                 "the indexer to send the execute again", 60)

        # (e) The database is deleted mid-job: API and indexer stopped, the files gone, both restarted. The
        # index is rebuilt from the chain; the solver re-reports the spec and the checkpoints it lost.
        wait_for(lambda: done() >= 20, "more progress")
        killed_at = time.monotonic()
        kill(stack, "coordinator-2")
        kill(stack, "indexer-2")
        for name in ("coordinator.db", "coordinator.db-wal", "coordinator.db-shm"):
            (stack.home / name).unlink(missing_ok=True)
        stack.start_coordinator(name="coordinator-3")
        stack.start_indexer(name="indexer-3")
        wait_for(lambda: indexed(lambda v: len(v["checkpoints"]) > done() >= 21), "the lost reports, re-reported", 120)
        stalls["database deleted mid-job, rebuilt (every committed checkpoint reported again)"] = time.monotonic() - killed_at
        interrupted_at = done()
        assert interrupted_at < spec.checkpoint_count, "the job finished before the last fault"

        job = wait_for(lambda: (j := chain.job(job_id))["state"] == JobState.FINALIZED and j, "finalization", 300)
        view = wait_for(lambda: (v := api.job(job_id))["state"] == "finalized" and v["verdicts"] and v, "the index")

        report = "\n".join(f"  {fault}: stalled {seconds:.1f} s" for fault, seconds in stalls.items())
        (stack.logs / "faults.log").write_text(report + "\n")
        with capsys.disabled():  # shown in every run, not only a failing one
            print(f"\njob {job_id} finalized through the faults:\n{report}")

        # Finalized, every checkpoint reported once, the audit agreed and was paid; nobody slashed or disputed.
        hashes = [bytes.fromhex(c["state_hash"][2:]) for c in view["checkpoints"]]
        assert [c["index"] for c in view["checkpoints"]] == list(range(spec.checkpoint_count + 1))
        assert checkpoint_tree(job_id, hashes, spec.checkpoint_interval).root == job["finalRoot"]
        assert [v["agrees"] for v in view["verdicts"]] == [True] and view["disputes"] == []
        assert job["solver"] == solver and view["slashed"] is None
        assert chain.market.events.SolverSlashed().get_logs(from_block=0) == []
        assert chain.game.events.AvailabilityChallenged().get_logs(from_block=0) == []
        assert chain.game.events.DisputeOpened().get_logs(from_block=0) == []
        audit = chain.audit.functions
        wait_for(lambda: audit.settled(job_id).call(), "the keeper to settle the audit")
        settled = chain.audit.events.AuditSettled().get_logs(from_block=0, argument_filters={"jobId": job_id})
        reward = job_economics(max_price, spec.checkpoint_count).verifier_reward
        assert [(e.args.verifier, e.args.outcome, e.args.amount) for e in settled] == [
            (verifier, PAID, audit.auditBond().call() + reward)]
        # Exact payouts: the solver its bid, the submitter the rest; the stake is free again.
        assert int(view["solver_payout"]) == job["price"] > 0
        assert int(view["submitter_refund"]) == max_price - job["price"]
        assert chain.staking.functions.lockedStake(solver).call() == 0
        logs = {name: (stack.logs / f"{name}.log").read_text() for name in ("indexer", "solver")}
        assert "execute sent" in logs["indexer"]  # the outbox, once the broker was back
        assert "re-reported" in logs["solver"]
