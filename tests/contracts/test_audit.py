"""Audit: commit-reveal spot checks by bonded verifiers (rules in IAudit's NatSpec).

The audited job has 4 checkpoints 8 steps apart and 2 sampled intervals. The honest verifier recomputes
the toy trajectory (TRUTH) and reveals those hashes with the solver's proofs; a lazy one commits hashes it
made up (it has not replayed, and the solver's hashes are withheld until the commit window closes) or
commits and never reveals. Every test checks the ledger (balance == totalHeld + totalCredits) as it goes.
"""

import random

import ape
import pytest
from audit_helpers import (
    AUDIT_BOND,
    CLAIMED,
    COMMIT_WINDOW,
    FUNDING,
    REVEAL_WINDOW,
    TRUTH,
    SampledJob,
    Verifier,
    assert_audit_ledger,
    proven_job,
    sampled,
    seal,
)
from dispute_helpers import CHALLENGE_BOND, CLOCK, DISPUTED, SLASHED, assert_ledgers
from market_helpers import BIDDING, CANCELLED, FINALIZED, NONE, RUNNING, SUBMITTED, ZERO32, logs

from pinpoint.sampling import audit_commitment

ZERO_ADDRESS = "0x" + "00" * 20
SALT = b"\x5a" * 32


def made_up(rng: random.Random, count: int = 2) -> list[bytes]:
    return [rng.randbytes(32) for _ in range(count)]


@pytest.fixture
def honest_job(chain, jobs, market, staked, solver, stranger):
    """A submitted honest job (root over TRUTH) with its sample sealed."""
    return sampled(chain, market, proven_job(jobs, market, solver), stranger)


def finalize(jobs, market, audit, job_id, sender, after_reveal=True):
    """Finalizes the job (after its challenge window and, by default, after the reveal window)."""
    deadline = market.getJob(job_id).challengeDeadline
    if after_reveal:
        deadline = max(deadline, audit.revealDeadline(job_id))
    jobs.after(deadline)
    market.finalize(job_id, sender=sender)


def open_reveals(jobs, audit, job_id):
    jobs.after(audit.commitDeadline(job_id))


# --- deployment -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, error",
    [
        ((ZERO_ADDRESS, AUDIT_BOND, COMMIT_WINDOW, REVEAL_WINDOW), "ZeroAddress"),
        (("market", 0, COMMIT_WINDOW, REVEAL_WINDOW), "ZeroAuditBond"),
        (("market", AUDIT_BOND, 0, REVEAL_WINDOW), "ZeroWindow"),
        (("market", AUDIT_BOND, COMMIT_WINDOW, 0), "ZeroWindow"),
    ],
)
def test_constructor_badArguments_revert(project, owner, market, args, error):
    args = [market if a == "market" else a for a in args]
    with ape.reverts(getattr(project.Audit, error)):
        owner.deploy(project.Audit, *args)


def test_constructor_setsParameters(audit, market):
    assert audit.market() == market
    assert (audit.auditBond(), audit.commitWindow(), audit.revealWindow()) == (AUDIT_BOND, COMMIT_WINDOW, REVEAL_WINDOW)
    assert audit.MAX_VERIFIERS() == 16
    assert (audit.totalHeld(), audit.totalCredits(), audit.balance) == (0, 0, 0)


# --- fund -------------------------------------------------------------------------------------------------


def test_fund_addsToPot(audit, jobs, submitter, stranger):
    job_id = jobs.post()
    tx = audit.fund(job_id, sender=submitter, value=FUNDING)
    assert logs(tx, audit.AuditFunded) == [audit.AuditFunded(jobId=job_id, funder=submitter, amount=FUNDING)]
    audit.fund(job_id, sender=stranger, value=1)
    assert audit.pot(job_id) == audit.totalHeld() == FUNDING + 1
    assert_audit_ledger(audit)


def test_fund_nothing_reverts(audit, jobs, submitter):
    job_id = jobs.post()
    with ape.reverts(audit.NoFunds):
        audit.fund(job_id, sender=submitter, value=0)


def test_fund_unknownJob_reverts(audit, submitter):
    with ape.reverts(audit.NotUnderReview, state=NONE):
        audit.fund(99, sender=submitter, value=FUNDING)


