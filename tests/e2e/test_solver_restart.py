"""A solver host that disappears mid-job (killed, no warning) comes back and finishes the job from its
last committed checkpoint instead of starting over."""

import os
import signal

import pytest

from pinpoint.chain import Chain, JobState
from pinpoint.client import CoordinatorClient
from pinpoint.localnet import ANVIL_KEYS, LOCAL_REVIEW_SECONDS, LocalStack, free_port
from pinpoint.merkle import checkpoint_tree
from pinpoint.spec import example_mlp_spec
from tests.e2e.waiting import wait_for

ETHER = 10**18
pytestmark = pytest.mark.e2e


def test_killedSolver_resumesFromItsLastCommittedCheckpoint(tmp_path):
    spec = example_mlp_spec(steps=480, checkpoint_interval=24)  # 20 checkpoints: time to pull the plug
    with LocalStack(tmp_path, chain_port=free_port(), api_port=free_port(), poll_seconds=0.3) as stack:
        stack.start_all(progress=lambda _: None)
        chain = Chain(stack.rpc_url, stack.deployment_file)
        submitter = Chain(stack.rpc_url, stack.deployment_file, ANVIL_KEYS[1])
        api = CoordinatorClient(stack.api_url)
        accepted = api.submit_spec(spec)
        job_id = submitter.post_job(accepted["spec_hash"], spec.checkpoint_count, spec.checkpoint_interval,
                                    max_price=ETHER // 20, bidding_seconds=4,
                                    execution_seconds=900, challenge_seconds=LOCAL_REVIEW_SECONDS)

        wait_for(lambda: chain.job(job_id)["checkpointsDone"] >= 3, "some committed progress")
        solver = dict(stack.processes)["solver"]
        os.killpg(solver.pid, signal.SIGKILL)  # the host and its Celery worker vanish mid-interval
        solver.wait()
        interrupted_at = chain.job(job_id)["checkpointsDone"]
        assert interrupted_at < spec.checkpoint_count, "the job finished before the solver was killed"

        stack.start_worker("solver", ANVIL_KEYS[2], name="solver-restarted")
        job = wait_for(lambda: (j := chain.job(job_id))["state"] == JobState.FINALIZED and j, "finalization", 300)
        view = wait_for(lambda: (v := api.job(job_id))["state"] == "finalized" and v["verdicts"] and v, "the index")

        hashes = [bytes.fromhex(c["state_hash"][2:]) for c in view["checkpoints"]]
        assert [c["index"] for c in view["checkpoints"]] == list(range(spec.checkpoint_count + 1))
        assert checkpoint_tree(job_id, hashes, spec.checkpoint_interval).root == job["finalRoot"]
        assert [v["agrees"] for v in view["verdicts"]] == [True]
        restarted_log = (stack.logs / "solver-restarted.log").read_text()
        assert "resuming from committed checkpoint" in restarted_log
        assert f"checkpoint 1/{spec.checkpoint_count} " not in restarted_log  # nothing was trained twice from scratch
