"""Audit: the verifier registry (register, requestExit, withdrawStake, stake history) and the stake-weighted
committee each job draws from it (rules in IAudit's NatSpec; the Python mirror is audit_helpers.is_drawn).

A job's committee is read from the registry as it was VERIFIER_DELAY seconds before its submission, with the
sample seed: verifier v (never the solver) is drawn iff COMMITTEE_SIZE * s_v >= T or
uint256(keccak256(abi.encode(seed, v))) % T < COMMITTEE_SIZE * s_v. Checks that must hold whatever the seed
run over several seeds (`reseals`: the seed block mined again with another timestamp).
"""

from fractions import Fraction

import ape
import pytest
from audit_helpers import (
    AUDIT_BOND,
    COMMITTEE_SIZE,
    MIN_VERIFIER_STAKE,
    VERIFIER_DELAY,
    VERIFIER_STAKE,
    Verifier,
    assert_audit_ledger,
    is_drawn,
    register,
    reseals,
    seal,
    seat_probability,
)
from market_helpers import ROOT, logs

SEEDS = 6


@pytest.fixture
def crowd(accounts, owner):
    """Fresh funded accounts, none of them a party to any job."""

    def make(count):
        made = [accounts.generate_test_account() for _ in range(count)]
        for account in made:
            owner.transfer(account, 120 * VERIFIER_STAKE)
        return made

    return make


def submit_at(chain, market, job_id, solver, timestamp):
    chain.pending_timestamp = timestamp
    return market.submitResult(job_id, ROOT, sender=solver)


def committee(audit, job_id, candidates) -> list[bool]:
    return [audit.isDrawn(job_id, c) for c in candidates]


# --- register ---------------------------------------------------------------------------------------------


def test_register_addsStake_andTopsUp(chain, audit, verifiers):
    v = verifiers[0]
    first = audit.register(sender=v, value=VERIFIER_STAKE)
    chain.pending_timestamp = first.timestamp + 1
    second = audit.register(sender=v, value=1)  # a top-up may be small: the stake stays above the minimum
    assert logs(first, audit.VerifierRegistered) == [audit.VerifierRegistered(v, VERIFIER_STAKE, VERIFIER_STAKE)]
    assert logs(second, audit.VerifierRegistered) == [audit.VerifierRegistered(v, 1, VERIFIER_STAKE + 1)]
    assert audit.stakeOf(v) == VERIFIER_STAKE + 1
    assert audit.stakeAt(v, first.timestamp - 1) == 0
    assert audit.stakeAt(v, first.timestamp) == VERIFIER_STAKE
    assert audit.stakeAt(v, second.timestamp) == VERIFIER_STAKE + 1
    chain.pending_timestamp = second.timestamp + 1
    audit.register(sender=verifiers[1], value=2 * VERIFIER_STAKE)
    chain.mine(1)
    assert audit.totalStakeAt(second.timestamp) == VERIFIER_STAKE + 1
    assert audit.totalStakeAt(chain.blocks.head.timestamp) == 3 * VERIFIER_STAKE + 1
    assert audit.totalHeld() == audit.balance == 3 * VERIFIER_STAKE + 1
    assert_audit_ledger(audit)


def test_register_guards_revert(audit, verifiers):
    with ape.reverts(audit.NoFunds):
        audit.register(sender=verifiers[0], value=0)
    with ape.reverts(audit.StakeTooLow, stake=MIN_VERIFIER_STAKE - 1, minimum=MIN_VERIFIER_STAKE):
        audit.register(sender=verifiers[0], value=MIN_VERIFIER_STAKE - 1)
    audit.register(sender=verifiers[0], value=MIN_VERIFIER_STAKE)
    assert audit.stakeOf(verifiers[0]) == audit.totalHeld() == MIN_VERIFIER_STAKE


# --- requestExit / withdrawStake ----------------------------------------------------------------------------