def test_fund_afterSettle_reverts(audit, market, jobs, staked, solver, submitter, stranger):
    job_id = jobs.submitted(solver)
    finalize(jobs, market, audit, job_id, stranger, after_reveal=False)
    audit.settle(job_id, sender=stranger)
    with ape.reverts(audit.FundingClosed):
        audit.fund(job_id, sender=submitter, value=FUNDING)
    assert_audit_ledger(audit)


def test_fund_jobThatIsCancelled_potGoesBackToTheSubmitter(audit, market, jobs, submitter, stranger):
    job_id = jobs.post()
    audit.fund(job_id, sender=stranger, value=FUNDING)
    jobs.after(market.getJob(job_id).biddingDeadline)
    market.closeBidding(job_id, sender=stranger)  # no bid: Cancelled
    assert market.getJob(job_id).state == CANCELLED
    # The pot must come back out: settled (to the submitter, as when no verifier is paid).
    audit.settle(job_id, sender=stranger)
    assert audit.credits(submitter) == FUNDING
    assert audit.totalHeld() == 0
    assert_audit_ledger(audit)


# --- commit -----------------------------------------------------------------------------------------------


def test_commit_recordsEntryAndHoldsBond(audit, honest_job, verifiers):
    verifier = Verifier(verifiers[0], honest_job.hashes(TRUTH), SALT)
    commitment = verifier.commitment(honest_job.job_id)
    assert commitment == audit_commitment(honest_job.job_id, verifiers[0].address, SALT, honest_job.hashes(TRUTH))
    tx = verifier.commit(audit, honest_job.job_id)
    assert logs(tx, audit.AuditCommitted) == [audit.AuditCommitted(honest_job.job_id, verifiers[0], commitment)]
    entry = audit.getEntry(honest_job.job_id, verifiers[0])
    assert (bytes(entry.commitment), entry.revealed, entry.agreed) == (commitment, False, False)
    assert audit.verifiersOf(honest_job.job_id) == [verifiers[0]]
    assert audit.totalHeld() == audit.balance == AUDIT_BOND
    assert_audit_ledger(audit)


def test_deadlines_followTheSeal(audit, market, chain, jobs, staked, solver, stranger):
    job = proven_job(jobs, market, solver)
    assert (audit.commitDeadline(job.job_id), audit.revealDeadline(job.job_id)) == (0, 0)
    tx = seal(chain, market, job.job_id, stranger)
    assert audit.commitDeadline(job.job_id) == tx.timestamp + COMMIT_WINDOW
    assert audit.revealDeadline(job.job_id) == tx.timestamp + COMMIT_WINDOW + REVEAL_WINDOW


@pytest.mark.parametrize("state", [NONE, BIDDING, RUNNING, FINALIZED])
def test_commit_jobNotUnderReview_reverts(chain, audit, market, jobs, staked, solver, stranger, verifiers, state):
    if state == NONE:
        job_id = 99
    elif state == BIDDING:
        job_id = jobs.post()
    elif state == RUNNING:
        job_id = jobs.awarded(solver)
    else:
        job_id = sampled(chain, market, proven_job(jobs, market, solver), stranger).job_id
        finalize(jobs, market, audit, job_id, stranger, after_reveal=False)
    with ape.reverts(audit.NotUnderReview, state=state):
        audit.commit(job_id, b"\x01" * 32, sender=verifiers[0], value=AUDIT_BOND)


def test_commit_sampleNotSealed_reverts(audit, market, jobs, staked, solver, verifiers):
    job_id = proven_job(jobs, market, solver).job_id
    with ape.reverts(audit.SampleNotSealed):
        audit.commit(job_id, b"\x01" * 32, sender=verifiers[0], value=AUDIT_BOND)


def test_commit_window_closesAfterDeadline(audit, jobs, honest_job, verifiers):
    deadline = audit.commitDeadline(honest_job.job_id)
    jobs.chain.pending_timestamp = deadline  # the deadline itself is inside the window
    Verifier(verifiers[0], honest_job.hashes(TRUTH)).commit(audit, honest_job.job_id)
    jobs.after(deadline)
    with ape.reverts(audit.CommitClosed, deadline=deadline):
        Verifier(verifiers[1], honest_job.hashes(TRUTH)).commit(audit, honest_job.job_id)


@pytest.mark.parametrize("value", [0, AUDIT_BOND - 1, AUDIT_BOND + 1])
def test_commit_wrongBond_reverts(audit, honest_job, verifiers, value):
    with ape.reverts(audit.WrongBond, sent=value, bond=AUDIT_BOND):
        Verifier(verifiers[0], honest_job.hashes(TRUTH)).commit(audit, honest_job.job_id, value=value)


