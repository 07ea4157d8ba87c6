"""One job through the real stack (Anvil, Valkey, the coordinator, Celery worker processes), as a user runs it
with `pinpoint-job`: their own data (real text nobody here wrote: the standard library's sources) and their own
starting weights, uploaded; a GPT fine-tuned on them, only the parameters they name; trained, verified, paid;
the final checkpoint fetched and proven against the chain."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from pinpoint.chain import Chain, JobState
from pinpoint.client import CoordinatorClient
from pinpoint.economics import job_economics
from pinpoint.localnet import ANVIL_KEYS, LocalStack, free_port
from pinpoint.merkle import checkpoint_tree
from pinpoint.spec import parse_spec
from tests.e2e.waiting import wait_for
from worker.engine.models import build_model

ETHER = 10**18
FORFEITED, REFUNDED, PAID = range(3)  # IAudit.Outcome
TRAINABLE = ["blocks.*", "ln_f.*"]  # everything but the embeddings
pytestmark = pytest.mark.e2e


def test_honestJob_isTrainedVerifiedAndPaid(tmp_path):
    max_price, required_stake = ETHER // 20, ETHER // 2
    with LocalStack(tmp_path, chain_port=free_port(), api_port=free_port(), poll_seconds=0.3) as stack:
        stack.start_all(progress=lambda _: None)
        chain = Chain(stack.rpc_url, stack.deployment_file)
        submitter = Chain(stack.rpc_url, stack.deployment_file, ANVIL_KEYS[1])
        solver = chain.w3.eth.account.from_key(ANVIL_KEYS[2]).address
        api = CoordinatorClient(stack.api_url)
        cli = [str(Path(sys.executable).parent / "pinpoint-job"), "--key", ANVIL_KEYS[1]]

        def run(*args) -> str:
            done = subprocess.run(cli + [str(a) for a in args], check=False, env=stack.env, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
            return done.stdout

        # Their data: the standard library's sources as byte-level tokens, uploaded.
        dataset = json.loads(run("dataset", "stdlib", "-o", tmp_path / "data.safetensors", "--max-bytes", 1 << 16))
        assert run("upload", tmp_path / "data.safetensors").strip() == dataset["artifact"]
        # Their weights: a GPT's plain state dict, saved by torch, turned into a weights artifact and uploaded.
        spec = json.loads(run("example", "gpt", "--trainable", TRAINABLE[0], "--trainable", TRAINABLE[1]))
        spec.update(dataset=dataset["dataset"], model=spec["model"] | {"vocab_size": 256})
        (tmp_path / "job.json").write_text(json.dumps(spec))
        torch.manual_seed(7)
        save_file(build_model(parse_spec(json.dumps(spec)).model).state_dict(), tmp_path / "mine.safetensors")
        weights = json.loads(run("weights", tmp_path / "mine.safetensors", "-o", tmp_path / "init.safetensors",
                                 "--spec", tmp_path / "job.json"))
        assert run("upload", tmp_path / "init.safetensors").strip() == weights["artifact"]
        spec["init"] = weights["init"]
        (tmp_path / "job.json").write_text(json.dumps(spec))
        spec = parse_spec(json.dumps(spec))
        submitted = run("submit", tmp_path / "job.json", "--max-price", "0.05", "--stake", "0.5", "--bidding", "4",
                        "--execution", "600", "--challenge", "20")
        job_id = json.loads(submitted)["job_id"]

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
        status = run("status", job_id)
        assert "finalized" in status and "agrees" in status
        assert run("claim").startswith("claimed")
        assert chain.market.functions.credits(submitter.address).call() == 0
        wait_for(lambda: chain.market.functions.credits(solver).call() == 0, "the solver to claim its pay")

        # The result: the final checkpoint, proven against the final root on chain; the embeddings are the
        # uploaded ones, the rest trained.
        result = json.loads(run("result", job_id, "-o", tmp_path / "final.safetensors", "--weights-only"))
        assert result["state_hash"] == view["checkpoints"][-1]["state_hash"] and result["final_root"] == job["finalRoot"]
        final, mine = load_file(tmp_path / "final.safetensors"), load_file(tmp_path / "mine.safetensors")
        assert set(final) == {f"model.{name}" for name in mine}
        for name, start in mine.items():
            assert torch.equal(final[f"model.{name}"], start) == name.endswith("embedding.weight"), name
