"""Market: deployment, posting jobs, reverse-auction bidding and closing the auction."""

import ape
import pytest
from market_helpers import (
    BIDDING,
    CANCELLED,
    COMMIT_WINDOW,
    EXECUTION_DURATION,
    MAX_DURATION,
    MAX_PRICE,
    NONE,
    PRICE,
    REQUIRED_STAKE,
    REVEAL_WINDOW,
    RUNNING,
    SPEC_HASH,
    UNBONDING_DELAY,
    ZERO32,
    JobFactory,
    deploy_audit,
    logs,
)

ZERO_ADDRESS = "0x" + "00" * 20

# --- deployment ---------------------------------------------------------------------------------


def test_constructor_zeroStaking_reverts(project, owner):
    with ape.reverts(project.Market.ZeroAddress):
        owner.deploy(project.Market, "0x" + "00" * 20)


def test_receive_fromStranger_reverts(market, stranger):
    with ape.reverts(market.UnexpectedSender, sender=stranger):
        stranger.transfer(market, 1)


def test_deploy_marketIsStakingsOnlyMarket_andNobodyOwnsEither(market, staking, game):
    assert market.staking() == staking
    assert staking.market() == market
    # Least authority: once wired (staking's market; the market's audit and game) no key can rewire.
    assert staking.owner() == market.owner() == ZERO_ADDRESS


def test_deploy_marketHasItsAudit_andTheReviewBoundsChallengeWindows(market, audit):
    assert market.audit() == audit
    assert audit.market() == market
    assert market.minimumChallengeDuration() == audit.commitWindow() + audit.revealWindow()
    assert market.minimumChallengeDuration() == COMMIT_WINDOW + REVEAL_WINDOW
    assert market.MAX_DURATION() == MAX_DURATION == 365 * 24 * 3600


# --- setAudit -----------------------------------------------------------------------------------


@pytest.fixture
def unwired(project, owner):
    """A market (with a staking contract of its own) whose audit is not set yet."""
    staking = owner.deploy(project.Staking, UNBONDING_DELAY)
    market = owner.deploy(project.Market, staking)
    staking.setMarket(market, sender=owner)
    return market


def test_postJob_beforeAuditIsSet_reverts(unwired, submitter, chain):
    assert unwired.audit() == ZERO_ADDRESS
    with ape.reverts(unwired.AuditNotSet):
        unwired.minimumChallengeDuration()
    with ape.reverts(unwired.AuditNotSet):
        JobFactory(unwired, submitter, chain).post()
    assert (unwired.jobCount(), unwired.totalEscrow(), unwired.balance) == (0, 0, 0)


def test_setAudit_setsOnce_thenJobsCanBePosted(project, owner, unwired, submitter, stranger, chain):
    audit = deploy_audit(project, owner, unwired)
    with ape.reverts(unwired.OwnableUnauthorizedAccount, account=stranger):
        unwired.setAudit(audit, sender=stranger)
    with ape.reverts(unwired.ZeroAddress):
        unwired.setAudit(ZERO_ADDRESS, sender=owner)
    tx = unwired.setAudit(audit, sender=owner)
    assert unwired.audit() == audit
    assert logs(tx, unwired.AuditSet) == [unwired.AuditSet(audit)]
    with ape.reverts(unwired.AuditAlreadySet, audit=audit):
        unwired.setAudit(deploy_audit(project, owner, unwired), sender=owner)
    assert unwired.audit() == audit
    assert JobFactory(unwired, submitter, chain).post() == 1


def test_setAudit_auditOfAnotherMarket_reverts(project, owner, market, unwired):
    foreign = deploy_audit(project, owner, market)  # reviews the shared market, not this one
    with ape.reverts(unwired.AuditOfAnotherMarket, audit=foreign):
        unwired.setAudit(foreign, sender=owner)
    assert unwired.audit() == ZERO_ADDRESS


# --- postJob ------------------------------------------------------------------------------------


def test_postJob_escrowsAndEmits(market, jobs, submitter, chain):
    tx = market.postJob(SPEC_HASH, 4, 50, 2, REQUIRED_STAKE, 600, 3600, 1800, sender=submitter, value=MAX_PRICE)
    assert tx.return_value == 1
    job = market.getJob(1)
    assert job.submitter == submitter
    assert job.solver == "0x" + "00" * 20
    assert job.specHash == SPEC_HASH
    assert (job.maxPrice, job.price, job.requiredStake) == (MAX_PRICE, 0, REQUIRED_STAKE)
    assert (job.checkpointCount, job.checkpointInterval, job.sampleCount) == (4, 50, 2)
    assert (job.sampleBlock, job.sampleSealedAt, job.sampleSeed, job.submittedAt) == (0, 0, ZERO32, 0)
    assert job.biddingDeadline == tx.timestamp + 600
    assert (job.executionDuration, job.challengeDuration) == (3600, 1800)
    assert (job.executionDeadline, job.challengeDeadline, job.checkpointsDone) == (0, 0, 0)
    assert job.state == BIDDING
    assert (market.jobCount(), market.totalEscrow(), market.balance) == (1, MAX_PRICE, MAX_PRICE)
    assert logs(tx, market.JobPosted) == [
        market.JobPosted(
            jobId=1,
            submitter=submitter,
            specHash=SPEC_HASH,
            maxPrice=MAX_PRICE,
            requiredStake=REQUIRED_STAKE,
            checkpointCount=4,
            checkpointInterval=50,
            biddingDeadline=tx.timestamp + 600,
        )
    ]


