"""One job through the real stack (Anvil, Valkey, the coordinator, Celery worker processes), as a user runs it
with `pinpoint-job`: their own data (real text nobody here wrote: the standard library's sources) and their own
starting weights, uploaded; a GPT fine-tuned on them, only the parameters they name; trained, verified, paid;
the final checkpoint fetched and proven against the chain. Every process logs JSON lines, and the hosts'
Prometheus metrics count what they did."""

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import torch
from prometheus_client.parser import text_string_to_metric_families
from safetensors.torch import load_file, save_file

from pinpoint.chain import Chain, JobState
from pinpoint.client import CoordinatorClient
from pinpoint.economics import job_economics
from pinpoint.localnet import ANVIL_KEYS, LOCAL_REVIEW_SECONDS, LocalStack, free_port
from pinpoint.merkle import checkpoint_tree
from pinpoint.spec import parse_spec
from tests.e2e.waiting import wait_for
from worker.engine.models import build_model

ETHER = 10**18
FORFEITED, REFUNDED, PAID = range(3)  # IAudit.Outcome
TRAINABLE = ["blocks.*", "ln_f.*"]  # everything but the embeddings
pytestmark = pytest.mark.e2e


def scrape(url: str) -> dict[tuple[str, frozenset], float]:
    text = httpx.get(url, timeout=10).raise_for_status().text
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_honestJob_isTrainedVerifiedAndPaid(tmp_path):
    max_price, required_stake = ETHER // 20, ETHER // 2
    solver_metrics, verifier_metrics = free_port(), free_port()
    with LocalStack(tmp_path, chain_port=free_port(), api_port=free_port(), poll_seconds=0.3) as stack:
        stack.env["PINPOINT_LOG_FORMAT"] = "json"
        stack.start_all(("--metrics-port", str(solver_metrics)), ("--metrics-port", str(verifier_metrics)),
                        progress=lambda _: None)
        chain = Chain(stack.rpc_url, stack.deployment_file)
        submitter = Chain(stack.rpc_url, stack.deployment_file, ANVIL_KEYS[1])
        solver = chain.w3.eth.account.from_key(ANVIL_KEYS[2]).address
        api = CoordinatorClient(stack.api_url)
        # The submitter's key lives in an encrypted key file, used by name: never in argv.
        env = dict(stack.env, PINPOINT_KEYSTORE_DIR=str(tmp_path / "keys"), PINPOINT_ACCOUNT_PASSWORD="pw",
                   PINPOINT_ACCOUNT="alice")
        bin_dir = Path(sys.executable).parent
        imported = subprocess.run([bin_dir / "pinpoint", "account", "import", "alice"], input=ANVIL_KEYS[1] + "\n",
                                  check=False, env=env, capture_output=True, text=True)
        assert imported.returncode == 0 and submitter.address in imported.stdout, imported.stderr
        cli = [str(bin_dir / "pinpoint"), "job"]

        def run(*args, expect: int = 0) -> str:
            done = subprocess.run(cli + [str(a) for a in args], check=False, env=env, capture_output=True, text=True,
                                  timeout=600)
            assert done.returncode == expect, done.stderr
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
                        "--execution", "600", "--challenge", LOCAL_REVIEW_SECONDS, "--json")
        posted = json.loads(submitted)
        job_id = posted["job_id"]
        reward = job_economics(max_price, spec.checkpoint_count).verifier_reward  # what the submitter also funds
        assert int(posted["total_wei"]) == max_price + reward and int(posted["verifier_reward_wei"]) == reward > 0
        assert [j["id"] for j in json.loads(run("list", "--json"))] == [job_id]

        # Watched live until it ends: one snapshot per change, from bidding to finalized.
        snapshots = [json.loads(line) for line in run("watch", job_id, "--json", "--interval", "0.5").splitlines()]
        states = [s["job"]["state"] for s in snapshots]
        assert states[-1] == "finalized" and "running" in states, states
        progress = [s["job"]["checkpoints_done"] for s in snapshots]
        assert progress == sorted(progress) and progress[-1] == spec.checkpoint_count
        assert snapshots[-1]["audits"] and snapshots[-1]["audits"][0]["agreed"] is True

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
        assert "finalized" in status and "agrees" in status and "solver paid 0.0" in status
        assert json.loads(run("status", job_id, "--json"))["chain"]["final_root"] == job["finalRoot"]
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

        # The hosts' metrics (daemon and Celery worker counted together): every step timed, every checkpoint
        # published and committed, the job executed, one bid; the verifier's audit and verdict.
        solved = scrape(f"http://127.0.0.1:{solver_metrics}/metrics")
        assert solved[("pinpoint_worker_training_step_seconds_count", frozenset())] == spec.steps
        assert solved[("pinpoint_worker_checkpoint_upload_seconds_count", frozenset())] == spec.checkpoint_count + 1
        assert solved[("pinpoint_worker_checkpoints_committed_total", frozenset())] == spec.checkpoint_count
        assert solved[("pinpoint_worker_jobs_executed_total", frozenset({("kind", "training")}))] == 1
        assert solved[("pinpoint_worker_bids_total", frozenset())] == 1
        checked = scrape(f"http://127.0.0.1:{verifier_metrics}/metrics")
        assert checked[("pinpoint_worker_verdicts_total", frozenset({("verdict", "agree")}))] == 1
        assert checked[("pinpoint_worker_audits_committed_total", frozenset())] == 1
        coordinator = scrape(f"{stack.api_url}/metrics")
        assert coordinator[("pinpoint_jobs", frozenset({("state", "finalized")}))] == 1

        # One JSON object per line from every Pinpoint process; the solver's events carry their fields,
        # amounts in ETH.
        logs = {name: [json.loads(line) for line in (stack.logs / f"{name}.log").read_text().splitlines()]
                for name in ("coordinator", "indexer", "solver", "verifier", "referee")}
        bid = next(event for event in logs["solver"] if event.get("event") == "bid")
        assert bid["job_id"] == job_id and bid["price"].endswith(" ETH") and bid["service"].startswith("solver-0x")
        checkpoints = [event for event in logs["solver"] if event.get("event") == "checkpoint"]
        assert [event["index"] for event in checkpoints] == list(range(spec.checkpoint_count + 1))
        assert {event["service"] for event in checkpoints} == {bid["service"]}  # its Celery worker's lines too
        assert any(event.get("event") == "dispatched" and event["job_id"] == job_id for event in logs["indexer"])
