"""Audit settlement: each audit is paid, refunded or forfeited by the verdict that stood (rules in IAudit's
NatSpec; the job and verifiers are those of test_audit.py), where the pot goes, claims, and the ledger over
many audits.

Slashed jobs: the cheater's trajectory (CLAIMED) goes wrong at step 13, so interval 0 is honest and the
fault dispute is over interval FIRST_FAKED (agreed checkpoint 1, disputed checkpoint 2, the challenger's hash
TRUTH[16]). Samples are chosen (`sampled_where`) to contain that interval or not.
"""

import random

import ape
from audit_helpers import (
    AUDIT_BOND,
    CLAIMED,
    FIRST_FAKED,
    FORFEITED,
    FUNDING,
    INTERVAL,
    PAID,
    REFUNDED,
    TRUTH,
    VERIFIER_STAKE,
    SampledJob,
    Verifier,
    approve,
    assert_audit_ledger,
    finalize,
    made_up,
    open_reveals,
    proven_job,
    sampled,
    sampled_where,
    seal,
)
from dispute_helpers import (
    AVAILABILITY,
    CHALLENGE_BOND,
    CLOCK,
    FAULT,
    SLASHED,
    adjudicate,
    answer,
    assert_ledgers,
    demand,
)
from market_helpers import FAILED, FINALIZED, NONE, SUBMITTED, UNVERIFIED, logs

STAKES = 4 * VERIFIER_STAKE  # the registered verifiers' stake: held by the audit, never part of a pot


def hashes_at(job: SampledJob, by_interval: dict) -> list[bytes]:
    """Hashes in sample order, from {sampled interval: end-state hash}."""
    return [by_interval[i] for i in job.sample]


def from_states(job: SampledJob, states: list[bytes]) -> dict:
    return {i: states[(i + 1) * INTERVAL] for i in job.sample}


def settled_as(audit, job_id, outcomes) -> list:
    """The AuditSettled logs expected for [(verifier, outcome, amount)] in commit order."""
    return [audit.AuditSettled(job_id, verifier, outcome, amount) for verifier, outcome, amount in outcomes]


def challenge_fault(game, job: SampledJob, challenger) -> int:
    """Challenges the first faked interval with the true hash (the commit window must be over)."""
    args = job.job.challenge_args(FIRST_FAKED, TRUTH[(FIRST_FAKED + 1) * INTERVAL])
    return game.challenge(*args, sender=challenger, value=CHALLENGE_BOND).return_value


def solver_times_out(chain, game, audit, job_id, dispute_id, keeper):
    """The solver never answers: after its clock (and the reveal window) it is slashed."""
    chain.pending_timestamp = max(game.getDispute(dispute_id).turnStart + CLOCK, audit.revealDeadline(job_id)) + 1
    return game.claimTimeout(dispute_id, sender=keeper)


# --- settle: guards ---------------------------------------------------------------------------------------


def test_settle_jobUnderReview_reverts(audit, honest_job, stranger):
    with ape.reverts(audit.JobNotSettled, state=SUBMITTED):
        audit.settle(honest_job.job_id, sender=stranger)


def test_settle_unknownJob_reverts(audit, stranger):
    with ape.reverts(audit.JobNotSettled, state=NONE):
        audit.settle(99, sender=stranger)


def test_settle_twice_reverts(chain, audit, market, jobs, staked, solver, stranger):
    job = sampled(chain, market, proven_job(jobs, market, solver), stranger)
    finalize(jobs, market, job.job_id, stranger)
    audit.settle(job.job_id, sender=stranger)
    with ape.reverts(audit.AlreadySettled):
        audit.settle(job.job_id, sender=stranger)