def test_postJob_twice_idsIncrease(market, jobs):
    assert (jobs.post(), jobs.post()) == (1, 2)
    assert market.jobCount() == 2
    assert market.totalEscrow() == 2 * MAX_PRICE


@pytest.mark.parametrize(
    "overrides, error",
    [
        ({"specHash": ZERO32}, "EmptySpecHash"),
        ({"value": 0}, "NoEscrow"),
        ({"checkpointCount": 0}, "ZeroCheckpointCount"),
        ({"checkpointInterval": 0}, "ZeroCheckpointInterval"),
        ({"sampleCount": 0}, "ZeroSampleCount"),
        ({"requiredStake": 0}, "ZeroRequiredStake"),
        ({"biddingDuration": 0}, "ZeroBiddingDuration"),
        ({"executionDuration": 0}, "ZeroExecutionDuration"),
        ({"challengeDuration": 0}, "ZeroChallengeDuration"),
    ],
)
def test_postJob_zeroValue_reverts(market, jobs, overrides, error):
    with ape.reverts(getattr(market, error)):
        jobs.post(**overrides)


@pytest.mark.parametrize("window", ["biddingDuration", "executionDuration", "challengeDuration"])
def test_postJob_windowLongerThanMaxDuration_reverts_andMaxIsAccepted(market, jobs, chain, window):
    with ape.reverts(market.DurationTooLong, duration=MAX_DURATION + 1, maximum=MAX_DURATION):
        jobs.post(**{window: MAX_DURATION + 1})
    job_id = jobs.post(**{window: MAX_DURATION})
    job = market.getJob(job_id)
    if window == "biddingDuration":
        assert job.biddingDeadline == chain.blocks.head.timestamp + MAX_DURATION
    else:
        assert getattr(job, window) == MAX_DURATION
    assert market.totalEscrow() == market.balance == MAX_PRICE


def test_postJob_challengeWindowShorterThanTheReview_reverts_andMinimumIsAccepted(market, jobs):
    minimum = COMMIT_WINDOW + REVEAL_WINDOW
    assert market.minimumChallengeDuration() == minimum
    with ape.reverts(market.ChallengeWindowTooShort, challengeDuration=minimum - 1, minimum=minimum):
        jobs.post(challengeDuration=minimum - 1)
    with ape.reverts(market.ChallengeWindowTooShort, challengeDuration=1, minimum=minimum):
        jobs.post(challengeDuration=1)
    assert market.getJob(jobs.post(challengeDuration=minimum)).challengeDuration == minimum


def test_getJob_unknown_isEmpty(market):
    assert market.getJob(7).state == NONE


# --- bid ----------------------------------------------------------------------------------------


def test_bid_first_locksStakeAndEmits(market, staking, jobs, staked, solver):
    job_id = jobs.post()
    tx = market.bid(job_id, PRICE, sender=solver)
    job = market.getJob(job_id)
    assert (job.solver, job.price) == (solver, PRICE)
    assert staking.lockedStake(solver) == REQUIRED_STAKE
    assert staking.freeStake(solver) == REQUIRED_STAKE
    assert logs(tx, market.BidPlaced) == [market.BidPlaced(jobId=job_id, solver=solver, price=PRICE)]
    assert logs(tx, staking.StakeLocked) == [staking.StakeLocked(account=solver, amount=REQUIRED_STAKE)]


def test_bid_atMaxPrice_isAccepted(market, jobs, staked, solver):
    job_id = jobs.post()
    market.bid(job_id, MAX_PRICE, sender=solver)
    assert market.getJob(job_id).price == MAX_PRICE


def test_bid_lower_displacesBestBidAndMovesLock(market, staking, jobs, staked, solver, solver2):
    job_id = jobs.post()
    market.bid(job_id, PRICE, sender=solver)
    tx = market.bid(job_id, PRICE - 1, sender=solver2)
    job = market.getJob(job_id)
    assert (job.solver, job.price) == (solver2, PRICE - 1)
    assert (staking.lockedStake(solver), staking.lockedStake(solver2)) == (0, REQUIRED_STAKE)
    assert logs(tx, staking.StakeUnlocked) == [staking.StakeUnlocked(account=solver, amount=REQUIRED_STAKE)]


def test_bid_ownLower_keepsSingleLock(market, staking, jobs, staked, solver):
    job_id = jobs.post()
    market.bid(job_id, PRICE, sender=solver)
    tx = market.bid(job_id, PRICE - 1, sender=solver)
    assert market.getJob(job_id).price == PRICE - 1
    assert staking.lockedStake(solver) == REQUIRED_STAKE
    assert logs(tx, staking.StakeLocked) == []
    assert logs(tx, staking.StakeUnlocked) == []


