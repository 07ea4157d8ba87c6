"""Market: reserved jobs (`postReserved`): only the reserved solver may take one, its bid awards it at once, a job
it never accepts is cancelled, and the beneficiary (not the caller who paid) is refunded and compensated.
Everything after the award is an ordinary job; postJob is unchanged."""

import ape
import pytest
from audit_helpers import COUNT, INTERVAL, TRUTH, approve, sampled
from dispute_helpers import (
    CHALLENGE_BOND,
    CHALLENGER_REWARD,
    CLOCK,
    SLASHED,
    ProvenJob,
    open_challenges,
    trajectory,
)
from market_helpers import (
    BIDDING,
    BIDDING_DURATION,
    CANCELLED,
    CHALLENGE_DURATION,
    CHECKPOINT_COUNT,
    CHECKPOINT_INTERVAL,
    COMMIT_WINDOW,
    EXECUTION_DURATION,
    FAILED,
    FINALIZED,
    MAX_DURATION,
    MAX_PRICE,
    PRICE,
    REQUIRED_STAKE,
    REVEAL_WINDOW,
    RUNNING,
    SAMPLE_COUNT,
    SPEC_HASH,
    UNVERIFIED,
    ZERO32,
    logs,
)

from pinpoint.merkle import checkpoint_tree

ZERO_ADDRESS = "0x" + "00" * 20
FUNDING = 3 * 10**17


def reserve(market, poster, solver, beneficiary, value=MAX_PRICE, **overrides):
    """A job reserved for `solver`, paid by `poster`, refunding `beneficiary`; returns the receipt."""
    args = {
        "specHash": SPEC_HASH,
        "checkpointCount": CHECKPOINT_COUNT,
        "checkpointInterval": CHECKPOINT_INTERVAL,
        "sampleCount": SAMPLE_COUNT,
        "requiredStake": REQUIRED_STAKE,
        "acceptDuration": BIDDING_DURATION,
        "executionDuration": EXECUTION_DURATION,
        "challengeDuration": CHALLENGE_DURATION,
        "solver": solver,
        "beneficiary": beneficiary,
    }
    args.update(overrides)
    return market.postReserved(*args.values(), sender=poster, value=value)


def assert_ledger(market):
    assert market.balance == market.totalEscrow() + market.totalCredits()


@pytest.fixture
def reserved(market, solver, submitter, stranger):
    """A job reserved for `solver`, paid by `stranger` for `submitter` (the beneficiary)."""
    return reserve(market, stranger, solver, submitter).return_value


def accepted(market, solver, submitter, stranger, price=PRICE, **overrides) -> int:
    job_id = reserve(market, stranger, solver, submitter, **overrides).return_value
    market.bid(job_id, price, sender=solver)
    return job_id


def submitted(market, solver, submitter, stranger, claimed=TRUTH) -> ProvenJob:
    """An accepted reserved job with its result (the root over `claimed`, 4 checkpoints 8 steps apart)."""
    job_id = accepted(market, solver, submitter, stranger, checkpointCount=COUNT, checkpointInterval=INTERVAL)
    job = ProvenJob(job_id, COUNT, INTERVAL, claimed)
    job.tree = checkpoint_tree(job_id, [claimed[i * INTERVAL] for i in range(COUNT + 1)], INTERVAL)
    market.submitResult(job_id, job.tree.root, sender=solver)
    return job


# --- postReserved -------------------------------------------------------------------------------


