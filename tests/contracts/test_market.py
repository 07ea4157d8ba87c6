"""Market: posting, reverse-auction bidding, commitments, settlement and claims (every path)."""

import ape
import pytest
from eth_abi import encode
from eth_utils import keccak
from market_helpers import (
    BIDDING,
    CANCELLED,
    CHALLENGE_DURATION,
    CHECKPOINT_COUNT,
    CHECKPOINT_INTERVAL,
    EXECUTION_DURATION,
    FAILED,
    FINALIZED,
    MAX_PRICE,
    NONE,
    REQUIRED_STAKE,
    ROOT,
    RUNNING,
    SPEC_HASH,
    SUBMITTED,
    logs,
)

ZERO32 = b"\x00" * 32
PRICE = MAX_PRICE // 2


# --- deployment ---------------------------------------------------------------------------------


def test_constructor_zeroStaking_reverts(project, owner):
    with ape.reverts(project.Market.ZeroAddress):
        owner.deploy(project.Market, "0x" + "00" * 20)


def test_receive_fromStranger_reverts(market, stranger):
    with ape.reverts(market.UnexpectedSender, sender=stranger):
        stranger.transfer(market, 1)


def test_deploy_marketIsStakingOperator(market, staking):
    assert market.staking() == staking
    assert staking.isOperator(market)


# --- postJob ------------------------------------------------------------------------------------


def test_postJob_escrowsAndEmits(market, jobs, submitter, chain):
    tx = market.postJob(SPEC_HASH, 4, 50, REQUIRED_STAKE, 600, 3600, 1800, sender=submitter, value=MAX_PRICE)
    assert tx.return_value == 1
    job = market.getJob(1)
    assert job.submitter == submitter
    assert job.solver == "0x" + "00" * 20
    assert job.specHash == SPEC_HASH
    assert (job.maxPrice, job.price, job.requiredStake) == (MAX_PRICE, 0, REQUIRED_STAKE)
    assert (job.checkpointCount, job.checkpointInterval) == (4, 50)
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
        ({"requiredStake": 0}, "ZeroRequiredStake"),
        ({"biddingDuration": 0}, "ZeroBiddingDuration"),
        ({"executionDuration": 0}, "ZeroExecutionDuration"),
        ({"challengeDuration": 0}, "ZeroChallengeDuration"),
    ],
)
def test_postJob_zeroValue_reverts(market, jobs, overrides, error):
    with ape.reverts(getattr(market, error)):
        jobs.post(**overrides)


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


# --- postProgress -------------------------------------------------------------------------------


def test_postProgress_increasing_recordsAndEmits(market, jobs, staked, solver):
    job_id = jobs.awarded(solver)
    market.postProgress(job_id, 1, ROOT, sender=solver)
    tx = market.postProgress(job_id, CHECKPOINT_COUNT, b"\x33" * 32, sender=solver)
    job = market.getJob(job_id)
    assert (job.checkpointsDone, job.progressRoot) == (CHECKPOINT_COUNT, b"\x33" * 32)
    assert logs(tx, market.ProgressPosted) == [
        market.ProgressPosted(jobId=job_id, checkpointsDone=CHECKPOINT_COUNT, progressRoot=b"\x33" * 32)
    ]


def test_postProgress_atDeadline_isAccepted(market, jobs, staked, solver, chain):
    job_id = jobs.awarded(solver)
    chain.pending_timestamp = market.getJob(job_id).executionDeadline
    market.postProgress(job_id, 1, ROOT, sender=solver)


def test_postProgress_notSolver_reverts(market, jobs, staked, solver, stranger):
    job_id = jobs.awarded(solver)
    with ape.reverts(market.NotSolver, caller=stranger):
        market.postProgress(job_id, 1, ROOT, sender=stranger)


def test_postProgress_whileBidding_reverts(market, jobs, staked, solver):
    job_id = jobs.post()
    market.bid(job_id, PRICE, sender=solver)
    with ape.reverts(market.WrongJobState, expected=RUNNING, actual=BIDDING):
        market.postProgress(job_id, 1, ROOT, sender=solver)


def test_postProgress_afterSubmit_reverts(market, jobs, staked, solver):
    job_id = jobs.submitted(solver)
    with ape.reverts(market.WrongJobState, expected=RUNNING, actual=SUBMITTED):
        market.postProgress(job_id, 1, ROOT, sender=solver)


def test_postProgress_unknownJob_reverts(market, solver):
    with ape.reverts(market.UnknownJob, jobId=3):
        market.postProgress(3, 1, ROOT, sender=solver)


def test_postProgress_afterDeadline_reverts(market, jobs, staked, solver):
    job_id = jobs.awarded(solver)
    deadline = market.getJob(job_id).executionDeadline
    jobs.after(deadline)
    with ape.reverts(market.ExecutionClosed, deadline=deadline):
        market.postProgress(job_id, 1, ROOT, sender=solver)