def test_settle_slashedDuringRevealWindow_reverts_untilItEnds(chain, audit, market, game, court, jobs, seated,
                                                             honest_job, solver, challenger, stranger, verifiers):
    """An availability dispute can slash the solver within seconds of the commit window's end; the verifiers
    still keep their whole reveal window before anything is settled."""
    job_id = honest_job.job_id
    verifier = Verifier(verifiers[0], honest_job.hashes(TRUTH))
    verifier.commit(audit, job_id)
    open_reveals(jobs, audit, job_id)
    dispute_id = demand(game, honest_job.job, 2, challenger)
    request_id = answer(game, honest_job.job, dispute_id, solver, store=None).events[-1].requestId
    adjudicate(chain, court, seated, {}, request_id, stranger)  # nothing to fetch: the referee answers 0
    assert market.getJob(job_id).state == SLASHED
    deadline = audit.revealDeadline(job_id)
    chain.pending_timestamp = deadline - 1
    with ape.reverts(audit.RevealOpen, deadline=deadline):
        audit.settle(job_id, sender=stranger)
    chain.pending_timestamp = deadline
    verifier.reveal(audit, job_id, honest_job.proofs())  # a slashed job's audits can still be revealed
    jobs.after(deadline)
    tx = audit.settle(job_id, sender=stranger)
    assert logs(tx, audit.AuditSettled) == settled_as(audit, job_id, [(verifiers[0], REFUNDED, AUDIT_BOND)])
    assert audit.credits(verifiers[0]) == AUDIT_BOND
    assert_ledgers(market, game, court, audit)


# --- settle: jobs without audits --------------------------------------------------------------------------


def test_settle_unverifiedWithoutVerifiers_refundsPotToSubmitter(chain, audit, market, jobs, staked, solver,
                                                                 submitter, stranger):
    job = sampled(chain, market, proven_job(jobs, market, solver), stranger)
    audit.fund(job.job_id, sender=stranger, value=FUNDING)
    finalize(jobs, market, job.job_id, stranger)
    assert market.getJob(job.job_id).state == UNVERIFIED
    tx = audit.settle(job.job_id, sender=stranger)
    assert logs(tx, audit.AuditSettled) == []
    assert logs(tx, audit.AuditRefunded) == [audit.AuditRefunded(job.job_id, submitter, FUNDING)]
    assert audit.settled(job.job_id)
    assert (audit.pot(job.job_id), audit.totalHeld(), audit.credits(submitter)) == (0, 0, FUNDING)
    assert_audit_ledger(audit)


def test_settle_failedJob_refundsPotToSubmitter(audit, market, jobs, staked, solver, submitter, stranger):
    job_id = jobs.awarded(solver)
    audit.fund(job_id, sender=stranger, value=FUNDING)
    jobs.after(market.getJob(job_id).executionDeadline)
    market.reportMissedDeadline(job_id, sender=stranger)
    assert market.getJob(job_id).state == FAILED
    tx = audit.settle(job_id, sender=stranger)
    assert logs(tx, audit.AuditRefunded) == [audit.AuditRefunded(job_id, submitter, FUNDING)]
    assert (audit.totalHeld(), audit.credits(submitter)) == (0, FUNDING)
    audit.claim(sender=submitter)
    assert audit.balance == audit.totalHeld() == audit.totalCredits() == 0


def test_settle_nothingFundedNoVerifiers_settlesQuietly(chain, audit, market, jobs, staked, solver, stranger):
    job = sampled(chain, market, proven_job(jobs, market, solver), stranger)
    finalize(jobs, market, job.job_id, stranger)
    tx = audit.settle(job.job_id, sender=stranger)
    assert logs(tx, audit.AuditRefunded) == [] and logs(tx, audit.AuditSettled) == []
    assert audit.settled(job.job_id)
    assert (audit.totalHeld(), audit.totalCredits(), audit.balance) == (0, 0, 0)


# --- settle: Finalized and Unverified -----------------------------------------------------------------------


