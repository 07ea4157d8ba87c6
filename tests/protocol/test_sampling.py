"""The sample and the audit commitment as the contracts compute them (tests/contracts cross-check the
two on chain): in range, distinct, reproducible, uniform, and decided by the seed alone."""

import os
from collections import Counter

import pytest

from pinpoint.sampling import audit_commitment, sample_seed, sampled_intervals

SEED = bytes.fromhex("5e" * 32)


@pytest.mark.parametrize(("n", "s"), [(1, 1), (8, 1), (16, 3), (100, 10), (7, 7)])
def test_sample_isDistinctInRangeAndReproducible(n, s):
    sample = sampled_intervals(SEED, n, s)
    assert len(sample) == len(set(sample)) == s and all(0 <= i < n for i in sample)
    assert sampled_intervals(SEED, n, s) == sample


def test_fullSample_isAPermutationOfEveryInterval():
    assert sorted(sampled_intervals(SEED, 9, 9)) == list(range(9))


def test_sample_isUniform_everyIntervalEquallyLikely():
    n, s, draws = 10, 3, 4000
    counts = Counter(i for _ in range(draws) for i in sampled_intervals(os.urandom(32), n, s))
    expected = draws * s / n  # 1200 per interval; a binomial sd of about 29
    assert set(counts) == set(range(n))
    assert all(abs(c - expected) < 6 * 29 for c in counts.values()), counts


def test_sample_dependsOnTheSeedBlock_soASolverCannotFitItsRootToIt():
    root = os.urandom(32)
    # The seed block is mined after the root is committed: one different block hash, another sample.
    samples = {tuple(sampled_intervals(sample_seed(os.urandom(32), 1, root), 1000, 5)) for _ in range(20)}
    assert len(samples) == 20
    # The seed also binds the job and the root, so one lucky block cannot serve every job.
    block = os.urandom(32)
    assert sample_seed(block, 1, root) != sample_seed(block, 2, root) != sample_seed(block, 1, os.urandom(32))


@pytest.mark.parametrize(("n", "s"), [(4, 0), (4, 5), (0, 1)])
def test_sample_outOfRange_isRefused(n, s):
    with pytest.raises(ValueError, match="sample_count"):
        sampled_intervals(SEED, n, s)


def test_commitment_bindsJobVerifierSaltAndEveryHash():
    hashes = [os.urandom(32) for _ in range(3)]
    verifier, salt = "0x" + "11" * 20, os.urandom(32)
    base = audit_commitment(1, verifier, salt, hashes)
    assert audit_commitment(1, verifier, salt, list(hashes)) == base
    variants = [audit_commitment(2, verifier, salt, hashes), audit_commitment(1, "0x" + "22" * 20, salt, hashes),
                audit_commitment(1, verifier, os.urandom(32), hashes), audit_commitment(1, verifier, salt, hashes[::-1]),
                audit_commitment(1, verifier, salt, hashes[:2])]
    assert base not in variants and len(set(variants)) == len(variants)
