"""Market: settlement (finalize, paid or unverified; missed-deadline slashing) and claiming credits."""

import random

import ape
from audit_helpers import (
    TRUTH,
    Verifier,
    approve,
    approved,
    finalize,
    made_up,
    open_reveals,
    proven_job,
    sampled,
    seal,
)
from market_helpers import (
    CHALLENGE_DURATION,
    FAILED,
    FINALIZED,
    MAX_PRICE,
    PRICE,
    REQUIRED_STAKE,
    RUNNING,
    SUBMITTED,
    UNVERIFIED,
    logs,
)

# --- finalize -----------------------------------------------------------------------------------
# A result is paid only if a drawn verifier revealed agreement with it (Audit.agreements); else it ends
# Unverified: the submitter gets the whole escrow back and the solver its stake, unpaid.


def test_finalize_approved_creditsBothAndUnlocksStake(market, audit, staking, jobs, staked, registered, submitter,
                                                      solver, stranger):
    job = approved(jobs, market, audit, solver, registered[0])
    assert audit.agreements(job.job_id) == 1
    tx = finalize(jobs, market, job.job_id, stranger)
    assert market.getJob(job.job_id).state == FINALIZED
    assert (market.credits(solver), market.credits(submitter)) == (PRICE, MAX_PRICE - PRICE)
    assert (market.totalEscrow(), market.totalCredits(), market.balance) == (0, MAX_PRICE, MAX_PRICE)
    assert (staking.lockedStake(solver), staking.freeStake(solver)) == (0, 2 * REQUIRED_STAKE)
    assert logs(tx, market.JobFinalized) == [
        market.JobFinalized(jobId=job.job_id, solverPayout=PRICE, submitterRefund=MAX_PRICE - PRICE)
    ]
    assert logs(tx, market.JobUnverified) == []
    assert logs(tx, staking.StakeUnlocked) == [staking.StakeUnlocked(account=solver, amount=REQUIRED_STAKE)]


def test_finalize_atMaxPrice_refundsNothing(market, audit, jobs, staked, registered, submitter, solver, stranger):
    job = approved(jobs, market, audit, solver, registered[0], price=MAX_PRICE)
    finalize(jobs, market, job.job_id, stranger)
    assert (market.credits(solver), market.credits(submitter)) == (MAX_PRICE, 0)
    assert market.balance == market.totalCredits() == MAX_PRICE


def test_finalize_oneAgreementAmongDisagreements_pays(market, audit, jobs, staked, registered, solver, stranger):
    job = sampled(jobs.chain, market, proven_job(jobs, market, solver), stranger)
    doubter = Verifier(registered[1], made_up(random.Random(1)), b"\x01" * 32)
    doubter.commit(audit, job.job_id)
    approve(jobs, audit, job, registered[0])
    doubter.reveal(audit, job.job_id, job.proofs())
    assert audit.agreements(job.job_id) == 1
    finalize(jobs, market, job.job_id, stranger)
    assert market.getJob(job.job_id).state == FINALIZED
    assert market.credits(solver) == PRICE


def test_finalize_noVerifier_unverified_refundsSubmitterAndUnlocksUnpaidSolver(market, staking, jobs, staked,
                                                                               submitter, solver, stranger):
    job = sampled(jobs.chain, market, proven_job(jobs, market, solver), stranger)
    tx = finalize(jobs, market, job.job_id, stranger)
    assert market.getJob(job.job_id).state == UNVERIFIED
    assert (market.credits(solver), market.credits(submitter)) == (0, MAX_PRICE)
    assert (market.totalEscrow(), market.totalCredits(), market.balance) == (0, MAX_PRICE, MAX_PRICE)
    # Not slashed: the stake is free again, all of it.
    assert (staking.lockedStake(solver), staking.freeStake(solver)) == (0, 2 * REQUIRED_STAKE)
    assert staking.balance == 4 * REQUIRED_STAKE
    assert logs(tx, market.JobUnverified) == [market.JobUnverified(jobId=job.job_id)]
    assert logs(tx, market.JobFinalized) == []
    assert logs(tx, market.SolverSlashed) == []
    assert logs(tx, staking.StakeUnlocked) == [staking.StakeUnlocked(account=solver, amount=REQUIRED_STAKE)]
    market.claim(sender=submitter)
    assert market.balance == market.totalCredits() == 0


