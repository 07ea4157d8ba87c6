"""Stake, verifier reward and sample size (pinpoint/economics.py).

Run: .venv/bin/python -m pytest -p no:ape_test tests/protocol/test_economics.py
"""

import itertools
import math
import random
from fractions import Fraction

import pytest

from pinpoint.economics import (
    cheating_gain,
    MAX_SAMPLE_COUNT,
    default_samples,
    detection_probability,
    job_economics,
    minimum_stake,
    required_stake,
    samples_for_detection,
    verifier_reward,
)

ETHER = 10**18


@pytest.mark.parametrize("n", range(1, 8))
def test_detection_probability_matches_enumeration(n):
    # Faked intervals are 0..k-1 (the sample is uniform, so which ones does not matter).
    for s in range(n + 1):
        subsets = list(itertools.combinations(range(n), s))
        for k in range(n + 1):
            hits = sum(1 for subset in subsets if any(i < k for i in subset))
            assert detection_probability(n, s, k) == pytest.approx(hits / len(subsets), abs=1e-12)


def test_detection_edges():
    assert detection_probability(32, 0, 5) == 0.0
    assert detection_probability(32, 5, 0) == 0.0
    assert detection_probability(32, 1, 1) == pytest.approx(1 / 32)
    assert detection_probability(32, 4, 1) == pytest.approx(4 / 32)
    assert detection_probability(32, 4, 29) == 1.0  # 4 samples among 3 honest intervals cannot all miss
    assert detection_probability(32, 4, 28) < 1.0


def test_monte_carlo_agrees_with_detection_probability():
    rng = random.Random(1234)
    trials = 4000
    for n, s, k in [(32, 1, 4), (32, 4, 1), (32, 4, 8), (16, 3, 2), (10, 5, 1)]:
        p = detection_probability(n, s, k)
        hits = sum(1 for _ in range(trials) if min(rng.sample(range(n), s)) < k)
        tolerance = 4 * math.sqrt(p * (1 - p) / trials) + 1e-9
        assert abs(hits / trials - p) <= tolerance, (n, s, k, hits / trials, p)


