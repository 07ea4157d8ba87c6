"""Market: settlement (finalize, missed-deadline slashing) and claiming credits."""

import ape
from market_helpers import (
    FAILED,
    FINALIZED,
    MAX_PRICE,
    PRICE,
    REQUIRED_STAKE,
    RUNNING,
    SUBMITTED,
    logs,
)

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