def test_commit_emptyCommitment_reverts(audit, honest_job, verifiers):
    with ape.reverts(audit.EmptyCommitment):
        audit.commit(honest_job.job_id, ZERO32, sender=verifiers[0], value=AUDIT_BOND)


def test_commit_bySolver_reverts(audit, honest_job, solver):
    with ape.reverts(audit.SolverCannotAudit):
        Verifier(solver, honest_job.hashes(TRUTH)).commit(audit, honest_job.job_id)


def test_commit_twice_reverts(audit, honest_job, verifiers):
    verifier = Verifier(verifiers[0], honest_job.hashes(TRUTH))
    verifier.commit(audit, honest_job.job_id)
    with ape.reverts(audit.AlreadyCommitted):
        Verifier(verifiers[0], made_up(random.Random(1)), b"\x01" * 32).commit(audit, honest_job.job_id)
    assert_audit_ledger(audit)


def test_commit_moreThanMaxVerifiers_reverts(accounts, owner, audit, honest_job):
    rng = random.Random(2)
    crowd = [accounts.generate_test_account() for _ in range(audit.MAX_VERIFIERS() + 1)]
    for account in crowd:
        owner.transfer(account, 2 * AUDIT_BOND)  # the bond, and gas
    for account in crowd[:-1]:
        Verifier(account, made_up(rng)).commit(audit, honest_job.job_id)
    assert len(audit.verifiersOf(honest_job.job_id)) == 16
    with ape.reverts(audit.TooManyVerifiers):
        Verifier(crowd[-1], made_up(rng)).commit(audit, honest_job.job_id)
    assert audit.totalHeld() == 16 * AUDIT_BOND
    assert_audit_ledger(audit)


# --- reveal -----------------------------------------------------------------------------------------------


def test_reveal_honestVerifier_agrees(audit, jobs, honest_job, verifiers):
    verifier = Verifier(verifiers[0], honest_job.hashes(TRUTH))
    verifier.commit(audit, honest_job.job_id)
    open_reveals(jobs, audit, honest_job.job_id)
    tx = verifier.reveal(audit, honest_job.job_id, honest_job.proofs())
    assert logs(tx, audit.AuditRevealed) == [audit.AuditRevealed(honest_job.job_id, verifiers[0], True, 0)]
    entry = audit.getEntry(honest_job.job_id, verifiers[0])
    assert (entry.revealed, entry.agreed) == (True, True)
    assert_audit_ledger(audit)


def test_reveal_duringCommitWindow_reverts(audit, jobs, honest_job, verifiers):
    verifier = Verifier(verifiers[0], honest_job.hashes(TRUTH))
    verifier.commit(audit, honest_job.job_id)
    deadline = audit.commitDeadline(honest_job.job_id)
    jobs.chain.pending_timestamp = deadline  # still committing time: nothing may leak yet
    with ape.reverts(audit.CommitOpen, deadline=deadline):
        verifier.reveal(audit, honest_job.job_id, honest_job.proofs())


def test_reveal_window_endsAtDeadlineInclusive(audit, jobs, honest_job, verifiers):
    on_time, late = (Verifier(v, honest_job.hashes(TRUTH)) for v in verifiers[:2])
    on_time.commit(audit, honest_job.job_id)
    late.commit(audit, honest_job.job_id)
    deadline = audit.revealDeadline(honest_job.job_id)
    jobs.chain.pending_timestamp = deadline
    on_time.reveal(audit, honest_job.job_id, honest_job.proofs())
    jobs.after(deadline)
    with ape.reverts(audit.RevealClosed, deadline=deadline):
        late.reveal(audit, honest_job.job_id, honest_job.proofs())


def test_reveal_notCommitted_reverts(audit, jobs, honest_job, verifiers):
    Verifier(verifiers[0], honest_job.hashes(TRUTH)).commit(audit, honest_job.job_id)
    open_reveals(jobs, audit, honest_job.job_id)
    with ape.reverts(audit.NotCommitted):
        Verifier(verifiers[1], honest_job.hashes(TRUTH)).reveal(audit, honest_job.job_id, honest_job.proofs())


def test_reveal_unsealedJob_reverts(audit, market, jobs, staked, solver, verifiers):
    job = proven_job(jobs, market, solver)
    with ape.reverts(audit.SampleNotSealed):
        audit.reveal(job.job_id, SALT, [], [], sender=verifiers[0])