def test_exit_stakeLeavesTheRegistryNow_andIsWithdrawnOnlyAfterTheDelay(chain, audit, verifiers):
    leaver, stayer = verifiers[:2]
    registration = register(audit, [leaver, stayer])[-1]
    chain.pending_timestamp = registration.timestamp + 1
    tx = audit.requestExit(sender=leaver)
    available_at = tx.timestamp + VERIFIER_DELAY
    assert logs(tx, audit.VerifierExiting) == [audit.VerifierExiting(leaver, VERIFIER_STAKE, available_at)]
    assert (audit.stakeOf(leaver), audit.stakeAt(leaver, tx.timestamp - 1), audit.stakeAt(leaver, tx.timestamp)) == (
        0, VERIFIER_STAKE, 0)
    assert (audit.totalStakeAt(tx.timestamp - 1), audit.totalStakeAt(tx.timestamp)) == (2 * VERIFIER_STAKE,
                                                                                        VERIFIER_STAKE)
    # Still held (locked) until the delay is over: it can still be drawn for jobs submitted until then.
    assert audit.totalHeld() == audit.balance == 2 * VERIFIER_STAKE
    with ape.reverts(audit.NotRegistered):
        audit.requestExit(sender=leaver)

    chain.pending_timestamp = available_at - 1
    with ape.reverts(audit.ExitNotReady, availableAt=available_at):
        audit.withdrawStake(sender=leaver)
    chain.pending_timestamp = available_at
    tx = audit.withdrawStake(sender=leaver)
    assert logs(tx, audit.VerifierWithdrawn) == [audit.VerifierWithdrawn(leaver, VERIFIER_STAKE)]
    assert (audit.credits(leaver), audit.totalHeld(), audit.totalCredits()) == (VERIFIER_STAKE, VERIFIER_STAKE,
                                                                                VERIFIER_STAKE)
    assert_audit_ledger(audit)
    with ape.reverts(audit.NoPendingExit):
        audit.withdrawStake(sender=leaver)

    before = leaver.balance
    tx = audit.claim(sender=leaver)
    assert leaver.balance == before + VERIFIER_STAKE - tx.total_fees_paid
    assert (audit.balance, audit.totalHeld(), audit.totalCredits()) == (VERIFIER_STAKE, VERIFIER_STAKE, 0)
    assert audit.stakeOf(stayer) == VERIFIER_STAKE
    assert_audit_ledger(audit)


def test_exit_guards_revert(audit, verifiers):
    with ape.reverts(audit.NotRegistered):
        audit.requestExit(sender=verifiers[0])
    with ape.reverts(audit.NoPendingExit):
        audit.withdrawStake(sender=verifiers[0])


# --- the draw -------------------------------------------------------------------------------------------------


def test_isDrawn_matchesThePythonRule_stakeWeighted(chain, audit, market, jobs, staked, crowd, solver, stranger):
    """Ten verifiers with stakes from the minimum to a third of the total, over several seeds: the contract's
    committee is the rule's, draw for draw, and commit accepts exactly the drawn."""
    stakes = [MIN_VERIFIER_STAKE, MIN_VERIFIER_STAKE, 2 * 10**17, 3 * 10**17, 5 * 10**17, VERIFIER_STAKE,
              VERIFIER_STAKE, 2 * VERIFIER_STAKE, 3 * VERIFIER_STAKE, 4 * VERIFIER_STAKE]
    candidates = crowd(len(stakes))
    for account, stake in zip(candidates, stakes):
        audit.register(sender=account, value=stake)
    total = sum(stakes)
    assert COMMITTEE_SIZE * stakes[-1] >= total > COMMITTEE_SIZE * stakes[-2]  # one sure seat, the rest drawn
    job_id = jobs.awarded(solver)
    tx = submit_at(chain, market, job_id, solver, chain.blocks.head.timestamp + VERIFIER_DELAY + 1)
    as_of = tx.timestamp - VERIFIER_DELAY
    assert [audit.stakeAt(c, as_of) for c in candidates] == stakes
    assert audit.totalStakeAt(as_of) == total

    drawn, undrawn = set(), set()
    for seed in reseals(chain, market, job_id, stranger, SEEDS):
        expected = [is_drawn(seed, c.address, s, total) for c, s in zip(candidates, stakes)]
        assert committee(audit, job_id, candidates) == expected
        drawn |= {c.address for c, e in zip(candidates, expected) if e}
        undrawn |= {c.address for c, e in zip(candidates, expected) if not e}
    assert candidates[-1].address in drawn and candidates[-1].address not in undrawn
    assert len(undrawn) >= 3  # the draw is a draw: most verifiers sit out some seeds

    seal(chain, market, job_id, stranger)
    seed = bytes(market.getJob(job_id).sampleSeed)
    for account, stake in zip(candidates, stakes):
        if is_drawn(seed, account.address, stake, total):
            audit.commit(job_id, b"\x01" * 32, sender=account, value=AUDIT_BOND)
        else:
            with ape.reverts(audit.NotDrawn):
                audit.commit(job_id, b"\x01" * 32, sender=account, value=AUDIT_BOND)
    assert [v for v in audit.verifiersOf(job_id)] == [
        c.address for c, s in zip(candidates, stakes) if is_drawn(seed, c.address, s, total)]
    assert_audit_ledger(audit)


