"""Market: the awarded solver's progress commitments and result submission, and checkpoint leaves."""

import ape
from eth_abi import encode
from eth_utils import keccak
from market_helpers import (
    BIDDING,
    CHECKPOINT_COUNT,
    CHECKPOINT_INTERVAL,
    PRICE,
    ROOT,
    RUNNING,
    SUBMITTED,
    ZERO32,
    logs,
)

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


def test_submitResult_recordsSubmissionAndArmsSample_windowWaitsForTheSeal(market, jobs, staked, solver):
    job_id = jobs.awarded(solver)
    tx = market.submitResult(job_id, ROOT, sender=solver)
    job = market.getJob(job_id)
    assert (job.state, job.finalRoot) == (SUBMITTED, ROOT)
    assert (job.submittedAt, job.sampleBlock) == (tx.timestamp, tx.block_number + 1)
    # The review (and with it the challenge window) starts only when the sample is sealed.
    assert (job.challengeDeadline, job.sampleSealedAt, job.sampleSeed) == (0, 0, ZERO32)
    assert logs(tx, market.ResultSubmitted) == [
        market.ResultSubmitted(jobId=job_id, finalRoot=ROOT, sampleBlock=tx.block_number + 1)
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


# --- checkpoint leaves --------------------------------------------------------------------------


def test_checkpointLeaf_matchesStandardMerkleTreeLeaf(market):
    state_hash = b"\x44" * 32
    inner = keccak(encode(["uint256", "uint256", "uint256", "bytes32"], [7, 3, 3 * CHECKPOINT_INTERVAL, state_hash]))
    assert market.checkpointLeaf(7, 3, 3 * CHECKPOINT_INTERVAL, state_hash) == keccak(inner)