def test_postReserved_escrowsForTheBeneficiary_andEmits(market, solver, submitter, stranger):
    tx = reserve(market, stranger, solver, submitter)
    job_id = tx.return_value
    assert job_id == market.jobCount() == 1
    job = market.getJob(job_id)
    assert job.submitter == submitter  # the beneficiary, not the caller who paid
    assert (job.solver, job.price, job.maxPrice, job.requiredStake) == (ZERO_ADDRESS, 0, MAX_PRICE, REQUIRED_STAKE)
    assert (job.checkpointCount, job.checkpointInterval, job.sampleCount) == (
        CHECKPOINT_COUNT, CHECKPOINT_INTERVAL, SAMPLE_COUNT)
    assert job.biddingDeadline == tx.timestamp + BIDDING_DURATION
    assert (job.executionDuration, job.challengeDuration, job.state) == (EXECUTION_DURATION, CHALLENGE_DURATION,
                                                                         BIDDING)
    assert market.reservedSolver(job_id) == solver
    assert (market.totalEscrow(), market.balance) == (MAX_PRICE, MAX_PRICE)
    assert logs(tx, market.JobPosted) == [
        market.JobPosted(
            jobId=job_id,
            submitter=submitter,
            specHash=SPEC_HASH,
            maxPrice=MAX_PRICE,
            requiredStake=REQUIRED_STAKE,
            checkpointCount=CHECKPOINT_COUNT,
            checkpointInterval=CHECKPOINT_INTERVAL,
            biddingDeadline=tx.timestamp + BIDDING_DURATION,
        )
    ]
    assert logs(tx, market.JobReserved) == [market.JobReserved(jobId=job_id, solver=solver)]


def test_postReserved_sharesIdsWithPostJob(market, jobs, solver, submitter, stranger):
    assert jobs.post() == 1
    assert reserve(market, stranger, solver, submitter).return_value == 2
    assert jobs.post() == 3
    assert [market.reservedSolver(i) for i in (1, 2, 3)] == [ZERO_ADDRESS, solver, ZERO_ADDRESS]


@pytest.mark.parametrize("who", ["solver", "beneficiary"])
def test_postReserved_zeroAddress_reverts(market, solver, submitter, stranger, who):
    parties = {"solver": solver, "beneficiary": submitter} | {who: ZERO_ADDRESS}
    with ape.reverts(market.ZeroAddress):
        reserve(market, stranger, parties["solver"], parties["beneficiary"])


@pytest.mark.parametrize(
    "overrides, error, args",
    [
        ({"specHash": ZERO32}, "EmptySpecHash", {}),
        ({"value": 0}, "NoEscrow", {}),
        ({"checkpointCount": 0}, "ZeroCheckpointCount", {}),
        ({"checkpointInterval": 0}, "ZeroCheckpointInterval", {}),
        ({"sampleCount": 0}, "ZeroSampleCount", {}),
        ({"sampleCount": 5}, "TooManySamples", {"sampleCount": 5, "checkpointCount": 4}),
        ({"requiredStake": 0}, "ZeroRequiredStake", {}),
        ({"requiredStake": MAX_PRICE - 1}, "StakeBelowMinimum", {"requiredStake": MAX_PRICE - 1, "minimum": MAX_PRICE}),
        ({"acceptDuration": 0}, "ZeroBiddingDuration", {}),
        ({"executionDuration": 0}, "ZeroExecutionDuration", {}),
        ({"challengeDuration": 0}, "ZeroChallengeDuration", {}),
        ({"acceptDuration": MAX_DURATION + 1}, "DurationTooLong", {"duration": MAX_DURATION + 1}),
        ({"challengeDuration": COMMIT_WINDOW + REVEAL_WINDOW - 1}, "ChallengeWindowTooShort", {}),
        ({"checkpointCount": 2**20 + 1, "requiredStake": 10**30}, "CheckpointCountTooLarge", {}),
        ({"checkpointInterval": 2**20 + 1}, "CheckpointIntervalTooLarge", {}),
        ({"checkpointCount": 129, "sampleCount": 129, "requiredStake": 10**30}, "SampleCountTooLarge", {}),
    ],
)
def test_postReserved_postJobsChecks_revert(market, solver, submitter, stranger, overrides, error, args):
    value = overrides.pop("value", MAX_PRICE)
    with ape.reverts(getattr(market, error), **args):
        reserve(market, stranger, solver, submitter, value=value, **overrides)
    assert (market.jobCount(), market.totalEscrow(), market.balance) == (0, 0, 0)


# --- bid: the reserved solver accepts -----------------------------------------------------------


