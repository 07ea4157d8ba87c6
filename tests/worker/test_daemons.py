"""The hosts' loops on a real chain: a solver does not work for nothing, a verifier checks every result
but its own, once."""

import hashlib
import os

from pinpoint.chain import Chain, JobState
from pinpoint.economics import job_economics
from pinpoint.localnet import ANVIL_KEYS
from pinpoint.spec import example_gpt_spec, example_mlp_spec, swarm_round_spec
from tests.conftest import advance_time
from worker.daemon import (
    SolverDaemon,
    VerifierDaemon,
    ensure_stake,
    ensure_verifier_stake,
)
from worker.engine.artifacts import set_artifact_source
from worker.pricing import PricePolicy

ETHER = 10**18


class RecordingDispatcher:
    """Stands in for Celery inside this unit test of the daemons: records what would be sent."""

    def __init__(self):
        self.sent = []

    def verify(self, job_id, verifier):
        self.sent.append(("verify", job_id, verifier))


def parties(chain_stack, *names):
    """Fresh funded keys (the session's chain is shared with other tests)."""
    anyone = Chain(chain_stack.rpc_url, chain_stack.deployment_file, ANVIL_KEYS[0])
    chains = []
    for name in names:
        chain = Chain(chain_stack.rpc_url, chain_stack.deployment_file, "0x" + os.urandom(32).hex())
        anyone.w3.provider.make_request("anvil_setBalance", [chain.address, hex(10 * ETHER)])
        chains.append(chain)
    return chains


def terms(chain: Chain, **overrides) -> dict:
    return dict(max_price=ETHER // 10, bidding_seconds=60, execution_seconds=600,
                challenge_seconds=chain.minimum_challenge_seconds()) | overrides