def test_settle_finalized_honestPaid_lazyForfeit(audit, market, jobs, honest_job, submitter, stranger, verifiers):
    job_id, rng = honest_job.job_id, random.Random(3)
    honest = Verifier(verifiers[0], honest_job.hashes(TRUTH), b"\x10" * 32)
    guesser = Verifier(verifiers[1], made_up(rng), b"\x11" * 32)  # lazy: commits hashes it made up
    silent = Verifier(verifiers[2], honest_job.hashes(TRUTH), b"\x12" * 32)  # never reveals
    audit.fund(job_id, sender=submitter, value=FUNDING)
    assert_audit_ledger(audit)
    for verifier in (honest, guesser, silent):
        verifier.commit(audit, job_id)
        assert_audit_ledger(audit)
    assert audit.totalHeld() == STAKES + FUNDING + 3 * AUDIT_BOND

    open_reveals(jobs, audit, job_id)
    tx = honest.reveal(audit, job_id, honest_job.proofs())
    assert logs(tx, audit.AuditRevealed) == [audit.AuditRevealed(job_id, verifiers[0], True, 0)]
    # Now the solver's hashes are out, but the guesser is bound to what it committed.
    tx = guesser.reveal(audit, job_id, honest_job.proofs())
    assert logs(tx, audit.AuditRevealed) == [audit.AuditRevealed(job_id, verifiers[1], False, min(honest_job.sample))]
    assert_audit_ledger(audit)

    finalize(jobs, market, job_id, stranger)
    assert market.getJob(job_id).state == FINALIZED
    tx = audit.settle(job_id, sender=stranger)
    honest_pay = AUDIT_BOND + FUNDING + 2 * AUDIT_BOND  # its bond back, the reward and both forfeited bonds
    assert logs(tx, audit.AuditSettled) == settled_as(audit, job_id, [
        (verifiers[0], PAID, honest_pay), (verifiers[1], FORFEITED, AUDIT_BOND), (verifiers[2], FORFEITED, AUDIT_BOND),
    ])
    assert logs(tx, audit.AuditRefunded) == []
    assert [audit.credits(v) for v in verifiers[:3]] == [honest_pay, 0, 0]
    assert (audit.credits(submitter), audit.totalHeld(), audit.totalCredits()) == (0, STAKES, honest_pay)
    assert (audit.settled(job_id), audit.pot(job_id)) == (True, 0)
    assert_audit_ledger(audit)

    balance = verifiers[0].balance
    tx = audit.claim(sender=verifiers[0])
    assert logs(tx, audit.Claimed) == [audit.Claimed(verifiers[0], honest_pay)]
    assert verifiers[0].balance == balance + honest_pay - tx.total_fees_paid
    assert (audit.credits(verifiers[0]), audit.totalCredits(), audit.balance) == (0, 0, STAKES)
    assert_audit_ledger(audit)
    for verifier in verifiers[:3]:
        with ape.reverts(audit.NothingToClaim):
            audit.claim(sender=verifier)


def test_settle_twoHonestVerifiers_splitPot_dustToSubmitter(audit, market, jobs, honest_job, submitter, stranger,
                                                            verifiers):
    job_id = honest_job.job_id
    funding = FUNDING + 1  # with one forfeited bond the pool is odd: 1 wei of dust
    audit.fund(job_id, sender=stranger, value=funding)
    honest = [Verifier(v, honest_job.hashes(TRUTH), bytes([i + 1]) * 32) for i, v in enumerate(verifiers[:2])]
    silent = Verifier(verifiers[2], made_up(random.Random(4)))
    for verifier in (*honest, silent):
        verifier.commit(audit, job_id)
    open_reveals(jobs, audit, job_id)
    for verifier in honest:
        verifier.reveal(audit, job_id, honest_job.proofs())
    finalize(jobs, market, job_id, stranger)
    tx = audit.settle(job_id, sender=stranger)
    pool = funding + AUDIT_BOND
    share = pool // 2
    assert [audit.credits(v) for v in verifiers[:3]] == [AUDIT_BOND + share, AUDIT_BOND + share, 0]
    assert logs(tx, audit.AuditRefunded) == [audit.AuditRefunded(job_id, submitter, pool - 2 * share)]
    assert audit.credits(submitter) == pool - 2 * share == 1
    assert audit.totalHeld() == STAKES
    assert_audit_ledger(audit)


