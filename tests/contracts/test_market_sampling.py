"""Market: the minimum stake, the sample count, and the unpredictable sample (sealSample / sampledIntervals).

The Python mirrors are the reference: pinpoint.economics.required_stake (minimum_stake with the default
parameters, floored at the escrow) for minimumStake, pinpoint.sampling.sample_seed /
sampled_intervals for the seed and the drawn intervals.
"""

import random

import ape
import pytest
from audit_helpers import CLAIMED, TRUTH, approved, finalize, proven_job, seal
from dispute_helpers import CHALLENGE_BOND, DISPUTED, open_challenges
from market_helpers import (
    BIDDING,
    CHALLENGE_DURATION,
    CHECKPOINT_COUNT,
    FINALIZED,
    MAX_PRICE,
    NONE,
    REQUIRED_STAKE,
    RUNNING,
    SUBMITTED,
    UNVERIFIED,
    ZERO32,
    logs,
)

from pinpoint.economics import minimum_stake, required_stake
from pinpoint.sampling import sample_seed, sampled_intervals

# Payments that exercise the integer rounding: 1 wei, small odd values, around one ether, and large.
PAYMENTS = [1, 2, 3, 7, 999, 10**18 - 1, 10**18, 10**18 + 1, 123_456_789_012_345_678_901]
SMALL_PAYMENT = 10**15  # keeps the minimum stake of big, sparsely sampled jobs under REQUIRED_STAKE