def test_reveal_twice_reverts(audit, jobs, honest_job, verifiers):
    verifier = Verifier(verifiers[0], honest_job.hashes(TRUTH))
    verifier.commit(audit, honest_job.job_id)
    open_reveals(jobs, audit, honest_job.job_id)
    verifier.reveal(audit, honest_job.job_id, honest_job.proofs())
    with ape.reverts(audit.AlreadyRevealed):
        verifier.reveal(audit, honest_job.job_id, honest_job.proofs())


@pytest.mark.parametrize("tamper", ["salt", "hashes", "order"])
def test_reveal_notWhatWasCommitted_reverts(audit, jobs, honest_job, verifiers, tamper):
    hashes = honest_job.hashes(TRUTH)
    Verifier(verifiers[0], hashes).commit(audit, honest_job.job_id)
    open_reveals(jobs, audit, honest_job.job_id)
    salt, revealed, proofs = SALT, list(hashes), honest_job.proofs()
    if tamper == "salt":
        salt = b"\x01" * 32
    elif tamper == "hashes":
        revealed[0] = b"\x02" * 32
    else:
        revealed.reverse()
        proofs.reverse()
    with ape.reverts(audit.CommitmentMismatch):
        audit.reveal(honest_job.job_id, salt, revealed, proofs, sender=verifiers[0])


def test_reveal_copiedCommitment_isUseless(audit, jobs, honest_job, verifiers):
    # A lazy verifier copies an honest verifier's commitment: it is bound to the honest verifier's address,
    # so even with the honest salt and hashes (if they leaked) the copy never opens.
    honest = Verifier(verifiers[0], honest_job.hashes(TRUTH))
    honest.commit(audit, honest_job.job_id)
    audit.commit(honest_job.job_id, honest.commitment(honest_job.job_id), sender=verifiers[1], value=AUDIT_BOND)
    open_reveals(jobs, audit, honest_job.job_id)
    with ape.reverts(audit.CommitmentMismatch):
        audit.reveal(honest_job.job_id, SALT, honest_job.hashes(TRUTH), honest_job.proofs(), sender=verifiers[1])


@pytest.mark.parametrize("hashes_len, proofs_len", [(1, 2), (3, 3), (2, 1), (2, 3)])
def test_reveal_wrongSampleLength_reverts(audit, jobs, honest_job, verifiers, hashes_len, proofs_len):
    hashes = (honest_job.hashes(TRUTH) + [b"\x03" * 32])[:hashes_len]
    proofs = (honest_job.proofs() + [[]])[:proofs_len]
    verifier = Verifier(verifiers[0], hashes)
    verifier.commit(audit, honest_job.job_id)
    open_reveals(jobs, audit, honest_job.job_id)
    given = hashes_len if hashes_len != 2 else proofs_len
    with ape.reverts(audit.WrongSampleLength, given=given, sampleCount=2):
        verifier.reveal(audit, honest_job.job_id, proofs)


def test_reveal_oneWrongHash_disagreesAtThatInterval(audit, jobs, honest_job, verifiers):
    hashes = honest_job.hashes(TRUTH)
    hashes[1] = b"\x04" * 32
    verifier = Verifier(verifiers[0], hashes)
    verifier.commit(audit, honest_job.job_id)
    open_reveals(jobs, audit, honest_job.job_id)
    tx = verifier.reveal(audit, honest_job.job_id, [honest_job.proofs()[0], []])  # no proof for the disputed one
    second = honest_job.sample[1]
    assert logs(tx, audit.AuditRevealed) == [audit.AuditRevealed(honest_job.job_id, verifiers[0], False, second)]
    entry = audit.getEntry(honest_job.job_id, verifiers[0])
    assert (entry.revealed, entry.agreed) == (True, False)


def test_reveal_rightHashesWrongProofs_disagree(audit, jobs, honest_job, verifiers):
    verifier = Verifier(verifiers[0], honest_job.hashes(TRUTH))
    verifier.commit(audit, honest_job.job_id)
    open_reveals(jobs, audit, honest_job.job_id)
    tx = verifier.reveal(audit, honest_job.job_id, list(reversed(honest_job.proofs())))
    assert logs(tx, audit.AuditRevealed) == [
        audit.AuditRevealed(honest_job.job_id, verifiers[0], False, honest_job.sample[0])
    ]


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