def test_settle_finalized_disagreeingVerifierForfeitsToTheApprover(audit, market, jobs, honest_job, submitter,
                                                                   stranger, verifiers):
    # The result stands: a disagreement with it forfeits the bond, which the approving verifier is paid.
    job_id = honest_job.job_id
    wrong = Verifier(verifiers[1], [b"\x05" * 32, b"\x06" * 32])
    wrong.commit(audit, job_id)
    approve(jobs, audit, honest_job, verifiers[0])
    wrong.reveal(audit, job_id, [[], []])
    finalize(jobs, market, job_id, stranger)
    assert market.getJob(job_id).state == FINALIZED
    tx = audit.settle(job_id, sender=stranger)
    # Commit order: the doubter committed first.
    assert logs(tx, audit.AuditSettled) == settled_as(audit, job_id, [
        (verifiers[1], FORFEITED, AUDIT_BOND), (verifiers[0], PAID, 2 * AUDIT_BOND),
    ])
    assert (audit.credits(verifiers[0]), audit.credits(verifiers[1]), audit.credits(submitter)) == (2 * AUDIT_BOND,
                                                                                                    0, 0)
    assert_audit_ledger(audit)


def test_settle_unverified_everyAuditForfeits_potAndBondsToSubmitter(audit, market, jobs, honest_job, submitter,
                                                                     stranger, verifiers):
    job_id, rng = honest_job.job_id, random.Random(5)
    audit.fund(job_id, sender=stranger, value=FUNDING)
    guesser, silent = Verifier(verifiers[0], made_up(rng)), Verifier(verifiers[1], honest_job.hashes(TRUTH))
    guesser.commit(audit, job_id)
    silent.commit(audit, job_id)
    open_reveals(jobs, audit, job_id)
    guesser.reveal(audit, job_id, honest_job.proofs())
    finalize(jobs, market, job_id, stranger)
    assert market.getJob(job_id).state == UNVERIFIED
    tx = audit.settle(job_id, sender=stranger)
    assert logs(tx, audit.AuditSettled) == settled_as(audit, job_id, [
        (verifiers[0], FORFEITED, AUDIT_BOND), (verifiers[1], FORFEITED, AUDIT_BOND),
    ])
    left = FUNDING + 2 * AUDIT_BOND
    assert logs(tx, audit.AuditRefunded) == [audit.AuditRefunded(job_id, submitter, left)]
    assert (audit.credits(submitter), audit.credits(verifiers[0]), audit.credits(verifiers[1])) == (left, 0, 0)
    assert_audit_ledger(audit)
    audit.claim(sender=submitter)
    assert audit.balance == audit.totalHeld() == STAKES
    assert audit.totalCredits() == 0


# --- settle: Slashed -----------------------------------------------------------------------------------------


