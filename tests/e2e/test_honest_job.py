"""One tiny training job through the real stack: Anvil, Valkey, the coordinator, Celery worker processes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pinpoint.chain import Chain, JobState
from pinpoint.client import CoordinatorClient
from pinpoint.economics import job_economics
from pinpoint.localnet import ANVIL_KEYS, LocalStack, free_port
from pinpoint.merkle import checkpoint_tree
from pinpoint.spec import example_mlp_spec, parse_spec
from tests.e2e.waiting import wait_for

ETHER = 10**18
FORFEITED, REFUNDED, PAID = range(3)  # IAudit.Outcome
pytestmark = pytest.mark.e2e


def test_honestJob_isTrainedVerifiedAndPaid(tmp_path):
    spec = example_mlp_spec()
    max_price, required_stake = ETHER // 20, ETHER // 2
    with LocalStack(tmp_path, chain_port=free_port(), api_port=free_port(), poll_seconds=0.3) as stack:
        stack.start_all(progress=lambda _: None)
        chain = Chain(stack.rpc_url, stack.deployment_file)
        submitter = Chain(stack.rpc_url, stack.deployment_file, ANVIL_KEYS[1])
        solver = chain.w3.eth.account.from_key(ANVIL_KEYS[2]).address
        api = CoordinatorClient(stack.api_url)

        # The submitter's path, through its command line: an example spec, then submit.
        cli = [str(Path(sys.executable).parent / "pinpoint-job"), "--key", ANVIL_KEYS[1]]
        spec_file = tmp_path / "job.json"
        spec_file.write_text(subprocess.run(cli + ["example", "mlp"], check=True, capture_output=True, text=True).stdout)
        assert parse_spec(spec_file.read_bytes()) == spec
        submitted = subprocess.run(cli + ["submit", str(spec_file), "--max-price", "0.05", "--stake", "0.5",
                                          "--bidding", "4", "--execution", "600", "--challenge", "20"],
                                   env=stack.env, capture_output=True, text=True)
        assert submitted.returncode == 0, submitted.stderr
        job_id = json.loads(submitted.stdout)["job_id"]

        job = wait_for(lambda: (j := chain.job(job_id))["state"] == JobState.FINALIZED and j, "finalization",
                       timeout=300)
        view = wait_for(lambda: (v := api.job(job_id))["state"] == "finalized" and v["verdicts"] and v, "the index")

        # The solver won, committed a root over every checkpoint, and the verifier's replay agreed.
        assert job["solver"] == solver and job["checkpointsDone"] == spec.checkpoint_count
        hashes = [bytes.fromhex(c["state_hash"][2:]) for c in view["checkpoints"]]
        assert [c["index"] for c in view["checkpoints"]] == list(range(spec.checkpoint_count + 1))
        assert checkpoint_tree(job_id, hashes, spec.checkpoint_interval).root == job["finalRoot"] == job["progressRoot"]
        assert [v["agrees"] for v in view["verdicts"]] == [True]

        # The verifier's audit: committed before the solver's hashes were shown, revealed them, agreed,
        # and once the reveal window was over it got its bond back plus the reward the submitter funded.
        verifier = chain.w3.eth.account.from_key(ANVIL_KEYS[3]).address
        audit = chain.audit.functions
        commitment, revealed, agreed, _, _ = audit.getEntry(job_id, verifier).call()
        assert int.from_bytes(commitment, "big") and revealed and agreed and audit.agreements(job_id).call() == 1
        wait_for(lambda: audit.settled(job_id).call(), "the keeper to settle the audit")
        settled = chain.audit.events.AuditSettled().get_logs(from_block=0, argument_filters={"jobId": job_id})
        reward = job_economics(max_price, spec.checkpoint_count).verifier_reward
        assert [(e.args.verifier, e.args.outcome, e.args.amount) for e in settled] == [
            (verifier, PAID, audit.auditBond().call() + reward)]
        assert view["final_loss"] < view["checkpoints"][1]["loss"]  # it learned something

        # Payouts: the solver earns its bid, the submitter gets the rest of the escrow, the stake is free again.
        assert int(view["solver_payout"]) == job["price"] > 0
        assert int(view["submitter_refund"]) == max_price - job["price"]
        staking = chain.staking.functions
        assert staking.lockedStake(solver).call() == 0 and staking.freeStake(solver).call() >= required_stake
        assert chain.market.functions.credits(submitter.address).call() == max_price - job["price"]
        status = subprocess.run(cli + ["status", str(job_id)], env=stack.env, capture_output=True, text=True, check=True)
        assert "finalized" in status.stdout and "agrees" in status.stdout
        claimed = subprocess.run(cli + ["claim"], env=stack.env, capture_output=True, text=True, check=True)
        assert claimed.stdout.startswith("claimed")
        assert chain.market.functions.credits(submitter.address).call() == 0
        wait_for(lambda: chain.market.functions.credits(solver).call() == 0, "the solver to claim its pay")