def test_postProgress_zero_reverts(market, jobs, staked, solver):
    job_id = jobs.awarded(solver)
    with ape.reverts(market.ProgressNotIncreasing, checkpointsDone=0, previous=0):
        market.postProgress(job_id, 0, ROOT, sender=solver)


def test_postProgress_notIncreasing_reverts(market, jobs, staked, solver):
    job_id = jobs.awarded(solver)
    market.postProgress(job_id, 2, ROOT, sender=solver)
    with ape.reverts(market.ProgressNotIncreasing, checkpointsDone=2, previous=2):
        market.postProgress(job_id, 2, ROOT, sender=solver)


def test_postProgress_beyondCheckpointCount_reverts(market, jobs, staked, solver):
    job_id = jobs.awarded(solver)
    with ape.reverts(
        market.TooManyCheckpoints, checkpointsDone=CHECKPOINT_COUNT + 1, checkpointCount=CHECKPOINT_COUNT
    ):
        market.postProgress(job_id, CHECKPOINT_COUNT + 1, ROOT, sender=solver)


def test_postProgress_emptyRoot_reverts(market, jobs, staked, solver):
    job_id = jobs.awarded(solver)
    with ape.reverts(market.EmptyRoot):
        market.postProgress(job_id, 1, ZERO32, sender=solver)


# --- submitResult -------------------------------------------------------------------------------


def test_submitResult_opensChallengeWindowAndEmits(market, jobs, staked, solver):
    job_id = jobs.awarded(solver)
    tx = market.submitResult(job_id, ROOT, sender=solver)
    job = market.getJob(job_id)
    assert (job.state, job.finalRoot) == (SUBMITTED, ROOT)
    assert job.challengeDeadline == tx.timestamp + CHALLENGE_DURATION
    assert logs(tx, market.ResultSubmitted) == [
        market.ResultSubmitted(jobId=job_id, finalRoot=ROOT, challengeDeadline=job.challengeDeadline)
    ]


def test_submitResult_atDeadline_isAccepted(market, jobs, staked, solver, chain):
    job_id = jobs.awarded(solver)
    chain.pending_timestamp = market.getJob(job_id).executionDeadline
    market.submitResult(job_id, ROOT, sender=solver)


def test_submitResult_notSolver_reverts(market, jobs, staked, solver, solver2):
    job_id = jobs.awarded(solver)
    with ape.reverts(market.NotSolver, caller=solver2):
        market.submitResult(job_id, ROOT, sender=solver2)


def test_submitResult_twice_reverts(market, jobs, staked, solver):
    job_id = jobs.submitted(solver)
    with ape.reverts(market.WrongJobState, expected=RUNNING, actual=SUBMITTED):
        market.submitResult(job_id, ROOT, sender=solver)


def test_submitResult_unknownJob_reverts(market, solver):
    with ape.reverts(market.UnknownJob, jobId=5):
        market.submitResult(5, ROOT, sender=solver)


def test_submitResult_afterDeadline_reverts(market, jobs, staked, solver):
    job_id = jobs.awarded(solver)
    deadline = market.getJob(job_id).executionDeadline
    jobs.after(deadline)
    with ape.reverts(market.ExecutionClosed, deadline=deadline):
        market.submitResult(job_id, ROOT, sender=solver)


def test_submitResult_emptyRoot_reverts(market, jobs, staked, solver):
    job_id = jobs.awarded(solver)
    with ape.reverts(market.EmptyRoot):
        market.submitResult(job_id, ZERO32, sender=solver)


# --- finalize -----------------------------------------------------------------------------------


def test_finalize_creditsBothAndUnlocksStake(market, staking, jobs, staked, submitter, solver, stranger):
    job_id = jobs.submitted(solver)
    jobs.after(market.getJob(job_id).challengeDeadline)
    tx = market.finalize(job_id, sender=stranger)
    assert market.getJob(job_id).state == FINALIZED
    assert (market.credits(solver), market.credits(submitter)) == (PRICE, MAX_PRICE - PRICE)
    assert (market.totalEscrow(), market.totalCredits(), market.balance) == (0, MAX_PRICE, MAX_PRICE)
    assert (staking.lockedStake(solver), staking.freeStake(solver)) == (0, 2 * REQUIRED_STAKE)
    assert logs(tx, market.JobFinalized) == [
        market.JobFinalized(jobId=job_id, solverPayout=PRICE, submitterRefund=MAX_PRICE - PRICE)
    ]
    assert logs(tx, staking.StakeUnlocked) == [staking.StakeUnlocked(account=solver, amount=REQUIRED_STAKE)]


def test_finalize_atMaxPrice_refundsNothing(market, jobs, staked, submitter, solver, stranger):
    job_id = jobs.submitted(solver, price=MAX_PRICE)
    jobs.after(market.getJob(job_id).challengeDeadline)
    market.finalize(job_id, sender=stranger)
    assert (market.credits(solver), market.credits(submitter)) == (MAX_PRICE, 0)