def test_settle_slashedFaultSampled_finderPaid_earlierDoubtAndOtherHashRefunded_approvalForfeits(
    chain, audit, market, game, court, jobs, staked, registered, solver, submitter, challenger, stranger
):
    """The sample holds the honest interval 0 and the faked interval 1, which the dispute proved wrong."""
    job = sampled_where(chain, market, proven_job(jobs, market, solver, CLAIMED), stranger,
                        lambda s: set(s) == {0, FIRST_FAKED})
    job_id = job.job_id
    truth, claimed = from_states(job, TRUTH), from_states(job, CLAIMED)
    finder = Verifier(registered[0], hashes_at(job, truth), b"\x21" * 32)  # agrees on 0, finds 1
    doubter = Verifier(registered[1], hashes_at(job, {**truth, 0: b"\x30" * 32}), b"\x22" * 32)  # wrong on 0
    approver = Verifier(registered[2], hashes_at(job, claimed), b"\x23" * 32)  # approves the cheat
    misser = Verifier(registered[3], hashes_at(job, {**claimed, 1: b"\x31" * 32}), b"\x24" * 32)  # wrong hash on 1
    audit.fund(job_id, sender=submitter, value=FUNDING)
    for verifier in (finder, doubter, approver, misser):
        verifier.commit(audit, job_id)
    open_reveals(jobs, audit, job_id)
    dispute_id = challenge_fault(game, job, challenger)
    for verifier in (finder, doubter, approver, misser):
        verifier.reveal(audit, job_id, job.proofs())
    entries = [audit.getEntry(job_id, v) for v in registered]
    assert [(e.agreed, e.firstMismatch) for e in entries] == [(False, 1), (False, 0), (True, 0), (False, 1)]
    assert bytes(entries[0].mismatchHash) == TRUTH[16] != bytes(entries[3].mismatchHash)

    solver_times_out(chain, game, audit, job_id, dispute_id, stranger)
    assert market.getJob(job_id).state == SLASHED
    assert game.decisiveDispute(job_id) == dispute_id
    d = game.getDispute(dispute_id)
    assert (d.kind, d.index, bytes(d.challengerHash)) == (FAULT, FIRST_FAKED, TRUTH[16])

    tx = audit.settle(job_id, sender=stranger)
    # The misser's other hash at 1 is not judged wrong (the game proved the solver's claim wrong, not the
    # challenger's hash right): its bond comes back, unpaid. Only the approval is forfeited.
    pot = FUNDING + AUDIT_BOND
    assert logs(tx, audit.AuditSettled) == settled_as(audit, job_id, [
        (registered[0], PAID, AUDIT_BOND + pot), (registered[1], REFUNDED, AUDIT_BOND),
        (registered[2], FORFEITED, AUDIT_BOND), (registered[3], REFUNDED, AUDIT_BOND),
    ])
    assert logs(tx, audit.AuditRefunded) == []
    assert [audit.credits(v) for v in registered] == [AUDIT_BOND + pot, AUDIT_BOND, 0, AUDIT_BOND]
    assert (audit.credits(submitter), audit.totalHeld()) == (0, STAKES)
    assert_ledgers(market, game, court, audit)


def test_settle_slashedFaultSampled_laterMismatchAndSilenceForfeit_findersSplit(
    chain, audit, market, game, court, jobs, staked, registered, solver, submitter, challenger, stranger
):
    """The sample holds the faked interval 1 and a later faked one; the honest hash at 1 is what is paid."""
    job = sampled_where(chain, market, proven_job(jobs, market, solver, CLAIMED), stranger,
                        lambda s: FIRST_FAKED in s and 0 not in s)
    job_id = job.job_id
    truth, claimed = from_states(job, TRUTH), from_states(job, CLAIMED)
    later = next(i for i in job.sample if i != FIRST_FAKED)
    finders = [Verifier(v, hashes_at(job, truth), bytes([0x40 + i]) * 32) for i, v in enumerate(registered[:2])]
    # Agrees on interval 1 (the proven fault) and disputes only a later one: its disagreement was not judged
    # and its approval of interval 1 was wrong.
    late = Verifier(registered[2], hashes_at(job, {**claimed, later: truth[later]}), b"\x43" * 32)
    silent = Verifier(registered[3], hashes_at(job, truth), b"\x44" * 32)
    funding = FUNDING + 1
    audit.fund(job_id, sender=stranger, value=funding)
    for verifier in (*finders, late, silent):
        verifier.commit(audit, job_id)
    open_reveals(jobs, audit, job_id)
    dispute_id = challenge_fault(game, job, challenger)
    for verifier in (*finders, late):
        verifier.reveal(audit, job_id, job.proofs())
    assert audit.getEntry(job_id, registered[2]).firstMismatch == later > FIRST_FAKED
    solver_times_out(chain, game, audit, job_id, dispute_id, stranger)

    tx = audit.settle(job_id, sender=stranger)
    pot = funding + 2 * AUDIT_BOND
    share = pot // 2
    assert logs(tx, audit.AuditSettled) == settled_as(audit, job_id, [
        (registered[0], PAID, AUDIT_BOND + share), (registered[1], PAID, AUDIT_BOND + share),
        (registered[2], FORFEITED, AUDIT_BOND), (registered[3], FORFEITED, AUDIT_BOND),
    ])
    assert logs(tx, audit.AuditRefunded) == [audit.AuditRefunded(job_id, submitter, pot - 2 * share)]
    assert pot - 2 * share == 1
    assert [audit.credits(v) for v in registered] == [AUDIT_BOND + share, AUDIT_BOND + share, 0, 0]
    assert_ledgers(market, game, court, audit)


