"""Audit settlement: who is paid, who forfeits, where the pot goes, claims, and the ledger over many
audits (rules in IAudit's NatSpec; the job and verifiers are those of test_audit.py).
"""

import random

import ape
from audit_helpers import (
    AUDIT_BOND,
    CLAIMED,
    FUNDING,
    TRUTH,
    SampledJob,
    Verifier,
    assert_audit_ledger,
    finalize,
    made_up,
    open_reveals,
    proven_job,
    sampled,
    seal,
)
from dispute_helpers import CHALLENGE_BOND, CLOCK, DISPUTED, SLASHED, assert_ledgers
from market_helpers import FINALIZED, NONE, SUBMITTED, logs


# --- settle -----------------------------------------------------------------------------------------------


def test_settle_jobUnderReview_reverts(audit, honest_job, stranger):
    with ape.reverts(audit.JobNotSettled, state=SUBMITTED):
        audit.settle(honest_job.job_id, sender=stranger)


def test_settle_unknownJob_reverts(audit, stranger):
    with ape.reverts(audit.JobNotSettled, state=NONE):
        audit.settle(99, sender=stranger)


def test_settle_beforeRevealWindowEnds_reverts(chain, audit, market, jobs, staked, solver, stranger, verifiers):
    # A short challenge window: the job finalizes while verifiers can still reveal.
    job = sampled(chain, market, proven_job(jobs, market, solver, challengeDuration=60), stranger)
    verifier = Verifier(verifiers[0], job.hashes(TRUTH))
    verifier.commit(audit, job.job_id)
    finalize(jobs, market, audit, job.job_id, stranger, after_reveal=False)
    deadline = audit.revealDeadline(job.job_id)
    jobs.chain.pending_timestamp = deadline - 1
    with ape.reverts(audit.RevealOpen, deadline=deadline):
        audit.settle(job.job_id, sender=stranger)
    jobs.chain.pending_timestamp = deadline
    verifier.reveal(audit, job.job_id, job.proofs())  # a finalized job's audits can still be revealed
    jobs.after(deadline)
    audit.settle(job.job_id, sender=stranger)
    assert audit.credits(verifiers[0]) == AUDIT_BOND
    assert_audit_ledger(audit)


def test_settle_noVerifiers_rightAfterFinalize_refundsPotToSubmitter(
    chain, audit, market, jobs, staked, solver, submitter, stranger
):
    job = sampled(chain, market, proven_job(jobs, market, solver, challengeDuration=60), stranger)
    audit.fund(job.job_id, sender=stranger, value=FUNDING)
    finalize(jobs, market, audit, job.job_id, stranger, after_reveal=False)
    assert chain.pending_timestamp <= audit.revealDeadline(job.job_id)  # the reveal window has not ended
    tx = audit.settle(job.job_id, sender=stranger)
    assert logs(tx, audit.AuditSettled) == []
    assert logs(tx, audit.AuditRefunded) == [audit.AuditRefunded(job.job_id, submitter, FUNDING)]
    assert audit.settled(job.job_id)
    assert (audit.pot(job.job_id), audit.totalHeld(), audit.credits(submitter)) == (0, 0, FUNDING)
    assert_audit_ledger(audit)


def test_settle_neverSealedNothingFunded_settlesQuietly(audit, market, jobs, staked, solver, stranger):
    job_id = jobs.submitted(solver)
    finalize(jobs, market, audit, job_id, stranger, after_reveal=False)
    tx = audit.settle(job_id, sender=stranger)
    assert logs(tx, audit.AuditRefunded) == [] and logs(tx, audit.AuditSettled) == []
    assert audit.settled(job_id)
    assert (audit.totalHeld(), audit.totalCredits(), audit.balance) == (0, 0, 0)