def job_with(jobs, market, solver, count, samples, payment=SMALL_PAYMENT):
    """A submitted job with `count` checkpoints and `samples` sampled intervals (root: market_helpers.ROOT)."""
    return jobs.submitted(solver, price=payment // 2, value=payment, checkpointCount=count, sampleCount=samples)


# --- minimumStake ------------------------------------------------------------------------------------------


def test_minimumStake_matchesPythonEconomicsWithFloor_onGrid(market):
    mismatches = []
    floored = formula = 0
    for n in range(1, 11):
        for s in range(1, n + 1):
            for payment in PAYMENTS:
                expected = required_stake(payment, n, s)
                actual = market.minimumStake(payment, n, s)
                if actual != expected:
                    mismatches.append((payment, n, s, actual, expected))
                floored += minimum_stake(payment, n, s) < payment
                formula += minimum_stake(payment, n, s) > payment
    assert mismatches == []
    assert floored > 0 and formula > 0  # the grid exercises both the floor and the formula


@pytest.mark.parametrize("n, s", [(32, 1), (32, 3), (100, 1), (100, 10), (257, 26), (1000, 1), (1000, 100)])
def test_minimumStake_matchesPythonEconomicsWithFloor_largeJobs(market, n, s):
    for payment in PAYMENTS:
        assert market.minimumStake(payment, n, s) == required_stake(payment, n, s)


def test_minimumStake_matchesPythonEconomicsWithFloor_random(market):
    rng = random.Random(7)
    for _ in range(40):
        n = rng.randint(1, 300)
        s = rng.randint(1, n)
        payment = rng.choice([rng.randint(1, 1000), rng.randint(1, 10**21)])
        assert market.minimumStake(payment, n, s) == required_stake(payment, n, s), (payment, n, s)


@pytest.mark.parametrize("payment", PAYMENTS)
def test_minimumStake_neverBelowTheEscrow(market, payment):
    # The floor: every sample count, down to sampling every interval (where the formula asks nothing).
    for n, s in [(1, 1), (4, 2), (4, 4), (10, 9), (10, 10), (100, 100)]:
        assert market.minimumStake(payment, n, s) >= payment
    assert minimum_stake(payment, 4, 4) == 0
    assert market.minimumStake(payment, 4, 4) == payment


def test_minimumStake_defaultJob_isCoveredByRequiredStake(market):
    # The shared fixtures rely on this: REQUIRED_STAKE meets the default job's minimum, which is the floor.
    assert minimum_stake(MAX_PRICE, CHECKPOINT_COUNT, 2) < MAX_PRICE
    assert market.minimumStake(MAX_PRICE, CHECKPOINT_COUNT, 2) == MAX_PRICE <= REQUIRED_STAKE
    assert market.minimumStake(MAX_PRICE, CHECKPOINT_COUNT, 1) > REQUIRED_STAKE


# --- postJob: sample count and stake ------------------------------------------------------------------------


@pytest.mark.parametrize("payment, n, s", [(MAX_PRICE, 4, 1), (MAX_PRICE + 1, 4, 2), (7, 10, 3), (1, 1000, 1)])
def test_postJob_stakeBelowMinimum_reverts_andMinimumIsAccepted(market, jobs, payment, n, s):
    minimum = required_stake(payment, n, s)
    assert minimum > 1
    with ape.reverts(market.StakeBelowMinimum, requiredStake=minimum - 1, minimum=minimum):
        jobs.post(value=payment, checkpointCount=n, sampleCount=s, requiredStake=minimum - 1)
    job_id = jobs.post(value=payment, checkpointCount=n, sampleCount=s, requiredStake=minimum)
    job = market.getJob(job_id)
    assert (job.requiredStake, job.sampleCount, job.checkpointCount, job.state) == (minimum, s, n, BIDDING)


def test_postJob_everyIntervalSampled_stakeStillMatchesTheEscrow(market, jobs):
    # Sampling every interval, the formula asks nothing (the forfeited payment alone deters a cost-saver),
    # but the floor does: a withheld checkpoint costs the same stake, whatever the sample.
    assert market.minimumStake(MAX_PRICE, 4, 4) == MAX_PRICE
    with ape.reverts(market.ZeroRequiredStake):
        jobs.post(checkpointCount=4, sampleCount=4, requiredStake=0)
    with ape.reverts(market.StakeBelowMinimum, requiredStake=1, minimum=MAX_PRICE):
        jobs.post(checkpointCount=4, sampleCount=4, requiredStake=1)
    with ape.reverts(market.StakeBelowMinimum, requiredStake=MAX_PRICE - 1, minimum=MAX_PRICE):
        jobs.post(checkpointCount=4, sampleCount=4, requiredStake=MAX_PRICE - 1)
    job_id = jobs.post(checkpointCount=4, sampleCount=4, requiredStake=MAX_PRICE)
    assert market.getJob(job_id).requiredStake == MAX_PRICE


def test_postJob_minimumIsSizedFromTheEscrow(market, jobs):
    # The stake is fixed before the price is known: the minimum uses msg.value, whatever the bids will be.
    minimum = required_stake(2 * MAX_PRICE, 4, 2)
    assert minimum == 2 * MAX_PRICE > required_stake(MAX_PRICE, 4, 2)
    with ape.reverts(market.StakeBelowMinimum, requiredStake=minimum - 1, minimum=minimum):
        jobs.post(value=2 * MAX_PRICE, requiredStake=minimum - 1)


def test_postJob_zeroSampleCount_reverts(market, jobs):
    with ape.reverts(market.ZeroSampleCount):
        jobs.post(sampleCount=0)


def test_postJob_tooManySamples_reverts(market, jobs):
    with ape.reverts(market.TooManySamples, sampleCount=CHECKPOINT_COUNT + 1, checkpointCount=CHECKPOINT_COUNT):
        jobs.post(sampleCount=CHECKPOINT_COUNT + 1)


def test_postJob_everyInterval_isAccepted(market, jobs):
    job_id = jobs.post(sampleCount=CHECKPOINT_COUNT)
    assert market.getJob(job_id).sampleCount == CHECKPOINT_COUNT


# --- submitResult arms the sample ---------------------------------------------------------------------------


def test_submitResult_seedBlockDoesNotExistYet(chain, market, jobs, staked, solver):
    job_id = jobs.awarded(solver)
    tx = market.submitResult(job_id, b"\x33" * 32, sender=solver)
    job = market.getJob(job_id)
    assert market.SAMPLE_DELAY_BLOCKS() == 1
    assert job.sampleBlock == tx.block_number + market.SAMPLE_DELAY_BLOCKS()
    # When the root was committed, the block whose hash seeds the sample had not been produced.
    assert job.sampleBlock > tx.block_number == chain.blocks.head.number
    assert (job.sampleSeed, job.sampleSealedAt) == (ZERO32, 0)


# --- sealSample -----------------------------------------------------------------------------------------------


def test_sealSample_beforeSeedBlockIsMined_reverts(market, jobs, staked, solver, stranger):
    job_id = jobs.submitted(solver)
    sample_block = market.getJob(job_id).sampleBlock
    # The next transaction would land in the seed block itself: its hash is not known inside it.
    with ape.reverts(market.SampleBlockNotMined, sampleBlock=sample_block):
        market.sealSample(job_id, sender=stranger)


@pytest.mark.parametrize("state", [NONE, BIDDING, RUNNING, FINALIZED, UNVERIFIED])
def test_sealSample_wrongState_reverts(chain, market, audit, jobs, staked, registered, solver, stranger, state):
    if state == NONE:
        job_id = 99
    elif state == BIDDING:
        job_id = jobs.post()
    elif state == RUNNING:
        job_id = jobs.awarded(solver)
    elif state == FINALIZED:
        job_id = approved(jobs, market, audit, solver, registered[0]).job_id
        finalize(jobs, market, job_id, stranger)
    else:
        job_id = proven_job(jobs, market, solver).job_id
        seal(chain, market, job_id, stranger)
        finalize(jobs, market, job_id, stranger)
    assert market.getJob(job_id).state == state
    chain.mine(2)
    with ape.reverts(market.WrongJobState, expected=SUBMITTED, actual=state):
        market.sealSample(job_id, sender=stranger)


def test_sealSample_fixesSeedFromTheSeedBlockHash(chain, market, jobs, staked, solver, stranger):
    root = b"\x44" * 32
    job_id = jobs.submitted(solver, root=root)
    sample_block = market.getJob(job_id).sampleBlock
    tx = seal(chain, market, job_id, stranger)
    assert tx.block_number > sample_block
    block_hash = bytes(chain.blocks[sample_block].hash)
    seed = sample_seed(block_hash, job_id, root)
    job = market.getJob(job_id)
    assert bytes(job.sampleSeed) == seed
    assert (job.sampleBlock, job.sampleSealedAt, job.state) == (sample_block, tx.timestamp, SUBMITTED)
    # The review starts at the seal: the challenge window runs from it.
    assert job.challengeDeadline == tx.timestamp + CHALLENGE_DURATION
    assert logs(tx, market.SampleSealed) == [
        market.SampleSealed(jobId=job_id, seed=seed, sampleBlock=sample_block, challengeDeadline=job.challengeDeadline)
    ]
    assert logs(tx, market.SampleRearmed) == []


def test_sealSample_twice_reverts(chain, market, jobs, staked, solver, stranger):
    job_id = jobs.submitted(solver)
    seal(chain, market, job_id, stranger)
    with ape.reverts(market.SampleAlreadySealed):
        market.sealSample(job_id, sender=stranger)


def test_sealSample_settledJob_revertsWrongState_sampleStaysReadable(chain, market, jobs, staked, solver,
                                                                     stranger):
    job_id = jobs.submitted(solver)
    seal(chain, market, job_id, stranger)
    seed = market.getJob(job_id).sampleSeed
    finalize(jobs, market, job_id, stranger)  # nobody approved: Unverified
    with ape.reverts(market.WrongJobState, expected=SUBMITTED, actual=UNVERIFIED):
        market.sealSample(job_id, sender=stranger)
    # The sealed sample stays readable after settlement.
    assert market.getJob(job_id).sampleSeed == seed
    assert len(market.sampledIntervals(job_id)) == 2


def test_sealSample_disputedJob_wasSealedBeforeItsChallenge(chain, market, game, jobs, staked, solver, challenger,
                                                            stranger):
    # A challenge needs the sealed sample (and the commit window behind it), so no dispute starts unsealed
    # and a disputed job has nothing left to seal.
    job = proven_job(jobs, market, solver, CLAIMED)
    with ape.reverts(market.SampleNotSealed):
        game.challenge(*job.challenge_args(1, TRUTH[16]), sender=challenger, value=CHALLENGE_BOND)
    open_challenges(chain, market, job.job_id, stranger)
    sealed = market.getJob(job.job_id)
    game.challenge(*job.challenge_args(1, TRUTH[16]), sender=challenger, value=CHALLENGE_BOND)
    assert market.getJob(job.job_id).state == DISPUTED
    with ape.reverts(market.SampleAlreadySealed):
        market.sealSample(job.job_id, sender=stranger)
    job_after = market.getJob(job.job_id)
    assert (job_after.sampleSeed, job_after.sampleSealedAt) == (sealed.sampleSeed, sealed.sampleSealedAt)


def test_sealSample_256BlocksLater_stillSeals(chain, market, jobs, staked, solver, stranger):
    job_id = jobs.submitted(solver)
    sample_block = market.getJob(job_id).sampleBlock
    chain.mine(sample_block + 255 - chain.blocks.head.number)  # the seal lands in sampleBlock + 256
    tx = market.sealSample(job_id, sender=stranger)
    assert tx.block_number == sample_block + 256
    seed = sample_seed(bytes(chain.blocks[sample_block].hash), job_id, market.getJob(job_id).finalRoot)
    assert logs(tx, market.SampleSealed) == [
        market.SampleSealed(job_id, seed, sample_block, tx.timestamp + CHALLENGE_DURATION)
    ]


def test_sealSample_hashGone_rearmsOnANewBlock_thenSeals(chain, market, jobs, staked, solver, stranger):
    job_id = jobs.submitted(solver)
    old_block = market.getJob(job_id).sampleBlock
    chain.mine(260)
    tx = market.sealSample(job_id, sender=stranger)
    assert tx.block_number > old_block + 256
    new_block = tx.block_number + 1
    assert logs(tx, market.SampleRearmed) == [market.SampleRearmed(jobId=job_id, sampleBlock=new_block)]
    assert logs(tx, market.SampleSealed) == []
    job = market.getJob(job_id)
    assert (job.sampleBlock, job.sampleSeed, job.sampleSealedAt, job.state) == (new_block, ZERO32, 0, SUBMITTED)
    assert job.challengeDeadline == 0  # no review until the sample is sealed
    with ape.reverts(market.SampleNotSealed):
        market.sampledIntervals(job_id)
    # The new seed block is in the future again: the re-armed draw is as unpredictable as the first one.
    with ape.reverts(market.SampleBlockNotMined, sampleBlock=new_block):
        market.sealSample(job_id, sender=stranger)

    tx = seal(chain, market, job_id, stranger)
    seed = sample_seed(bytes(chain.blocks[new_block].hash), job_id, job.finalRoot)
    assert logs(tx, market.SampleSealed) == [
        market.SampleSealed(job_id, seed, new_block, tx.timestamp + CHALLENGE_DURATION)
    ]
    assert market.getJob(job_id).sampleSealedAt == tx.timestamp
    assert list(market.sampledIntervals(job_id)) == sampled_intervals(seed, CHECKPOINT_COUNT, 2)


def test_sampledIntervals_beforeSealing_reverts(market, jobs, staked, solver):
    job_id = jobs.submitted(solver)
    with ape.reverts(market.SampleNotSealed):
        market.sampledIntervals(job_id)
    with ape.reverts(market.SampleNotSealed):
        market.sampledIntervals(99)


# --- sampledIntervals -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n, s", [(1, 1), (4, 1), (4, 2), (4, 4), (10, 10), (16, 5), (64, 1), (100, 7), (33, 32),
                                  (128, 128), (129, 128), (1000, 128), (5000, 128)])