def test_settle_slashedFaultNotSampled_everyRevealRefunded_silenceForfeits(
    chain, audit, market, game, court, jobs, staked, registered, solver, submitter, challenger, stranger
):
    """The sample missed the proven fault: nobody is paid for it, whatever they revealed."""
    job = sampled_where(chain, market, proven_job(jobs, market, solver, CLAIMED), stranger,
                        lambda s: FIRST_FAKED not in s)
    job_id = job.job_id
    honest = Verifier(registered[0], job.hashes(TRUTH), b"\x51" * 32)
    approver = Verifier(registered[1], job.hashes(CLAIMED), b"\x52" * 32)
    guesser = Verifier(registered[2], made_up(random.Random(6)), b"\x53" * 32)
    silent = Verifier(registered[3], job.hashes(TRUTH), b"\x54" * 32)
    audit.fund(job_id, sender=stranger, value=FUNDING)
    for verifier in (honest, approver, guesser, silent):
        verifier.commit(audit, job_id)
    open_reveals(jobs, audit, job_id)
    dispute_id = challenge_fault(game, job, challenger)
    for verifier in (honest, approver, guesser):
        verifier.reveal(audit, job_id, job.proofs())
    solver_times_out(chain, game, audit, job_id, dispute_id, stranger)
    assert game.getDispute(game.decisiveDispute(job_id)).index == FIRST_FAKED

    tx = audit.settle(job_id, sender=stranger)
    assert logs(tx, audit.AuditSettled) == settled_as(audit, job_id, [
        (registered[0], REFUNDED, AUDIT_BOND), (registered[1], REFUNDED, AUDIT_BOND),
        (registered[2], REFUNDED, AUDIT_BOND), (registered[3], FORFEITED, AUDIT_BOND),
    ])
    left = FUNDING + AUDIT_BOND
    assert logs(tx, audit.AuditRefunded) == [audit.AuditRefunded(job_id, submitter, left)]
    assert [audit.credits(v) for v in registered] == [AUDIT_BOND, AUDIT_BOND, AUDIT_BOND, 0]
    assert audit.credits(submitter) == left
    assert_ledgers(market, game, court, audit)