def test_settle_twice_reverts(audit, market, jobs, staked, solver, stranger):
    job_id = jobs.submitted(solver)
    finalize(jobs, market, audit, job_id, stranger, after_reveal=False)
    audit.settle(job_id, sender=stranger)
    with ape.reverts(audit.AlreadySettled):
        audit.settle(job_id, sender=stranger)


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
    assert audit.totalHeld() == FUNDING + 3 * AUDIT_BOND

    open_reveals(jobs, audit, job_id)
    tx = honest.reveal(audit, job_id, honest_job.proofs())
    assert logs(tx, audit.AuditRevealed) == [audit.AuditRevealed(job_id, verifiers[0], True, 0)]
    # Now the solver's hashes are out, but the guesser is bound to what it committed.
    tx = guesser.reveal(audit, job_id, honest_job.proofs())
    assert logs(tx, audit.AuditRevealed) == [audit.AuditRevealed(job_id, verifiers[1], False, honest_job.sample[0])]
    assert_audit_ledger(audit)

    finalize(jobs, market, audit, job_id, stranger)
    assert market.getJob(job_id).state == FINALIZED
    tx = audit.settle(job_id, sender=stranger)
    honest_pay = AUDIT_BOND + FUNDING + 2 * AUDIT_BOND  # its bond back, the reward and both forfeited bonds
    assert logs(tx, audit.AuditSettled) == [
        audit.AuditSettled(job_id, verifiers[0], True, honest_pay),
        audit.AuditSettled(job_id, verifiers[1], False, AUDIT_BOND),
        audit.AuditSettled(job_id, verifiers[2], False, AUDIT_BOND),
    ]
    assert logs(tx, audit.AuditRefunded) == []
    assert [audit.credits(v) for v in verifiers[:3]] == [honest_pay, 0, 0]
    assert (audit.credits(submitter), audit.totalHeld(), audit.totalCredits()) == (0, 0, honest_pay)
    assert (audit.settled(job_id), audit.pot(job_id)) == (True, 0)
    assert_audit_ledger(audit)

    balance = verifiers[0].balance
    tx = audit.claim(sender=verifiers[0])
    assert logs(tx, audit.Claimed) == [audit.Claimed(verifiers[0], honest_pay)]
    assert verifiers[0].balance == balance + honest_pay - tx.total_fees_paid
    assert (audit.credits(verifiers[0]), audit.totalCredits(), audit.balance) == (0, 0, 0)
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
    finalize(jobs, market, audit, job_id, stranger)
    tx = audit.settle(job_id, sender=stranger)
    pool = funding + AUDIT_BOND
    share = pool // 2
    assert [audit.credits(v) for v in verifiers[:3]] == [AUDIT_BOND + share, AUDIT_BOND + share, 0]
    assert logs(tx, audit.AuditRefunded) == [audit.AuditRefunded(job_id, submitter, pool - 2 * share)]
    assert audit.credits(submitter) == pool - 2 * share == 1
    assert audit.totalHeld() == 0
    assert_audit_ledger(audit)


def test_settle_nobodyPaid_potAndBondsGoToSubmitter(audit, market, jobs, honest_job, submitter, stranger, verifiers):
    job_id, rng = honest_job.job_id, random.Random(5)
    audit.fund(job_id, sender=stranger, value=FUNDING)
    guesser, silent = Verifier(verifiers[0], made_up(rng)), Verifier(verifiers[1], made_up(rng))
    guesser.commit(audit, job_id)
    silent.commit(audit, job_id)
    open_reveals(jobs, audit, job_id)
    guesser.reveal(audit, job_id, honest_job.proofs())
    finalize(jobs, market, audit, job_id, stranger)
    tx = audit.settle(job_id, sender=stranger)
    assert logs(tx, audit.AuditSettled) == [
        audit.AuditSettled(job_id, verifiers[0], False, AUDIT_BOND),
        audit.AuditSettled(job_id, verifiers[1], False, AUDIT_BOND),
    ]
    left = FUNDING + 2 * AUDIT_BOND
    assert logs(tx, audit.AuditRefunded) == [audit.AuditRefunded(job_id, submitter, left)]
    assert (audit.credits(submitter), audit.credits(verifiers[0]), audit.credits(verifiers[1])) == (left, 0, 0)
    assert_audit_ledger(audit)
    audit.claim(sender=submitter)
    assert audit.balance == audit.totalHeld() == audit.totalCredits() == 0