def test_solver_isNeverDrawn_evenWithASureSeat(chain, audit, market, jobs, staked, registered, solver, solver2,
                                               stranger):
    # The solver registers more than a quarter of the stake: any other job draws it every time.
    audit.register(sender=solver, value=4 * VERIFIER_STAKE)
    own = jobs.awarded(solver)
    other = jobs.awarded(solver2)
    start = chain.blocks.head.timestamp + VERIFIER_DELAY + 1
    submit_at(chain, market, own, solver, start)
    submit_at(chain, market, other, solver2, start + 1)
    chain.mine(1)
    for job_id in (own, other):
        market.sealSample(job_id, sender=stranger)
    assert (audit.isDrawn(own, solver), audit.isDrawn(other, solver)) == (False, True)
    with ape.reverts(audit.NotDrawn):
        Verifier(solver, [b"\x01" * 32] * 2).commit(audit, own)
    Verifier(solver, [b"\x01" * 32] * 2).commit(audit, other)
    assert audit.verifiersOf(own) == [] and audit.verifiersOf(other) == [solver]


def test_registration_countsOnlyIfVerifierDelayBeforeSubmission(chain, audit, market, jobs, staked, crowd, solver,
                                                                stranger):
    on_time, late = crowd(2)
    job_id = jobs.awarded(solver)
    at = chain.blocks.head.timestamp + 10
    chain.pending_timestamp = at
    assert audit.register(sender=on_time, value=VERIFIER_STAKE).timestamp == at
    chain.pending_timestamp = at + 1
    assert audit.register(sender=late, value=VERIFIER_STAKE).timestamp == at + 1
    submit_at(chain, market, job_id, solver, at + VERIFIER_DELAY)  # the registry is read as of `at`
    seal(chain, market, job_id, stranger)
    assert audit.totalStakeAt(at) == VERIFIER_STAKE
    assert committee(audit, job_id, [on_time, late]) == [True, False]


def test_registration_afterTheSnapshot_changesNothing(chain, audit, market, jobs, staked, registered, crowd, solver,
                                                      stranger):
    """The committee is frozen before the seed exists: stake registered inside the delay before submission,
    or once the seed is known, neither joins nor crowds out anyone."""
    before_submit, after_seed = crowd(2)
    job_id = jobs.awarded(solver)
    # 100 times the others' stake, registered during the delay before submission: a sure seat if it counted.
    audit.register(sender=before_submit, value=100 * VERIFIER_STAKE)
    tx = market.submitResult(job_id, ROOT, sender=solver)
    as_of = tx.timestamp - VERIFIER_DELAY
    assert audit.totalStakeAt(as_of) == 4 * VERIFIER_STAKE
    seal(chain, market, job_id, stranger)
    candidates = [*registered, before_submit, after_seed]
    frozen = committee(audit, job_id, candidates)
    assert frozen == [True] * 4 + [False, False]
    # Once the seed is known, anyone can compute who would be drawn: registering then changes nothing either,
    # neither a newcomer nor a member adding stake (which would crowd the others out if it counted).
    audit.register(sender=after_seed, value=100 * VERIFIER_STAKE)
    audit.register(sender=registered[0], value=100 * VERIFIER_STAKE)
    assert committee(audit, job_id, candidates) == frozen
    for account in (before_submit, after_seed):
        with ape.reverts(audit.NotDrawn):
            audit.commit(job_id, b"\x01" * 32, sender=account, value=AUDIT_BOND)