def test_finalize_onlyDisagreementAndSilence_unverified(market, audit, jobs, staked, registered, submitter, solver,
                                                       stranger):
    job = sampled(jobs.chain, market, proven_job(jobs, market, solver), stranger)
    doubter = Verifier(registered[0], made_up(random.Random(2)), b"\x02" * 32)
    silent = Verifier(registered[1], job.hashes(TRUTH), b"\x03" * 32)  # would agree, but never reveals
    doubter.commit(audit, job.job_id)
    silent.commit(audit, job.job_id)
    open_reveals(jobs, audit, job.job_id)
    doubter.reveal(audit, job.job_id, job.proofs())
    assert audit.agreements(job.job_id) == 0
    finalize(jobs, market, job.job_id, stranger)
    assert market.getJob(job.job_id).state == UNVERIFIED
    assert (market.credits(solver), market.credits(submitter)) == (0, MAX_PRICE)
    assert market.balance == market.totalEscrow() + market.totalCredits()


def test_finalize_atChallengeDeadline_reverts(market, jobs, staked, solver, stranger, chain):
    job = sampled(chain, market, proven_job(jobs, market, solver), stranger)
    deadline = market.getJob(job.job_id).challengeDeadline
    assert deadline == market.getJob(job.job_id).sampleSealedAt + CHALLENGE_DURATION
    chain.pending_timestamp = deadline
    with ape.reverts(market.ChallengeOpen, deadline=deadline):
        market.finalize(job.job_id, sender=stranger)


def test_finalize_unsealed_reverts_howeverLate(market, jobs, staked, solver, stranger):
    job_id = jobs.submitted(solver)
    jobs.after(market.getJob(job_id).submittedAt + 10 * CHALLENGE_DURATION)
    with ape.reverts(market.SampleNotSealed):
        market.finalize(job_id, sender=stranger)
    assert market.getJob(job_id).state == SUBMITTED


def test_finalize_lateSeal_windowRunsFromTheSeal(chain, market, jobs, staked, solver, stranger):
    job = proven_job(jobs, market, solver)
    jobs.after(market.getJob(job.job_id).submittedAt + 10 * CHALLENGE_DURATION)
    tx = seal(chain, market, job.job_id, stranger)
    deadline = market.getJob(job.job_id).challengeDeadline
    assert deadline == tx.timestamp + CHALLENGE_DURATION
    chain.pending_timestamp = deadline
    with ape.reverts(market.ChallengeOpen, deadline=deadline):
        market.finalize(job.job_id, sender=stranger)
    jobs.after(deadline)
    market.finalize(job.job_id, sender=stranger)


def test_finalize_running_reverts(market, jobs, staked, solver, stranger):
    job_id = jobs.awarded(solver)
    with ape.reverts(market.WrongJobState, expected=SUBMITTED, actual=RUNNING):
        market.finalize(job_id, sender=stranger)


def test_finalize_twice_reverts(market, audit, jobs, staked, registered, solver, solver2, stranger):
    paid = approved(jobs, market, audit, solver, registered[0]).job_id
    unpaid = sampled(jobs.chain, market, proven_job(jobs, market, solver2), stranger).job_id
    for job_id, state in ((paid, FINALIZED), (unpaid, UNVERIFIED)):
        finalize(jobs, market, job_id, stranger)
        assert market.getJob(job_id).state == state
        with ape.reverts(market.WrongJobState, expected=SUBMITTED, actual=state):
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
        staking.StakeSlashed(account=solver, amount=REQUIRED_STAKE, market=market)
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