def test_settle_slashed_disagreeingVerifiersArePaid(
    chain, audit, market, game, court, jobs, staked, solver, submitter, challenger, stranger, verifiers
):
    """A cheating solver (wrong from step 13) is challenged and slashed. The honest verifier, which replayed
    and so disagrees with the solver's hashes, is paid; a verifier that never reveals still forfeits."""
    job = proven_job(jobs, market, solver, CLAIMED)
    dispute_id = game.challenge(*job.challenge_args(1, TRUTH[16]), sender=challenger, value=CHALLENGE_BOND).return_value
    assert market.getJob(job.job_id).state == DISPUTED
    cheat = sampled(chain, market, job, stranger)  # sealing and committing work while the job is Disputed
    job_id = job.job_id
    audit.fund(job_id, sender=submitter, value=FUNDING)
    honest = Verifier(verifiers[0], cheat.hashes(TRUTH), b"\x21" * 32)
    guesser = Verifier(verifiers[1], made_up(random.Random(6)), b"\x22" * 32)
    silent = Verifier(verifiers[2], cheat.hashes(TRUTH), b"\x23" * 32)
    for verifier in (honest, guesser, silent):
        verifier.commit(audit, job_id)
    assert_audit_ledger(audit)

    open_reveals(jobs, audit, job_id)
    tx = honest.reveal(audit, job_id, cheat.proofs())
    # Interval 0 is the only honest one; every other sampled interval ends on a wrong checkpoint.
    first_faked = next(i for i in cheat.sample if i >= 1)
    assert logs(tx, audit.AuditRevealed) == [audit.AuditRevealed(job_id, verifiers[0], False, first_faked)]
    guesser.reveal(audit, job_id, cheat.proofs())

    # The solver never answers the challenge: it loses the dispute and its stake.
    chain.pending_timestamp = max(game.getDispute(dispute_id).turnStart + CLOCK, audit.revealDeadline(job_id)) + 1
    game.claimTimeout(dispute_id, sender=stranger)
    assert market.getJob(job_id).state == SLASHED
    assert_ledgers(market, game, court)

    tx = audit.settle(job_id, sender=stranger)
    # Per IAudit, a revealed disagreement is paid when the job ends Slashed, whatever the hashes were:
    # the guesser shares with the honest verifier. The silent one forfeits its bond into the pool.
    pool = FUNDING + AUDIT_BOND
    share = pool // 2
    assert logs(tx, audit.AuditSettled) == [
        audit.AuditSettled(job_id, verifiers[0], True, AUDIT_BOND + share),
        audit.AuditSettled(job_id, verifiers[1], True, AUDIT_BOND + share),
        audit.AuditSettled(job_id, verifiers[2], False, AUDIT_BOND),
    ]
    assert [audit.credits(v) for v in verifiers[:3]] == [AUDIT_BOND + share, AUDIT_BOND + share, 0]
    assert audit.credits(submitter) == pool - 2 * share
    assert audit.totalHeld() == 0
    assert_audit_ledger(audit)


def test_settle_finalized_disagreeingVerifierForfeits(audit, market, jobs, honest_job, submitter, stranger,
                                                      verifiers):
    # The same disagreement that pays on a Slashed job forfeits the bond when the result stands.
    job_id = honest_job.job_id
    wrong = Verifier(verifiers[0], [b"\x05" * 32, b"\x06" * 32])
    wrong.commit(audit, job_id)
    open_reveals(jobs, audit, job_id)
    wrong.reveal(audit, job_id, [[], []])
    finalize(jobs, market, audit, job_id, stranger)
    tx = audit.settle(job_id, sender=stranger)
    assert logs(tx, audit.AuditSettled) == [audit.AuditSettled(job_id, verifiers[0], False, AUDIT_BOND)]
    assert (audit.credits(verifiers[0]), audit.credits(submitter)) == (0, AUDIT_BOND)
    assert_audit_ledger(audit)


# --- claim ------------------------------------------------------------------------------------------------


def test_claim_nothing_reverts(audit, stranger):
    with ape.reverts(audit.NothingToClaim):
        audit.claim(sender=stranger)


# --- ledger under a sequence of audits ----------------------------------------------------------------------


def test_ledger_severalJobs_balanceEqualsHeldPlusCredits(chain, audit, market, jobs, staked, solver, solver2,
                                                         submitter, stranger, verifiers):
    """Two audited jobs interleaved (honest, guessing and silent verifiers), claims in between: the ledger
    holds after every step, and everything is paid out in the end."""
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
        for role, account in zip(roles, verifiers):
            verifier = Verifier(account, job.hashes(TRUTH) if role == "honest" else made_up(rng), rng.randbytes(32))
            verifier.commit(audit, job.job_id)
            plans[job.job_id, account.address] = (role, verifier)
            assert_audit_ledger(audit)
    assert audit.totalHeld() > 8 * AUDIT_BOND
    jobs.after(max(audit.commitDeadline(job.job_id) for job in audited))
    for job in audited:
        for account in verifiers:
            role, verifier = plans[job.job_id, account.address]
            if role != "silent":
                verifier.reveal(audit, job.job_id, job.proofs())
                assert_audit_ledger(audit)
    for job in audited:
        finalize(jobs, market, audit, job.job_id, stranger)
        audit.settle(job.job_id, sender=stranger)
        assert_audit_ledger(audit)
        for account in (*verifiers, submitter):
            if audit.credits(account):
                audit.claim(sender=account)
                assert_audit_ledger(audit)
    assert audit.balance == audit.totalHeld() == audit.totalCredits() == 0