def test_solver_declinesAJobWhoseVerifiersAreNotPaid_untilItIsFunded(chain_stack):
    submitter, solver, verifier = parties(chain_stack, "submitter", "solver", "verifier")
    ensure_verifier_stake(verifier, ETHER)
    daemon = SolverDaemon(solver, client=None, policy=PricePolicy())
    spec = example_mlp_spec()
    unfunded = submitter.post_job("0x" + os.urandom(32).hex(), 2, 2, verifier_reward=0, **terms(submitter))
    assert "reward is not funded" in daemon.unverifiable_reason(unfunded, spec)
    submitter.transact("Audit", "fund", unfunded, value=ETHER // 100)
    advance_time(submitter.w3, 1)
    assert daemon.unverifiable_reason(unfunded, spec) is None  # funded, and a verifier other than us is registered


def test_solver_declinesAJobWhoseIntervalsCannotBeReplayedWithinTheCommitWindow(chain_stack):
    """A verifier replays a sampled interval before it commits; an interval longer than the audit's commit
    window would leave the work unapproved, and the solver unpaid."""
    submitter, solver, verifier = parties(chain_stack, "submitter", "solver", "verifier")
    ensure_verifier_stake(verifier, ETHER)
    daemon = SolverDaemon(solver, client=None, policy=PricePolicy())
    job_id = submitter.post_job("0x" + os.urandom(32).hex(), 2, 2, **terms(submitter))
    advance_time(submitter.w3, 1)
    window = solver.audit.functions.commitWindow().call()
    feasible = example_gpt_spec(model={"layers": 4, "embed_dim": 128, "heads": 4}, checkpoint_interval=4)
    assert daemon.policy.interval_seconds(feasible) <= window
    assert daemon.unverifiable_reason(job_id, feasible) is None
    long_intervals = example_gpt_spec(model={"layers": 4, "embed_dim": 128, "heads": 4}, steps=4096, checkpoint_interval=4096)
    assert daemon.policy.interval_seconds(long_intervals) > window
    assert "longer than the audit's commit window" in daemon.unverifiable_reason(job_id, long_intervals)


class ServesSpec:
    """Stands in for the coordinator client inside this unit test: serves one spec."""

    def __init__(self, spec):
        self.served = spec

    def spec(self, spec_hash):
        return self.served

    def download_artifact(self, digest):
        raise AssertionError("the example spec names no artifact")


class BrokenPolicy(PricePolicy):
    def bid_for(self, spec, max_price):
        raise AttributeError("a spec this policy cannot price")


def test_solver_declinesAJobItCannotEvaluate_andKeepsRunning(chain_stack):
    submitter, solver = parties(chain_stack, "submitter", "solver")
    daemon = SolverDaemon(solver, client=ServesSpec(example_mlp_spec()), policy=BrokenPolicy())
    job_id = submitter.post_job("0x" + os.urandom(32).hex(), 8, 8, **terms(submitter))
    daemon.seen = job_id - 1
    daemon.tick()  # raises nothing: the host goes on with its other jobs
    assert "could not be evaluated" in daemon.declined[job_id] and "cannot price" in daemon.declined[job_id]


def test_solver_acceptsAShareReservedForIt_atItsEscrow_andLeavesOthersShares(chain_stack):
    """A swarm's share of a round is a job reserved for one slot's holder: it accepts at the escrow (the price
    its swarm auction settled), nobody else even looks at it, and an escrow below its own quote is declined
    (anyone may reserve a job for a solver: underpaid work is not forced on it)."""
    submitter, solver, other, verifier = parties(chain_stack, "submitter", "solver", "other", "verifier")
    ensure_verifier_stake(verifier, ETHER)
    ensure_stake(solver, ETHER)
    spec = example_mlp_spec()  # 8 checkpoints, 8 steps apart
    price = ETHER // 100
    daemon = SolverDaemon(solver, client=ServesSpec(spec), policy=PricePolicy(min_price=price // 2))

    def share(holder: Chain, price: int = price) -> int:
        economics = job_economics(price, spec.checkpoint_count)
        receipt = submitter.transact("Market", "postReserved", "0x" + os.urandom(32).hex(), spec.checkpoint_count,
                                     spec.checkpoint_interval, economics.samples, economics.required_stake, 60, 600,
                                     submitter.minimum_challenge_seconds(), holder.address, submitter.address, value=price)
        job_id = submitter.market.events.JobPosted().process_receipt(receipt)[0]["args"]["jobId"]
        submitter.transact("Audit", "fund", job_id, value=economics.verifier_reward)
        return job_id

    theirs, mine, underpaid = share(other), share(solver), share(solver, price // 4)
    advance_time(submitter.w3, 1)
    daemon.consider(theirs)
    assert theirs not in daemon.declined and solver.job(theirs)["state"] == JobState.BIDDING
    daemon.consider(underpaid)
    assert "our price is" in daemon.declined[underpaid] and solver.job(underpaid)["state"] == JobState.BIDDING
    daemon.consider(mine)
    job = solver.job(mine)
    assert (job["state"], job["solver"], job["price"]) == (JobState.RUNNING, solver.address, price)  # the escrow


def test_solver_declinesAShareWhoseRoundCannotStart_insteadOfLosingItsStake(chain_stack):
    """A share of round 1 whose named start and updates are not this model's could never start: accepted, it
    would miss its deadline and cost the stake. The holder builds the start before it accepts."""
    submitter, solver, verifier = parties(chain_stack, "submitter", "solver", "verifier")
    ensure_verifier_stake(verifier, ETHER)
    ensure_stake(solver, ETHER)
    junk = b"not a checkpoint, not an update"
    digest = "0x" + hashlib.sha256(junk).hexdigest()
    spec = swarm_round_spec(example_mlp_spec(), 2, 0, 1, digest, [digest, digest], digest)

    class ServesJunk(ServesSpec):
        def download_artifact(self, wanted):
            return junk  # it hashes right: only building the start shows what it is

    daemon = SolverDaemon(solver, client=ServesJunk(spec), policy=PricePolicy())
    price = ETHER // 100
    economics = job_economics(price, spec.checkpoint_count)
    receipt = submitter.transact("Market", "postReserved", spec.spec_hash(), spec.checkpoint_count,
                                 spec.checkpoint_interval, economics.samples, economics.required_stake, 60, 600,
                                 submitter.minimum_challenge_seconds(), solver.address, submitter.address, value=price)
    job_id = submitter.market.events.JobPosted().process_receipt(receipt)[0]["args"]["jobId"]
    submitter.transact("Audit", "fund", job_id, value=economics.verifier_reward)
    advance_time(submitter.w3, 1)
    set_artifact_source(lambda wanted: junk)
    try:
        daemon.consider(job_id)
    finally:
        set_artifact_source(None)
    assert "its round cannot start" in daemon.declined[job_id]
    assert solver.job(job_id)["state"] == JobState.BIDDING  # not accepted: nothing at stake


def test_verifier_sendsEachSubmittedResultOnce_neverItsOwn(chain_stack):
    submitter, solver = parties(chain_stack, "submitter", "solver")
    solver.transact("Staking", "deposit", value=ETHER)
    dispatcher = RecordingDispatcher()
    as_solver, as_other = VerifierDaemon(solver, dispatcher), VerifierDaemon(submitter, dispatcher)
    as_solver.tick(), as_other.tick()
    job_id = submitter.post_job("0x" + os.urandom(32).hex(), 2, 2, **terms(submitter))
    solver.transact("Market", "bid", job_id, ETHER // 20)
    advance_time(submitter.w3, 61)
    solver.transact("Market", "closeBidding", job_id)
    as_solver.tick(), as_other.tick()
    assert [x for x in dispatcher.sent if x[1] == job_id] == []  # nothing submitted yet
    solver.transact("Market", "submitResult", job_id, os.urandom(32))
    for _ in range(2):
        as_solver.tick(), as_other.tick()
    # Run with the solver's key, a verifier host never checks its own result; any other key sends it once.
    assert [x for x in dispatcher.sent if x[1] == job_id] == [("verify", job_id, submitter.address)]