@pytest.mark.parametrize("n", [1, 2, 5, 16, 32, 100])
def test_samples_for_detection_is_minimal(n):
    def exact(s, k):  # detection probability without float rounding
        return 1 - Fraction(math.comb(n - k, s), math.comb(n, s))

    for k in {1, min(2, n), n // 2 or 1, n}:
        for target in (0.01, 0.1, 0.25, 0.5, 0.9, 0.99, 1.0):
            s = samples_for_detection(n, k, target)
            assert 1 <= s <= n
            assert exact(s, k) >= Fraction(repr(target))
            assert s == 1 or exact(s - 1, k) < Fraction(repr(target))


def test_default_samples():
    assert default_samples(1) == 1
    assert default_samples(8) == 1
    assert default_samples(32) == 4  # 1/10 of 32, rounded up
    assert default_samples(1000) == 100
    assert default_samples(32, target_detection=0.5) == 16
    assert default_samples(32, target_detection=1) == 32
    # Capped at the market's MAX_SAMPLE_COUNT, so every audit reveal fits in a block; the stake grows instead.
    assert default_samples(1280) == 128 == default_samples(1281) == default_samples(2**20) == MAX_SAMPLE_COUNT
    assert required_stake(10**18, 2**20, 128) > required_stake(10**18, 1280, 128)


STAKE_CASES = [
    # payment, n, s, keyword arguments
    (ETHER, 32, 1, {}),
    (ETHER, 32, 4, {}),
    (ETHER, 32, 8, {}),
    (10**17 + 7, 8, 1, {}),
    (ETHER, 32, 4, {"extra_gain_ratio": 0, "catch_rate": 0.5}),  # worst strategy: fake everything
    (ETHER, 32, 4, {"extra_gain_ratio": 0.3, "catch_rate": 0.9, "cost_ratio": 0.6}),
    (999_999_937, 13, 3, {"extra_gain_ratio": 2}),
    (12345, 5, 2, {"cost_ratio": Fraction(9, 10)}),
]


@pytest.mark.parametrize("payment,n,s,kwargs", STAKE_CASES)
def test_minimum_stake_makes_every_strategy_lose_and_is_tight(payment, n, s, kwargs):
    stake = minimum_stake(payment, n, s, margin=1, **kwargs)
    assert stake > 0
    gains = [cheating_gain(payment, stake, n, s, k, **kwargs) for k in range(1, n + 1)]
    assert max(gains) < 0
    less = [cheating_gain(payment, stake - 1, n, s, k, **kwargs) for k in range(1, n + 1)]
    assert max(less) >= 0
    # The margin multiplies the tight stake, rounded up.
    assert minimum_stake(payment, n, s, margin=1.5, **kwargs) == math.ceil(Fraction(3, 2) * stake)


def test_worst_strategy():
    # With a gain beyond the saved compute, faking a single interval (the least likely to be caught) is
    # worst; with imperfect enforcement and no extra gain, faking everything is.
    stake = minimum_stake(ETHER, 32, 4, margin=1)
    gains = [cheating_gain(ETHER, stake - 1, 32, 4, k) for k in range(1, 33)]
    assert max(range(32), key=gains.__getitem__) == 0
    # closed form for k = 1: S > (C/n + G) n/s - G - P = C/s + G (n - s)/s - P
    assert stake == math.floor(Fraction(4, 5) * ETHER / 4 + ETHER * 28 / 4 - ETHER) + 1
    stake = minimum_stake(ETHER, 32, 4, extra_gain_ratio=0, catch_rate=0.5, margin=1)
    assert stake == math.floor(Fraction(4, 5) * ETHER * 2 - ETHER) + 1  # C/q - P
    gains = [cheating_gain(ETHER, stake - 1, 32, 4, k, extra_gain_ratio=0, catch_rate=0.5) for k in range(1, 33)]
    assert max(range(32), key=gains.__getitem__) == 31


def test_pure_cost_saver_is_deterred_by_the_forfeited_payment():
    # No extra gain, sure enforcement: p_k >= k/n and C < P, so cheating loses even with no stake.
    assert minimum_stake(ETHER, 32, 1, extra_gain_ratio=0) == 0
    assert max(cheating_gain(ETHER, 0, 32, 1, k, extra_gain_ratio=0) for k in range(1, 33)) < 0


def test_stake_ten_times_smaller_lets_cheating_pay():
    for s in (1, 2, 4, 8):
        stake = minimum_stake(ETHER, 32, s)
        assert max(cheating_gain(ETHER, stake, 32, s, k) for k in range(1, 33)) < 0
        assert max(cheating_gain(ETHER, stake // 10, 32, s, k) for k in range(1, 33)) > 0


def test_more_samples_need_less_stake():
    stakes = [minimum_stake(ETHER, 64, s) for s in range(1, 65)]
    assert all(a >= b for a, b in itertools.pairwise(stakes))


def test_minimum_stake_scales_with_payment_and_stays_fast_for_large_jobs():
    assert minimum_stake(2 * ETHER, 32, 4, margin=1) in (2 * minimum_stake(ETHER, 32, 4, margin=1) - 1,
                                                          2 * minimum_stake(ETHER, 32, 4, margin=1))
    assert minimum_stake(0, 32, 4, margin=1) == 1  # a free job: 1 wei turns break-even into a loss
    stake = minimum_stake(ETHER, 5000, 500, margin=1)  # exact over 5000 strategies
    assert stake == math.floor(Fraction(4, 5) * ETHER / 500 + ETHER * Fraction(4500, 500) - ETHER) + 1


def test_verifier_reward():
    assert verifier_reward(ETHER, 4, 32, margin=1) == ETHER // 10  # 4/32 of 0.8 P
    assert verifier_reward(ETHER, 4, 32) == ETHER // 8
    assert verifier_reward(ETHER, 0, 32) == 0
    assert verifier_reward(ETHER, 32, 32, replay_cost_ratio=1, margin=1) == ETHER
    assert verifier_reward(10, 1, 3, margin=1) == 3  # ceil(8/3): never underpaid by rounding


def test_required_stake_is_the_model_floored_at_the_payment():
    # Every interval sampled: the model asks for nothing, the market still asks for the escrow.
    assert minimum_stake(ETHER, 8, 8) == 0
    assert required_stake(ETHER, 8, 8) == ETHER
    assert job_economics(ETHER, 8, samples=8).required_stake == ETHER
    # Where the model asks for more than the payment, it stands.
    assert required_stake(ETHER, 32, 4) == minimum_stake(ETHER, 32, 4) > ETHER
    with pytest.raises(ValueError, match="payment"):
        required_stake(-1, 8, 8)


def test_job_economics_defaults():
    terms = job_economics(ETHER, 32)
    assert terms.samples == 4
    assert terms.detection_one_faked == pytest.approx(0.125)
    assert terms.required_stake == required_stake(ETHER, 32, 4) == minimum_stake(ETHER, 32, 4)
    assert terms.verifier_reward == verifier_reward(ETHER, 4, 32)
    assert job_economics(ETHER, 32, samples=8).samples == 8


@pytest.mark.parametrize("call,message", [
    (lambda: minimum_stake(-1, 32, 4), "payment"),
    (lambda: minimum_stake(ETHER, 0, 0), "checkpoint_count"),
    (lambda: minimum_stake(ETHER, 32, 33), "samples: cannot exceed checkpoint_count"),
    (lambda: minimum_stake(ETHER, 32, 0), "samples: with 0 sampled intervals"),
    (lambda: minimum_stake(ETHER, 32, 4, catch_rate=0), "catch_rate"),
    (lambda: minimum_stake(ETHER, 32, 4, catch_rate=1.5), "catch_rate"),
    (lambda: minimum_stake(ETHER, 32, 4, margin=0.5), "margin"),
    (lambda: minimum_stake(ETHER, 32, 4, cost_ratio=-0.1), "cost_ratio"),
    (lambda: minimum_stake(ETHER, 32, 4, cost_ratio=float("nan")), "cost_ratio"),
    (lambda: minimum_stake(1.5, 32, 4), "payment"),
    (lambda: minimum_stake(ETHER, True, 1), "checkpoint_count"),
    (lambda: detection_probability(0, 0, 0), "checkpoint_count"),
    (lambda: detection_probability(8, 9, 1), "samples"),
    (lambda: detection_probability(8, 2, 9), "faked"),
    (lambda: detection_probability(8, -1, 1), "samples"),
    (lambda: samples_for_detection(8, 0, 0.5), "faked"),
    (lambda: samples_for_detection(8, 1, 0), "target"),
    (lambda: samples_for_detection(8, 1, 1.1), "target"),
    (lambda: default_samples(0), "checkpoint_count"),
    (lambda: verifier_reward(-5, 1, 8), "payment"),
    (lambda: verifier_reward(ETHER, 9, 8), "samples"),
    (lambda: cheating_gain(ETHER, -1, 8, 1, 1), "stake"),
])
def test_bad_inputs_name_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()