def test_settle_slashedForUnavailability_everyRevealRefunded_silenceForfeits(
    chain, audit, market, game, court, jobs, seated, honest_job, solver, submitter, challenger, stranger, verifiers
):
    job_id = honest_job.job_id
    approver = Verifier(verifiers[0], honest_job.hashes(TRUTH), b"\x61" * 32)
    doubter = Verifier(verifiers[1], made_up(random.Random(7)), b"\x62" * 32)
    silent = Verifier(verifiers[2], honest_job.hashes(TRUTH), b"\x63" * 32)
    audit.fund(job_id, sender=stranger, value=FUNDING)
    for verifier in (approver, doubter, silent):
        verifier.commit(audit, job_id)
    open_reveals(jobs, audit, job_id)
    dispute_id = demand(game, honest_job.job, 3, challenger)
    for verifier in (approver, doubter):
        verifier.reveal(audit, job_id, honest_job.proofs())
    chain.pending_timestamp = max(game.getDispute(dispute_id).turnStart + CLOCK, audit.revealDeadline(job_id)) + 1
    game.claimTimeout(dispute_id, sender=stranger)  # the solver never serves checkpoint 3
    assert market.getJob(job_id).state == SLASHED
    assert game.getDispute(game.decisiveDispute(job_id)).kind == AVAILABILITY

    tx = audit.settle(job_id, sender=stranger)
    assert logs(tx, audit.AuditSettled) == settled_as(audit, job_id, [
        (verifiers[0], REFUNDED, AUDIT_BOND), (verifiers[1], REFUNDED, AUDIT_BOND),
        (verifiers[2], FORFEITED, AUDIT_BOND),
    ])
    left = FUNDING + AUDIT_BOND
    assert logs(tx, audit.AuditRefunded) == [audit.AuditRefunded(job_id, submitter, left)]
    assert [audit.credits(v) for v in verifiers[:3]] == [AUDIT_BOND, AUDIT_BOND, 0]
    assert_ledgers(market, game, court, audit)


# --- claim ------------------------------------------------------------------------------------------------


def test_claim_nothing_reverts(audit, stranger):
    with ape.reverts(audit.NothingToClaim):
        audit.claim(sender=stranger)


# --- ledger under a sequence of audits ----------------------------------------------------------------------


def test_ledger_severalJobs_balanceEqualsHeldPlusCredits(chain, audit, market, jobs, staked, registered, solver,
                                                         solver2, submitter, stranger):
    """Two audited jobs interleaved (honest, guessing and silent verifiers), claims in between, then the
    verifiers leave the registry: the ledger holds after every step, and everything is paid out in the end."""
    rng = random.Random(8)
    proven = [proven_job(jobs, market, account) for account in (solver, solver2)]
    for job in proven:  # both sealed before either commit window closes
        seal(chain, market, job.job_id, stranger)
    audited = [SampledJob(job, list(market.sampledIntervals(job.job_id))) for job in proven]
    roles = ["honest", "guesser", "honest", "silent"]
    plans = {}
    for job in audited:
        audit.fund(job.job_id, sender=stranger, value=rng.randint(1, 10**18))
        assert_audit_ledger(audit)
        for role, account in zip(roles, registered):
            verifier = Verifier(account, job.hashes(TRUTH) if role == "honest" else made_up(rng), rng.randbytes(32))
            verifier.commit(audit, job.job_id)
            plans[job.job_id, account.address] = (role, verifier)
            assert_audit_ledger(audit)
    assert audit.totalHeld() > STAKES + 8 * AUDIT_BOND
    jobs.after(max(audit.commitDeadline(job.job_id) for job in audited))
    for job in audited:
        for account in registered:
            role, verifier = plans[job.job_id, account.address]
            if role != "silent":
                verifier.reveal(audit, job.job_id, job.proofs())
                assert_audit_ledger(audit)
    for job in audited:
        finalize(jobs, market, job.job_id, stranger)
        assert market.getJob(job.job_id).state == FINALIZED
        audit.settle(job.job_id, sender=stranger)
        assert_audit_ledger(audit)
        for account in (*registered, submitter):
            if audit.credits(account):
                audit.claim(sender=account)
                assert_audit_ledger(audit)
    assert audit.totalHeld() == STAKES
    exits = [audit.requestExit(sender=account) for account in registered]
    chain.pending_timestamp = exits[-1].timestamp + audit.verifierDelay()
    for account in registered:
        audit.withdrawStake(sender=account)
        audit.claim(sender=account)
        assert_audit_ledger(audit)
    assert audit.balance == audit.totalHeld() == audit.totalCredits() == 0
