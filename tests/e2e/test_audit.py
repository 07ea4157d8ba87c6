"""Accountable verifiers on the real stack: a verifier that approves without replaying is caught.

The honest verifier host replays the sealed sample, commits, reveals and is paid. A lazy verifier (its
own key, run here in the test process) commits to whatever it can see of the sampled checkpoints
without replaying: the coordinator withholds exactly those until the commit window has closed, so its
commitment cannot match the solver's leaves, and it forfeits its bond to the honest verifier.
"""

import pytest

from pinpoint.chain import Chain, JobState
from pinpoint.client import CoordinatorClient
from pinpoint.economics import job_economics
from pinpoint.localnet import ANVIL_KEYS, LOCAL_REVIEW_SECONDS, LocalStack, free_port
from pinpoint.spec import example_mlp_spec
from tests.e2e.waiting import wait_for
from worker.verifier import VerifierRun

ETHER = 10**18
MAX_PRICE = ETHER // 20
FORFEITED, REFUNDED, PAID = range(3)  # IAudit.Outcome
pytestmark = pytest.mark.e2e


def test_lazyVerifier_isCaught_andLosesItsBondToTheHonestOne(tmp_path):
    spec = example_mlp_spec()  # 8 intervals
    with LocalStack(tmp_path, chain_port=free_port(), api_port=free_port(), poll_seconds=0.3) as stack:
        stack.start_all(progress=lambda _: None)
        submitter = Chain(stack.rpc_url, stack.deployment_file, ANVIL_KEYS[1])
        honest = submitter.w3.eth.account.from_key(ANVIL_KEYS[3]).address
        lazy_chain = Chain(stack.rpc_url, stack.deployment_file, ANVIL_KEYS[5])
        # A registered verifier with as much stake as the honest one: with a committee of 3, both are drawn.
        lazy_chain.transact("Audit", "register", value=ETHER)  # counts for results submitted a second later
        api = CoordinatorClient(stack.api_url)
        accepted = api.submit_spec(spec)
        job_id = submitter.post_job(accepted["spec_hash"], spec.checkpoint_count, spec.checkpoint_interval,
                                    max_price=MAX_PRICE, samples=2, bidding_seconds=4, execution_seconds=600,
                                    challenge_seconds=LOCAL_REVIEW_SECONDS)
        wait_for(lambda: submitter.job(job_id)["state"] == JobState.SUBMITTED, "the result", 300)

        lazy = VerifierRun(job_id, lazy_chain, CoordinatorClient.for_chain(stack.api_url, lazy_chain), lazy=True,
                           notes=tmp_path / "lazy-notes")
        claimed = lazy.verify()  # seals or reads the sample, commits without replaying, waits, reveals
        assert claimed.agrees  # it says it checked...

        audit = submitter.audit.functions
        sample = submitter.market.functions.sampledIntervals(job_id).call()
        assert len(sample) == 2
        assert audit.isDrawn(job_id, lazy_chain.address).call()
        _, lazy_revealed, lazy_agreed, _, _ = audit.getEntry(job_id, lazy_chain.address).call()
        assert lazy_revealed and not lazy_agreed  # ...but its hashes are not the solver's

        job = wait_for(lambda: (j := submitter.job(job_id))["state"] == JobState.FINALIZED and j, "finalization", 300)
        assert job["state"] == JobState.FINALIZED  # nobody disputed: the solver was honest
        _, honest_revealed, honest_agreed, _, _ = audit.getEntry(job_id, honest).call()
        assert honest_revealed and honest_agreed

        wait_for(lambda: audit.settled(job_id).call(), "the keeper to settle the audits")
        settled = {e.args.verifier: (e.args.outcome, e.args.amount) for e in
                   submitter.audit.events.AuditSettled().get_logs(from_block=0, argument_filters={"jobId": job_id})}
        bond = audit.auditBond().call()
        reward = job_economics(MAX_PRICE, spec.checkpoint_count, 2).verifier_reward
        assert settled == {lazy_chain.address: (FORFEITED, bond), honest: (PAID, bond + reward + bond)}
