"""The defaults a user gets are safe together: contracts deployed with `ape run deploy`'s own defaults (hour
long audit windows, day long dispute clocks, an hour before a new verifier counts) and a job submitted with
`pinpoint-job submit`'s defaults. A solver that cheats once, with every interval sampled, is caught and
slashed; it used to be paid, because the CLI's challenge window ended before the audit's commit window.

The chain's clock is moved forward (anvil's evm_increaseTime) where the defaults would make the test wait
an hour; every process still reads time from the chain as it would on a real one.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pinpoint.chain import Chain, JobState
from pinpoint.localnet import ANVIL_KEYS, LocalStack, free_port
from pinpoint.spec import example_mlp_spec
from tests.conftest import advance_time
from tests.e2e.waiting import wait_for

pytestmark = pytest.mark.e2e


def test_defaultWindows_catchACheatThatEveryIntervalSamples(tmp_path):
    spec = example_mlp_spec()
    with LocalStack(tmp_path, chain_port=free_port(), api_port=free_port(), poll_seconds=0.3) as stack:
        stack.start_all(("--cheat", "perturb_once@13"), progress=lambda _: None, deploy_options={})
        chain = Chain(stack.rpc_url, stack.deployment_file)
        audit = chain.audit.functions
        assert audit.commitWindow().call() == audit.revealWindow().call() == 3600  # the script's defaults
        advance_time(chain.w3, audit.verifierDelay().call() + 1)  # the verifier's stake counts from now on

        cli = [str(Path(sys.executable).parent / "pinpoint-job"), "--key", ANVIL_KEYS[1]]
        spec_file = tmp_path / "job.json"
        spec_file.write_text(json.dumps(spec.model_dump(mode="json")))
        submitted = subprocess.run(cli + ["submit", str(spec_file), "--max-price", "0.05", "--samples", "8", "--json"],
                                   env=stack.env, capture_output=True, text=True)
        assert submitted.returncode == 0, submitted.stderr
        job_id = json.loads(submitted.stdout)["job_id"]
        job = chain.job(job_id)
        assert job["challengeDuration"] == chain.minimum_challenge_seconds() == 7200  # the CLI asked the chain

        wait_for(lambda: int(chain.job(job_id)["solver"], 16), "a bid")
        advance_time(chain.w3, 61)  # the CLI's default bidding window
        wait_for(lambda: chain.job(job_id)["sampleSealedAt"], "the result and its sealed sample", 300)
        wait_for(lambda: audit.verifiersOf(job_id).call(), "the verifier's audit commitment", 120)
        advance_time(chain.w3, audit.commitWindow().call() + 1)  # disclosure: reveals and challenges open

        referee = chain.w3.eth.account.from_key(ANVIL_KEYS[4]).address
        job = wait_for(lambda: slashed_or_court_clock_moved(chain, job_id, referee), "the slash", 300)
        assert chain.market.functions.credits(job["submitter"]).call() == job["maxPrice"] + job["requiredStake"] // 2
        advance_time(chain.w3, audit.revealWindow().call() + 1)
        wait_for(lambda: audit.settled(job_id).call(), "the keeper to settle the audit")
        verifier = chain.w3.eth.account.from_key(ANVIL_KEYS[3]).address
        [settled] = chain.audit.events.AuditSettled().get_logs(from_block=0, argument_filters={"jobId": job_id})
        assert (settled.args.verifier, settled.args.outcome) == (verifier, 2)  # Paid: its catch stood


def slashed_or_court_clock_moved(chain: Chain, job_id: int, referee: str):
    """The job once slashed; meanwhile, when the court waits on an hour-long window (the script's default
    answer window) that the referee has already done its part in, or on the appeal window of a proposed
    verdict, the chain's clock is moved past it."""
    job = chain.job(job_id)
    if job["state"] == JobState.SLASHED:
        return job
    court = chain.court.functions
    request_id = court.requestCount().call()
    if not request_id:
        return None
    request = chain.struct("RefereeCourt", "getRequest", request_id)
    if request["done"] or int(request["seed"], 16) == 0:
        return None
    now = chain.w3.eth.get_block("latest")["timestamp"]
    vote = chain.struct("RefereeCourt", "getVote", request_id, request["round"], referee)
    if now <= request["commitDeadline"] and int(vote["commitment"], 16):
        advance_time(chain.w3, request["commitDeadline"] - now + 1)
    elif request["commitDeadline"] < now <= request["revealDeadline"] and vote["revealed"]:
        advance_time(chain.w3, request["revealDeadline"] - now + 1)
    elif request["hasProposal"] and now <= request["appealDeadline"]:  # nobody appeals an honest verdict
        advance_time(chain.w3, request["appealDeadline"] - now + 1)
    return None