def test_exit_leavesCommitteesOfJobsSubmittedAfterTheDelay_notBefore(chain, audit, market, jobs, staked, registered,
                                                                     solver, solver2, stranger):
    leaver, others = registered[0], registered[1:]
    early, late = jobs.awarded(solver), jobs.awarded(solver2)
    exit_at = audit.requestExit(sender=leaver).timestamp
    submit_at(chain, market, early, solver, exit_at + VERIFIER_DELAY - 1)  # read as of exit_at - 1: still in
    submit_at(chain, market, late, solver2, exit_at + VERIFIER_DELAY)  # read as of exit_at: gone
    chain.mine(1)
    for job_id in (early, late):
        market.sealSample(job_id, sender=stranger)
    assert committee(audit, early, registered) == [True] * 4
    assert committee(audit, late, registered) == [False, True, True, True]  # three left, a third each
    assert audit.totalStakeAt(exit_at) == 3 * VERIFIER_STAKE
    with ape.reverts(audit.NotDrawn):
        Verifier(leaver, [b"\x01" * 32] * 2).commit(audit, late)
    Verifier(leaver, [b"\x01" * 32] * 2).commit(audit, early)  # drawn: its exit was not yet effective
    assert [audit.isDrawn(late, o) for o in others] == [True] * 3
    assert_audit_ledger(audit)


def test_quarterOfTheStake_isAlwaysDrawn(chain, audit, market, jobs, staked, crowd, solver, stranger):
    small = 3 * 10**17
    whale, *rest = crowd(7)
    register(audit, rest, small)
    whale_stake = len(rest) * small // (COMMITTEE_SIZE - 1)  # exactly 1/COMMITTEE_SIZE of the total
    audit.register(sender=whale, value=whale_stake)
    total = whale_stake + len(rest) * small
    assert COMMITTEE_SIZE * whale_stake == total
    job_id = jobs.awarded(solver)
    submit_at(chain, market, job_id, solver, chain.blocks.head.timestamp + VERIFIER_DELAY + 1)
    small_seats = []
    for seed in reseals(chain, market, job_id, stranger, SEEDS):
        assert audit.isDrawn(job_id, whale)
        seats = committee(audit, job_id, rest)
        assert seats == [is_drawn(seed, r.address, small, total) for r in rest]
        small_seats.append(sum(seats))
    assert min(small_seats) < len(rest)  # the small ones are drawn, not seated


@pytest.mark.parametrize("parts", [2, 5])
def test_splittingStake_doesNotRaiseExpectedSeats(chain, audit, market, jobs, staked, registered, crowd, solver,
                                                 stranger, parts):
    """Expected seats are committeeSize * stake / total, capped at one per address: the same stake on one
    address or split over several has the same expectation (below the cap), and never more (the cap only
    takes seats away). Stakes and totals are the registry's, the probabilities the rule's (checked draw for
    draw against the contract in test_isDrawn_matchesThePythonRule_stakeWeighted)."""
    whole = VERIFIER_STAKE // 2
    pieces = crowd(parts)
    register(audit, pieces, whole // parts)
    job_id = jobs.awarded(solver)
    tx = submit_at(chain, market, job_id, solver, chain.blocks.head.timestamp + VERIFIER_DELAY + 1)
    as_of = tx.timestamp - VERIFIER_DELAY
    total = audit.totalStakeAt(as_of)
    assert total == 4 * VERIFIER_STAKE + whole
    split = sum(seat_probability(audit.stakeAt(p, as_of), total) for p in pieces)
    single = seat_probability(whole, total)
    assert single < 1  # below the cap
    assert split == single == Fraction(COMMITTEE_SIZE * whole, total)
    # Whatever the split, the expectation never exceeds the stake's linear share of the committee.
    for n in range(1, 11):
        assert sum(seat_probability(whole // n, total) for _ in range(n)) <= Fraction(COMMITTEE_SIZE * whole, total)
    # The pieces are drawn by the same rule as everyone else.
    seal(chain, market, job_id, stranger)
    seed = bytes(market.getJob(job_id).sampleSeed)
    assert committee(audit, job_id, pieces) == [is_drawn(seed, p.address, whole // parts, total) for p in pieces]