def test_bid_byReservedSolver_awardsAtOnce(market, staking, staked, reserved, solver):
    tx = market.bid(reserved, PRICE, sender=solver)
    job = market.getJob(reserved)
    assert (job.state, job.solver, job.price) == (RUNNING, solver, PRICE)
    assert job.executionDeadline == tx.timestamp + EXECUTION_DURATION
    assert staking.lockedStake(solver) == REQUIRED_STAKE
    assert [e.event_name for e in tx.events if e.contract_address == market.address] == ["BidPlaced", "JobAwarded"]
    assert logs(tx, market.BidPlaced) == [market.BidPlaced(jobId=reserved, solver=solver, price=PRICE)]
    assert logs(tx, market.JobAwarded) == [
        market.JobAwarded(jobId=reserved, solver=solver, price=PRICE, executionDeadline=job.executionDeadline)
    ]
    # Awarded: no second bid, and bidding is already closed.
    with ape.reverts(market.WrongJobState, expected=BIDDING, actual=RUNNING):
        market.bid(reserved, PRICE - 1, sender=solver)
    with ape.reverts(market.WrongJobState, expected=BIDDING, actual=RUNNING):
        market.closeBidding(reserved, sender=solver)


def test_bid_atMaxPriceAndAtDeadline_awards(market, chain, staked, reserved, solver):
    chain.pending_timestamp = market.getJob(reserved).biddingDeadline
    market.bid(reserved, MAX_PRICE, sender=solver)
    assert market.getJob(reserved).state == RUNNING


@pytest.mark.parametrize("who", ["solver2", "submitter", "stranger"])
def test_bid_byAnyoneElse_reverts(market, staking, staked, reserved, request, who):
    account = request.getfixturevalue(who)
    staking.deposit(sender=account, value=REQUIRED_STAKE)
    with ape.reverts(market.NotReservedSolver, caller=account):
        market.bid(reserved, PRICE, sender=account)
    assert market.getJob(reserved).state == BIDDING


def test_bid_reservedSolverChecks_revert(market, staking, jobs, reserved, solver):
    with ape.reverts(market.InsufficientStake, freeStake=0, requiredStake=REQUIRED_STAKE):
        market.bid(reserved, PRICE, sender=solver)
    staking.deposit(sender=solver, value=REQUIRED_STAKE)
    with ape.reverts(market.ZeroPrice):
        market.bid(reserved, 0, sender=solver)
    with ape.reverts(market.BidTooHigh, price=MAX_PRICE + 1, maxPrice=MAX_PRICE):
        market.bid(reserved, MAX_PRICE + 1, sender=solver)
    deadline = market.getJob(reserved).biddingDeadline
    jobs.after(deadline)
    with ape.reverts(market.BiddingClosed, deadline=deadline):
        market.bid(reserved, PRICE, sender=solver)
    assert staking.lockedStake(solver) == 0


# --- never accepted: cancelled, the beneficiary refunded ----------------------------------------


def test_closeBidding_notAccepted_cancelsAndCreditsTheBeneficiary(market, jobs, audit, reserved, submitter, stranger):
    audit.fund(reserved, sender=stranger, value=FUNDING)  # a reward for its verifiers, paid by the poster
    deadline = market.getJob(reserved).biddingDeadline
    jobs.chain.pending_timestamp = deadline
    with ape.reverts(market.BiddingOpen, deadline=deadline):
        market.closeBidding(reserved, sender=stranger)
    jobs.after(deadline)
    tx = market.closeBidding(reserved, sender=stranger)
    assert market.getJob(reserved).state == CANCELLED
    assert logs(tx, market.JobCancelled) == [market.JobCancelled(jobId=reserved)]
    assert (market.credits(submitter), market.credits(stranger)) == (MAX_PRICE, 0)
    assert market.totalEscrow() == 0
    assert_ledger(market)
    # The unused audit pot goes back to the beneficiary too.
    audit.settle(reserved, sender=stranger)
    assert (audit.credits(submitter), audit.credits(stranger)) == (FUNDING, 0)


# --- after the award: an ordinary job, settled for the beneficiary --------------------------------