def test_bid_tie_reverts(market, jobs, staked, solver, solver2):
    job_id = jobs.post()
    market.bid(job_id, PRICE, sender=solver)
    with ape.reverts(market.BidNotLower, price=PRICE, bestPrice=PRICE):
        market.bid(job_id, PRICE, sender=solver2)


def test_bid_higher_reverts(market, jobs, staked, solver, solver2):
    job_id = jobs.post()
    market.bid(job_id, PRICE, sender=solver)
    with ape.reverts(market.BidNotLower, price=PRICE + 1, bestPrice=PRICE):
        market.bid(job_id, PRICE + 1, sender=solver2)


def test_bid_zeroPrice_reverts(market, jobs, staked, solver):
    job_id = jobs.post()
    with ape.reverts(market.ZeroPrice):
        market.bid(job_id, 0, sender=solver)


def test_bid_aboveMaxPrice_reverts(market, jobs, staked, solver):
    job_id = jobs.post()
    with ape.reverts(market.BidTooHigh, price=MAX_PRICE + 1, maxPrice=MAX_PRICE):
        market.bid(job_id, MAX_PRICE + 1, sender=solver)


def test_bid_belowRequiredStake_reverts(market, staking, jobs, stranger):
    staking.deposit(sender=stranger, value=REQUIRED_STAKE - 1)
    job_id = jobs.post()
    with ape.reverts(market.InsufficientStake, freeStake=REQUIRED_STAKE - 1, requiredStake=REQUIRED_STAKE):
        market.bid(job_id, PRICE, sender=stranger)


def test_bid_stakeLockedByOtherJob_reverts(market, jobs, staked, solver):
    first, second, third = jobs.post(), jobs.post(), jobs.post()
    market.bid(first, PRICE, sender=solver)
    market.bid(second, PRICE, sender=solver)
    with ape.reverts(market.InsufficientStake, freeStake=0, requiredStake=REQUIRED_STAKE):
        market.bid(third, PRICE, sender=solver)


def test_bid_atDeadline_isAccepted(market, jobs, staked, solver, chain):
    job_id = jobs.post()
    chain.pending_timestamp = market.getJob(job_id).biddingDeadline
    market.bid(job_id, PRICE, sender=solver)


def test_bid_afterDeadline_reverts(market, jobs, staked, solver):
    job_id = jobs.post()
    deadline = market.getJob(job_id).biddingDeadline
    jobs.after(deadline)
    with ape.reverts(market.BiddingClosed, deadline=deadline):
        market.bid(job_id, PRICE, sender=solver)


def test_bid_unknownJob_reverts(market, staked, solver):
    with ape.reverts(market.UnknownJob, jobId=9):
        market.bid(9, PRICE, sender=solver)


def test_bid_runningJob_reverts(market, jobs, staked, solver, solver2):
    job_id = jobs.awarded(solver)
    with ape.reverts(market.WrongJobState, expected=BIDDING, actual=RUNNING):
        market.bid(job_id, 1, sender=solver2)


# --- closeBidding -------------------------------------------------------------------------------


def test_closeBidding_withBid_awardsAndEmits(market, jobs, staked, solver, stranger):
    job_id = jobs.post()
    market.bid(job_id, PRICE, sender=solver)
    jobs.after(market.getJob(job_id).biddingDeadline)
    tx = market.closeBidding(job_id, sender=stranger)
    job = market.getJob(job_id)
    assert job.state == RUNNING
    assert job.executionDeadline == tx.timestamp + EXECUTION_DURATION
    assert logs(tx, market.JobAwarded) == [
        market.JobAwarded(jobId=job_id, solver=solver, price=PRICE, executionDeadline=job.executionDeadline)
    ]


def test_closeBidding_noBids_cancelsAndCreditsSubmitter(market, jobs, submitter, stranger):
    job_id = jobs.post()
    jobs.after(market.getJob(job_id).biddingDeadline)
    tx = market.closeBidding(job_id, sender=stranger)
    assert market.getJob(job_id).state == CANCELLED
    assert market.credits(submitter) == MAX_PRICE
    assert (market.totalEscrow(), market.totalCredits()) == (0, MAX_PRICE)
    assert logs(tx, market.JobCancelled) == [market.JobCancelled(jobId=job_id)]


def test_closeBidding_atDeadline_reverts(market, jobs, chain, stranger):
    job_id = jobs.post()
    deadline = market.getJob(job_id).biddingDeadline
    chain.pending_timestamp = deadline
    with ape.reverts(market.BiddingOpen, deadline=deadline):
        market.closeBidding(job_id, sender=stranger)


def test_closeBidding_unknownJob_reverts(market, stranger):
    with ape.reverts(market.UnknownJob, jobId=1):
        market.closeBidding(1, sender=stranger)


def test_closeBidding_twice_reverts(market, jobs, staked, solver, stranger):
    job_id = jobs.awarded(solver)
    with ape.reverts(market.WrongJobState, expected=BIDDING, actual=RUNNING):
        market.closeBidding(job_id, sender=stranger)
