"""Accounting invariants under seeded random sequences of actions by several actors.

Invariants, checked after every step:
- Staking's balance always equals the sum over accounts of free + locked + pending stake.
- Market's balance always equals totalEscrow + totalCredits.
- totalEscrow equals the max price of every job not yet settled (Bidding, Running, Submitted).
- totalCredits equals the sum of the actors' credits (only actors ever earn credits here).
- An account's locked stake equals the required stake of the open jobs it is the (best) solver of.
- Nobody verifies here, so a job that reaches the end of its review ends Unverified: its solver is never
  credited, and its submitter gets the whole escrow back.
"""

import random
from collections import Counter

import pytest
from ape.exceptions import ContractLogicError
from market_helpers import (
    BIDDING,
    FINALIZED,
    RUNNING,
    SUBMITTED,
    UNVERIFIED,
    sample_count,
)

ETH = 10**18
STEPS = 70
OPEN_STATES = (BIDDING, RUNNING, SUBMITTED)
ALL_ACTIONS = ["deposit", "request", "withdraw", "post", "bid", "close", "progress", "submit", "seal", "finalize",
               "missed", "claim", "wait"]


class Sequence:
    """Plays random (often valid, sometimes reverting) actions and checks the invariants after each."""

    def __init__(self, rng, chain, staking, market, actors):
        self.rng, self.chain, self.staking, self.market, self.actors = rng, chain, staking, market, actors
        self.reverts = 0
        self.succeeded = Counter()
        self.jobs = {}
        self.now = chain.blocks.head.timestamp  # the sequence's own clock: one second per step, plus the waits
        self.minimum_challenge = market.minimumChallengeDuration()

    def actor(self):
        return self.rng.choice(self.actors)

    def in_state(self, state, expired):
        """Ids of the jobs in `state` whose current window has (or has not) passed its deadline. A submitted
        job's window is its review, which starts when its sample is sealed."""
        deadline = {BIDDING: "biddingDeadline", RUNNING: "executionDeadline", SUBMITTED: "challengeDeadline"}[state]
        return [
            job_id
            for job_id, job in self.jobs.items()
            if job.state == state and (state != SUBMITTED or job.sampleSealedAt)
            and (getattr(job, deadline) < self.now) == expired
        ]

    def unsealed(self):
        return [job_id for job_id, job in self.jobs.items() if job.state == SUBMITTED and not job.sampleSealedAt]

    def job(self, state, expired=False):
        """Mostly a job in `state` with its window open (or passed), sometimes any id, to exercise the guards."""
        in_state = self.in_state(state, expired)
        if in_state and self.rng.random() < 0.9:
            return self.rng.choice(in_state)
        return self.rng.randint(1, len(self.jobs) + 1)

    def solver_of(self, job_id):
        """Mostly the job's solver, sometimes anyone (which must revert unless it is the solver)."""
        job = self.jobs.get(job_id)
        solvers = [a for a in self.actors if job and a.address == job.solver]
        return solvers[0] if solvers and self.rng.random() < 0.9 else self.actor()

    def step(self):
        rng, staking, market = self.rng, self.staking, self.market
        # Each step's block lands at the sequence's clock: a seeded sequence's timing does not depend on how
        # fast the machine runs it.
        self.now += 1
        self.chain.pending_timestamp = self.now
        # Mostly actions that can succeed now; the rest exercise the guards.
        plausible = ["deposit", "request", "withdraw", "post", "claim", "wait", "wait"]
        plausible += ["bid", "bid", "bid"] if self.in_state(BIDDING, expired=False) else []
        plausible += ["close", "close"] if self.in_state(BIDDING, expired=True) else []
        plausible += ["progress", "submit", "submit"] if self.in_state(RUNNING, expired=False) else []
        plausible += ["missed", "missed"] if self.in_state(RUNNING, expired=True) else []
        plausible += ["seal", "seal"] if self.unsealed() else []
        plausible += ["finalize", "finalize"] if self.in_state(SUBMITTED, expired=True) else []
        self.action = action = rng.choice(plausible if rng.random() < 0.9 else ALL_ACTIONS)
        who = self.actor()
        if action == "deposit":
            staking.deposit(sender=who, value=rng.randint(1, 3) * ETH // 2)
        elif action == "request":
            free = staking.freeStake(who)
            staking.requestWithdrawal(rng.randint(0, free + 1) if free else 1, sender=who)
        elif action == "withdraw":
            staking.withdraw(sender=who)
        elif action == "post":
            # Same draws, in the same order, as before sample counts existed: the seeded sequences are unchanged.
            spec, count, interval = rng.randbytes(32), rng.randint(1, 5), rng.randint(1, 100)
            stake = rng.randint(1, 4) * ETH // 4
            bidding, execution, challenge = rng.randint(100, 400), rng.randint(200, 900), rng.randint(50, 300)
            challenge += self.minimum_challenge  # the review holds the audit's commit and reveal windows
            value = rng.randint(1, 10) * ETH // 10
            samples = sample_count(value, count, stake)  # a stake below the payment is refused: a guard exercised
            market.postJob(spec, count, interval, samples, stake, bidding, execution, challenge, sender=who,
                           value=value)
        elif action == "bid":
            job_id = self.job(BIDDING)
            job = self.jobs.get(job_id)
            ceiling = (job.price or job.maxPrice) if job else ETH
            market.bid(job_id, rng.randint(0, ceiling + 1), sender=who)
        elif action == "close":
            market.closeBidding(self.job(BIDDING, expired=True), sender=who)
        elif action == "progress":
            job_id = self.job(RUNNING)
            done = self.jobs[job_id].checkpointsDone if job_id in self.jobs else 0
            market.postProgress(job_id, done + rng.randint(1, 2), rng.randbytes(32), sender=self.solver_of(job_id))
        elif action == "submit":
            job_id = self.job(RUNNING)
            market.submitResult(job_id, rng.randbytes(32), sender=self.solver_of(job_id))
        elif action == "seal":
            unsealed = self.unsealed()
            market.sealSample(rng.choice(unsealed) if unsealed else rng.randint(1, len(self.jobs) + 1), sender=who)
        elif action == "finalize":
            market.finalize(self.job(SUBMITTED, expired=True), sender=who)
        elif action == "missed":
            market.reportMissedDeadline(self.job(RUNNING, expired=True), sender=who)
        elif action == "claim":
            market.claim(sender=who)
        else:
            self.now += rng.choice([1, 30, 60, 120, 300, 600, 900, 24 * 3600])

    def check_invariants(self):
        staking, market = self.staking, self.market
        stake = sum(
            staking.freeStake(a) + staking.lockedStake(a) + staking.pendingWithdrawal(a) for a in self.actors
        )
        assert staking.balance == stake, "Staking balance != free + locked + pending"
        assert market.balance == market.totalEscrow() + market.totalCredits(), "Market balance != escrow + credits"

        # Settled jobs never change again: re-read only the open ones.
        for job_id in range(1, market.jobCount() + 1):
            if job_id not in self.jobs or self.jobs[job_id].state in OPEN_STATES:
                self.jobs[job_id] = market.getJob(job_id)
        open_jobs = [j for j in self.jobs.values() if j.state in OPEN_STATES]
        assert market.totalEscrow() == sum(j.maxPrice for j in open_jobs)
        assert market.totalCredits() == sum(market.credits(a) for a in self.actors)
        for a in self.actors:
            expected_locked = sum(j.requiredStake for j in open_jobs if j.solver == a.address)
            assert staking.lockedStake(a) == expected_locked, f"locked stake of {a.address} out of step"
        assert not any(j.state == FINALIZED for j in self.jobs.values()), "paid without an approving verifier"

    def play(self, steps):
        for _ in range(steps):
            try:
                self.step()
                self.succeeded[self.action] += 1
            except ContractLogicError:
                self.reverts += 1
            self.check_invariants()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_accounting_randomActions_keepBalancesEqualToLedgers(
    seed, chain, staking, market, submitter, solver, solver2, stranger
):
    actors = [submitter, solver, solver2, stranger]
    for actor in actors:
        staking.deposit(sender=actor, value=ETH)
    sequence = Sequence(random.Random(seed), chain, staking, market, actors)
    sequence.play(STEPS)
    # The sequence must mostly exercise real transitions, not just reverts.
    assert sequence.reverts < STEPS * 0.7
    assert {"post", "bid", "close", "submit", "seal"} <= set(sequence.succeeded)
    print(f"seed {seed}: ok {dict(sequence.succeeded)}, {sequence.reverts} reverts, "
          f"{sum(j.state == UNVERIFIED for j in sequence.jobs.values())} unverified")