def test_sampledIntervals_matchesPython_distinctAndInRange(chain, market, jobs, staked, solver, stranger, n, s):
    job_id = job_with(jobs, market, solver, n, s)
    seal(chain, market, job_id, stranger)
    seed = bytes(market.getJob(job_id).sampleSeed)
    sample = list(market.sampledIntervals(job_id))
    assert sample == sampled_intervals(seed, n, s)
    assert len(sample) == len(set(sample)) == s
    assert all(0 <= i < n for i in sample)
    if s == n:
        assert sorted(sample) == list(range(n))  # a permutation of every interval


# --- unpredictability -----------------------------------------------------------------------------------------


def test_sample_solverCannotPredictIt_theNextBlockDecides(chain, market, jobs, staked, solver, stranger):
    """Same job, same root, same seed block number: only the content of the block after submitResult
    changes (its timestamp, or one more transaction in it), and with it the seed and the sample. So when the
    solver commits its root it cannot know which intervals will be checked."""
    count, samples = 1000, 3
    job_id = job_with(jobs, market, solver, count, samples)
    job = market.getJob(job_id)
    base = chain.pending_timestamp + 10
    outcomes = []
    for delay, extra_tx in [(0, False), (7, False), (0, True)]:
        snapshot = chain.snapshot()
        if extra_tx:
            chain.pending_timestamp = base + delay
            stranger.transfer(stranger, 1)  # the seed block now holds one more transaction
        else:
            chain.mine(1, timestamp=base + delay)
        assert chain.blocks.head.number == job.sampleBlock
        market.sealSample(job_id, sender=stranger)
        block_hash = bytes(chain.blocks[job.sampleBlock].hash)
        sealed = market.getJob(job_id)
        seed = bytes(sealed.sampleSeed)
        assert (sealed.finalRoot, sealed.sampleBlock) == (job.finalRoot, job.sampleBlock)
        assert seed == sample_seed(block_hash, job_id, bytes(job.finalRoot))
        sample = list(market.sampledIntervals(job_id))
        assert sample == sampled_intervals(seed, count, samples)
        outcomes.append((block_hash, seed, tuple(sample)))
        chain.restore(snapshot)
    hashes, seeds, sample_sets = zip(*outcomes)
    assert len(set(hashes)) == len(set(seeds)) == 3
    # 3 of 1000 intervals: the same ordered sample twice would be a ~1e-9 coincidence.
    assert len(set(sample_sets)) == 3
    # After the restores the job is unsealed again, as it was at submission.
    assert market.getJob(job_id).sampleSeed == ZERO32