def test_finalize_atChallengeDeadline_reverts(market, jobs, staked, solver, stranger, chain):
    job_id = jobs.submitted(solver)
    deadline = market.getJob(job_id).challengeDeadline
    chain.pending_timestamp = deadline
    with ape.reverts(market.ChallengeOpen, deadline=deadline):
        market.finalize(job_id, sender=stranger)


def test_finalize_running_reverts(market, jobs, staked, solver, stranger):
    job_id = jobs.awarded(solver)
    with ape.reverts(market.WrongJobState, expected=SUBMITTED, actual=RUNNING):
        market.finalize(job_id, sender=stranger)


def test_finalize_twice_reverts(market, jobs, staked, solver, stranger):
    job_id = jobs.submitted(solver)
    jobs.after(market.getJob(job_id).challengeDeadline)
    market.finalize(job_id, sender=stranger)
    with ape.reverts(market.WrongJobState, expected=SUBMITTED, actual=FINALIZED):
        market.finalize(job_id, sender=stranger)


def test_finalize_unknownJob_reverts(market, stranger):
    with ape.reverts(market.UnknownJob, jobId=2):
        market.finalize(2, sender=stranger)


# --- reportMissedDeadline -----------------------------------------------------------------------


def test_reportMissedDeadline_slashesAndCreditsSubmitter(market, staking, jobs, staked, submitter, solver, stranger):
    job_id = jobs.awarded(solver)
    jobs.after(market.getJob(job_id).executionDeadline)
    tx = market.reportMissedDeadline(job_id, sender=stranger)
    assert market.getJob(job_id).state == FAILED
    assert market.credits(submitter) == MAX_PRICE + REQUIRED_STAKE
    assert market.credits(solver) == 0
    assert (staking.lockedStake(solver), staking.freeStake(solver)) == (0, REQUIRED_STAKE)
    assert staking.balance == 3 * REQUIRED_STAKE
    assert (market.totalEscrow(), market.totalCredits()) == (0, MAX_PRICE + REQUIRED_STAKE)
    assert market.balance == MAX_PRICE + REQUIRED_STAKE
    assert logs(tx, market.SolverSlashed) == [
        market.SolverSlashed(jobId=job_id, solver=solver, amount=REQUIRED_STAKE)
    ]
    assert logs(tx, market.JobFailed) == [market.JobFailed(jobId=job_id)]
    assert logs(tx, staking.StakeSlashed) == [
        staking.StakeSlashed(account=solver, amount=REQUIRED_STAKE, operator=market)
    ]


def test_reportMissedDeadline_atDeadline_reverts(market, jobs, staked, solver, stranger, chain):
    job_id = jobs.awarded(solver)
    deadline = market.getJob(job_id).executionDeadline
    chain.pending_timestamp = deadline
    with ape.reverts(market.ExecutionOpen, deadline=deadline):
        market.reportMissedDeadline(job_id, sender=stranger)


def test_reportMissedDeadline_submitted_reverts(market, jobs, staked, solver, stranger):
    job_id = jobs.submitted(solver)
    jobs.after(market.getJob(job_id).executionDeadline)
    with ape.reverts(market.WrongJobState, expected=RUNNING, actual=SUBMITTED):
        market.reportMissedDeadline(job_id, sender=stranger)


def test_reportMissedDeadline_unknownJob_reverts(market, stranger):
    with ape.reverts(market.UnknownJob, jobId=4):
        market.reportMissedDeadline(4, sender=stranger)


# --- claim --------------------------------------------------------------------------------------


def test_claim_paysCreditAndZeroesIt(market, jobs, submitter, stranger):
    job_id = jobs.post()
    jobs.after(market.getJob(job_id).biddingDeadline)
    market.closeBidding(job_id, sender=stranger)
    balance_before = submitter.balance
    tx = market.claim(sender=submitter)
    assert submitter.balance == balance_before + MAX_PRICE - tx.total_fees_paid
    assert (market.credits(submitter), market.totalCredits(), market.balance) == (0, 0, 0)
    assert logs(tx, market.Claimed) == [market.Claimed(account=submitter, amount=MAX_PRICE)]


def test_claim_nothing_reverts(market, stranger):
    with ape.reverts(market.NothingToClaim):
        market.claim(sender=stranger)


def test_claim_twice_reverts(market, jobs, submitter, stranger):
    job_id = jobs.post()
    jobs.after(market.getJob(job_id).biddingDeadline)
    market.closeBidding(job_id, sender=stranger)
    market.claim(sender=submitter)
    with ape.reverts(market.NothingToClaim):
        market.claim(sender=submitter)


# --- checkpoint leaves --------------------------------------------------------------------------


def test_checkpointLeaf_matchesStandardMerkleTreeLeaf(market):
    state_hash = b"\x44" * 32
    inner = keccak(encode(["uint256", "uint256", "uint256", "bytes32"], [7, 3, 3 * CHECKPOINT_INTERVAL, state_hash]))
    assert market.checkpointLeaf(7, 3, 3 * CHECKPOINT_INTERVAL, state_hash) == keccak(inner)