def test_reportMissedDeadline_slashesToTheBeneficiary(market, staking, jobs, staked, solver, submitter, stranger):
    job_id = accepted(market, solver, submitter, stranger)
    jobs.after(market.getJob(job_id).executionDeadline)
    market.reportMissedDeadline(job_id, sender=stranger)
    assert market.getJob(job_id).state == FAILED
    assert (market.credits(submitter), market.credits(stranger)) == (MAX_PRICE + REQUIRED_STAKE, 0)
    assert (staking.lockedStake(solver), staking.freeStake(solver)) == (0, REQUIRED_STAKE)
    assert_ledger(market)


def test_finalize_paysTheSolverAndRefundsTheBeneficiary(market, audit, jobs, staked, registered, solver, submitter,
                                                        stranger, verifiers):
    job = sampled(jobs.chain, market, submitted(market, solver, submitter, stranger), stranger)
    approve(jobs, audit, job, verifiers[0])
    jobs.after(market.getJob(job.job_id).challengeDeadline)
    market.finalize(job.job_id, sender=stranger)
    assert market.getJob(job.job_id).state == FINALIZED
    assert market.credits(solver) == PRICE
    assert (market.credits(submitter), market.credits(stranger)) == (MAX_PRICE - PRICE, 0)
    assert_ledger(market)


def test_finalize_unverified_refundsTheBeneficiary(market, staking, jobs, staked, registered, solver, submitter,
                                                   stranger):
    job = sampled(jobs.chain, market, submitted(market, solver, submitter, stranger), stranger)
    jobs.after(market.getJob(job.job_id).challengeDeadline)
    market.finalize(job.job_id, sender=stranger)
    assert market.getJob(job.job_id).state == UNVERIFIED
    assert (market.credits(submitter), market.credits(solver), market.credits(stranger)) == (MAX_PRICE, 0, 0)
    assert staking.lockedStake(solver) == 0
    assert_ledger(market)


def test_dispute_lost_slashesToTheBeneficiaryAndChallenger(market, game, staking, jobs, staked, solver, submitter,
                                                            stranger, challenger):
    truth = trajectory(b"\x01" * 32, COUNT * INTERVAL)
    claimed = trajectory(truth[0], COUNT * INTERVAL, deviate_at=13, wrong=b"\xee" * 32)
    job = submitted(market, solver, submitter, stranger, claimed)
    open_challenges(jobs.chain, market, job.job_id, stranger)
    dispute_id = game.challenge(*job.challenge_args(1, truth[16]), sender=challenger,
                                value=CHALLENGE_BOND).return_value
    jobs.after(game.getDispute(dispute_id).turnStart + CLOCK)  # the cheater never reveals
    game.claimTimeout(dispute_id, sender=stranger)
    assert market.getJob(job.job_id).state == SLASHED
    assert market.credits(challenger) == CHALLENGER_REWARD
    assert market.credits(submitter) == MAX_PRICE + REQUIRED_STAKE - CHALLENGER_REWARD
    assert market.credits(stranger) == 0
    assert staking.lockedStake(solver) == 0
    assert_ledger(market)


# --- postJob is unchanged -----------------------------------------------------------------------


def test_postJob_abiUnchanged_andItsJobsOpenToAll(market, jobs, staked, solver, solver2):
    (abi,) = market.postJob.abis
    assert abi.selector == "postJob(bytes32,uint64,uint64,uint64,uint256,uint64,uint64,uint64)"
    assert [o.type for o in abi.outputs] == ["uint256"]
    tx = market.postJob(SPEC_HASH, 4, 50, 2, REQUIRED_STAKE, 600, 3600, 1800, sender=solver2, value=MAX_PRICE)
    job_id = tx.return_value
    assert market.getJob(job_id).submitter == solver2
    assert market.reservedSolver(job_id) == ZERO_ADDRESS
    assert logs(tx, market.JobReserved) == []
    market.bid(job_id, PRICE, sender=solver)
    market.bid(job_id, PRICE - 1, sender=solver2)
    assert market.getJob(job_id).state == BIDDING  # an open auction: awarded only when bidding closes
    jobs.after(market.getJob(job_id).biddingDeadline)
    market.closeBidding(job_id, sender=solver)
    assert (market.getJob(job_id).state, market.getJob(job_id).solver) == (RUNNING, solver2)
