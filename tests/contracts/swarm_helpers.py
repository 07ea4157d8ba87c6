"""Constants and drivers shared by the swarm tests: posting a swarm, funding fresh solvers, and running the
sub-jobs of a round side by side (accept, submit, seal, audit, finalize) on the real market and audit."""

from audit_helpers import COUNT, INTERVAL, TRUTH, Verifier
from dispute_helpers import ProvenJob
from market_helpers import (
    BIDDING_DURATION,
    CHALLENGE_DURATION,
    EXECUTION_DURATION,
    MAX_PRICE,
    REQUIRED_STAKE,
    SAMPLE_COUNT,
    SPEC_HASH,
)

from pinpoint.merkle import checkpoint_tree

REPLICAS, ROUNDS, STANDBYS = 3, 2, 2
ACCEPT_DURATION = 300
MAX_IDLE = 30 * 24 * 3600
ROUND_SPEC = bytes.fromhex("33" * 32)  # the spec of one round's sub-jobs (the engine names each round's own)

# ISwarm.SwarmState values.
S_NONE, S_BIDDING, S_RUNNING, S_COMPLETED, S_CANCELLED, S_ENDED = range(6)


def terms(**overrides) -> tuple:
    """ISwarm.Terms, in its field order: sub-jobs of 4 checkpoints 8 steps apart (audit_helpers' TRUTH)."""
    fields = {
        "checkpointCount": COUNT,
        "checkpointInterval": INTERVAL,
        "sampleCount": SAMPLE_COUNT,
        "maxPricePerRound": MAX_PRICE,
        "requiredStake": REQUIRED_STAKE,
        "biddingDuration": BIDDING_DURATION,
        "acceptDuration": ACCEPT_DURATION,
        "executionDuration": EXECUTION_DURATION,
        "challengeDuration": CHALLENGE_DURATION,
    }
    unknown = set(overrides) - set(fields)
    assert not unknown, unknown
    fields.update(overrides)
    return tuple(fields.values())


def post_swarm(swarm, submitter, replicas=REPLICAS, rounds=ROUNDS, standbys=STANDBYS, spec=SPEC_HASH, **overrides):
    """Posts a swarm; `overrides` are Terms fields. Returns the receipt."""
    return swarm.post(spec, replicas, rounds, standbys, terms(**overrides), sender=submitter)


def after(chain, deadline: int) -> None:
    """The next block lands just past `deadline` (or in the latest block's second if that is later)."""
    chain.pending_timestamp = max(deadline + 1, chain.blocks.head.timestamp)


def new_solvers(accounts, staking, count: int, stake: int = REQUIRED_STAKE) -> list:
    """`count` fresh accounts (beyond the ten named ones; `accounts` is ape's test accounts), funded, each with
    `stake` free in staking."""
    solvers = []
    for _ in range(count):
        account = accounts.generate_test_account()
        account.balance = 10 * stake + 10**20
        staking.deposit(sender=account, value=stake)
        solvers.append(account)
    return solvers


def awarded(chain, swarm, submitter, bidders, prices, **post_args) -> int:
    """A swarm posted by `submitter`, bid for by `bidders` at `prices` in order, bidding closed (Running)."""
    swarm_id = post_swarm(swarm, submitter, **post_args).return_value
    for bidder, price in zip(bidders, prices, strict=True):
        swarm.bid(swarm_id, price, sender=bidder)
    after(chain, swarm.getSwarm(swarm_id).biddingDeadline)
    swarm.closeBidding(swarm_id, sender=submitter)
    return swarm_id


def post_round(swarm, submitter, swarm_id, round_: int, slots, extra: int = 0) -> list[int]:
    """The submitter posts `slots` of `round_`, each paying its holder's price plus `extra` for the audit."""
    _, prices = swarm.slots(swarm_id)
    return [
        swarm.postReplica(swarm_id, round_, slot, ROUND_SPEC, sender=submitter, value=prices[slot] + extra).return_value
        for slot in slots
    ]


def accept(market, job_id: int, solver):
    """The reserved solver takes its sub-job at the full escrow (the slot's price)."""
    return market.bid(job_id, market.getJob(job_id).maxPrice, sender=solver)


def submit(market, job_id: int, solver, claimed=TRUTH) -> ProvenJob:
    """The solver of a Running sub-job commits to `claimed` (4 checkpoints 8 steps apart)."""
    job = ProvenJob(job_id, COUNT, INTERVAL, claimed)
    job.tree = checkpoint_tree(job_id, [claimed[i * INTERVAL] for i in range(COUNT + 1)], INTERVAL)
    market.submitResult(job_id, job.tree.root, sender=solver)
    return job


def seal_all(chain, market, jobs: list[ProvenJob], keeper) -> None:
    """Seals every submitted job (their seed blocks all mined by one more block)."""
    chain.mine(1)
    for job in jobs:
        market.sealSample(job.job_id, sender=keeper)


def verify_and_finalize(chain, market, audit, jobs: list[ProvenJob], verifier, keeper) -> None:
    """Side by side, for sealed honest jobs: `verifier` (drawn: every registered verifier is) commits the end
    states of each job's sample, reveals them with the solver's proofs once every commit window closed, and
    every job is finalized (Finalized) after its challenge deadline."""
    voters = []
    for job in jobs:
        sample = list(market.sampledIntervals(job.job_id))
        voter = Verifier(verifier, [job.claimed[(i + 1) * INTERVAL] for i in sample])
        voter.commit(audit, job.job_id)
        voters.append((job, sample, voter))
    after(chain, max(audit.commitDeadline(job.job_id) for job in jobs))
    for job, sample, voter in voters:
        voter.reveal(audit, job.job_id, [job.tree.get_proof(i + 1) for i in sample])
    after(chain, max(market.getJob(job.job_id).challengeDeadline for job in jobs))
    for job in jobs:
        market.finalize(job.job_id, sender=keeper)


def run_honest(chain, market, audit, job_ids, solvers, verifier, keeper) -> None:
    """Each sub-job accepted by its solver, trained honestly, verified and finalized, all side by side."""
    for job_id, solver in zip(job_ids, solvers, strict=True):
        accept(market, job_id, solver)
    run_accepted(chain, market, audit, job_ids, solvers, verifier, keeper)


def run_accepted(chain, market, audit, job_ids, solvers, verifier, keeper) -> None:
    """`run_honest` for sub-jobs their solvers already accepted."""
    proven = [submit(market, job_id, solver) for job_id, solver in zip(job_ids, solvers, strict=True)]
    seal_all(chain, market, proven, keeper)
    verify_and_finalize(chain, market, audit, proven, verifier, keeper)


def assert_books(market, swarm, audit=None) -> None:
    """The market holds exactly its escrow and credits; the swarm holds nothing, ever."""
    assert market.balance == market.totalEscrow() + market.totalCredits()
    assert swarm.balance == 0
    if audit is not None:
        assert audit.balance == audit.totalHeld() + audit.totalCredits()

