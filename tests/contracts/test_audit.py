"""Audit: commit-reveal spot checks by the job's drawn, bonded verifiers (rules in IAudit's NatSpec; the
registry and the draw are in test_audit_committee.py).

The audited job has 4 checkpoints 8 steps apart and 2 sampled intervals; its committee is the four
registered verifiers (each holds 1/COMMITTEE_SIZE of the stake, so each is drawn). The honest verifier
recomputes the toy trajectory (TRUTH) and reveals those hashes with the solver's proofs; a lazy one commits
hashes it made up (it has not replayed, and the solver's hashes are withheld until the commit window
closes) or commits and never reveals. Every test checks the ledger (balance == totalHeld + totalCredits)
as it goes.
"""

import random

import ape
import pytest
from audit_helpers import (
    AUDIT_BOND,
    COMMIT_WINDOW,
    COMMITTEE_SIZE,
    FUNDING,
    MIN_VERIFIER_STAKE,
    REVEAL_WINDOW,
    SALT,
    TRUTH,
    VERIFIER_DELAY,
    VERIFIER_STAKE,
    ZERO_ADDRESS,
    Verifier,
    approved,
    assert_audit_ledger,
    finalize,
    made_up,
    open_reveals,
    proven_job,
    sampled,
    sampled_where,
    seal,
)
from market_helpers import (
    BIDDING,
    CANCELLED,
    FINALIZED,
    NONE,
    RUNNING,
    UNVERIFIED,
    ZERO32,
    logs,
)

from pinpoint.sampling import audit_commitment

# --- deployment -------------------------------------------------------------------------------------------


ARGS = ("market", AUDIT_BOND, COMMIT_WINDOW, REVEAL_WINDOW, MIN_VERIFIER_STAKE, VERIFIER_DELAY, COMMITTEE_SIZE)


def with_arg(position, value):
    return ARGS[:position] + (value,) + ARGS[position + 1:]


@pytest.mark.parametrize(
    "args, error",
    [
        (with_arg(0, ZERO_ADDRESS), "ZeroAddress"),
        (with_arg(1, 0), "ZeroAuditBond"),
        (with_arg(2, 0), "ZeroWindow"),
        (with_arg(3, 0), "ZeroWindow"),
        (with_arg(5, 0), "ZeroVerifierDelay"),
        (with_arg(6, 0), "ZeroCommitteeSize"),
        (with_arg(6, 9), "ZeroCommitteeSize"),  # above MAX_VERIFIERS / 4
    ],
)
def test_constructor_badArguments_revert(project, owner, market, args, error):
    args = [market if a == "market" else a for a in args]
    with ape.reverts(getattr(project.Audit, error)):
        owner.deploy(project.Audit, *args)


def test_constructor_boundsAccepted(project, owner, market):
    # The largest committee (a quarter of MAX_VERIFIERS, so a job's audits stay far below the cap), the
    # shortest delay, and no minimum stake.
    audit = owner.deploy(project.Audit, *with_arg(0, market)[:4], 0, 1, 8)
    assert (audit.minVerifierStake(), audit.verifierDelay(), audit.committeeSize()) == (0, 1, 8)
    assert audit.committeeSize() == audit.MAX_VERIFIERS() // 4


def test_constructor_setsParameters(audit, market):
    assert audit.market() == market
    assert (audit.auditBond(), audit.commitWindow(), audit.revealWindow()) == (AUDIT_BOND, COMMIT_WINDOW, REVEAL_WINDOW)
    assert (audit.minVerifierStake(), audit.verifierDelay(), audit.committeeSize()) == (
        MIN_VERIFIER_STAKE, VERIFIER_DELAY, COMMITTEE_SIZE)
    assert audit.MAX_VERIFIERS() == 32
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


def test_fund_afterSettle_reverts(chain, audit, market, jobs, staked, solver, submitter, stranger):
    job_id = jobs.submitted(solver)
    seal(chain, market, job_id, stranger)
    finalize(jobs, market, job_id, stranger)
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
    stakes = len(verifiers) * VERIFIER_STAKE
    assert audit.totalHeld() == audit.balance == stakes + AUDIT_BOND
    assert_audit_ledger(audit)


def test_deadlines_followTheSeal(audit, market, chain, jobs, staked, solver, stranger):
    job = proven_job(jobs, market, solver)
    assert (audit.commitDeadline(job.job_id), audit.revealDeadline(job.job_id)) == (0, 0)
    tx = seal(chain, market, job.job_id, stranger)
    assert audit.commitDeadline(job.job_id) == tx.timestamp + COMMIT_WINDOW
    assert audit.revealDeadline(job.job_id) == tx.timestamp + COMMIT_WINDOW + REVEAL_WINDOW


@pytest.mark.parametrize("state", [NONE, BIDDING, RUNNING, FINALIZED, UNVERIFIED])
def test_commit_jobNotUnderReview_reverts(chain, audit, market, jobs, staked, registered, solver, stranger, state):
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
        job_id = sampled(chain, market, proven_job(jobs, market, solver), stranger).job_id
        finalize(jobs, market, job_id, stranger)
    assert market.getJob(job_id).state == state
    with ape.reverts(audit.NotUnderReview, state=state):
        audit.commit(job_id, b"\x01" * 32, sender=registered[1], value=AUDIT_BOND)


def test_commit_sampleNotSealed_reverts(audit, market, jobs, staked, registered, solver):
    job_id = proven_job(jobs, market, solver).job_id
    assert audit.isDrawn(job_id, registered[0]) is False  # no seed, no committee yet
    with ape.reverts(audit.SampleNotSealed):
        audit.commit(job_id, b"\x01" * 32, sender=registered[0], value=AUDIT_BOND)


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


@pytest.mark.parametrize("who", ["solver", "stranger"])
def test_commit_notDrawn_reverts(audit, honest_job, solver, stranger, who):
    account = solver if who == "solver" else stranger  # neither is registered, and a solver never audits itself
    assert audit.isDrawn(honest_job.job_id, account) is False
    with ape.reverts(audit.NotDrawn):
        Verifier(account, honest_job.hashes(TRUTH)).commit(audit, honest_job.job_id)
    assert audit.verifiersOf(honest_job.job_id) == []
    assert_audit_ledger(audit)


def test_commit_twice_reverts(audit, honest_job, verifiers):
    verifier = Verifier(verifiers[0], honest_job.hashes(TRUTH))
    verifier.commit(audit, honest_job.job_id)
    with ape.reverts(audit.AlreadyCommitted):
        Verifier(verifiers[0], made_up(random.Random(1)), b"\x01" * 32).commit(audit, honest_job.job_id)
    assert_audit_ledger(audit)


# --- reveal -----------------------------------------------------------------------------------------------


def test_reveal_honestVerifier_agrees(audit, jobs, honest_job, verifiers):
    verifier = Verifier(verifiers[0], honest_job.hashes(TRUTH))
    verifier.commit(audit, honest_job.job_id)
    open_reveals(jobs, audit, honest_job.job_id)
    assert audit.agreements(honest_job.job_id) == 0
    tx = verifier.reveal(audit, honest_job.job_id, honest_job.proofs())
    assert logs(tx, audit.AuditRevealed) == [audit.AuditRevealed(honest_job.job_id, verifiers[0], True, 0)]
    entry = audit.getEntry(honest_job.job_id, verifiers[0])
    assert (entry.revealed, entry.agreed, entry.firstMismatch, entry.mismatchHash) == (True, True, 0, ZERO32)
    assert audit.agreements(honest_job.job_id) == 1
    assert_audit_ledger(audit)


def test_reveal_agreementsCountOnlyAgreeingReveals(audit, jobs, honest_job, verifiers):
    job_id = honest_job.job_id
    honest = [Verifier(v, honest_job.hashes(TRUTH), bytes([i + 1]) * 32) for i, v in enumerate(verifiers[:2])]
    doubter = Verifier(verifiers[2], made_up(random.Random(9)))
    silent = Verifier(verifiers[3], honest_job.hashes(TRUTH))
    for verifier in (*honest, doubter, silent):
        verifier.commit(audit, job_id)
    open_reveals(jobs, audit, job_id)
    counts = []
    for verifier in (honest[0], doubter, honest[1]):
        verifier.reveal(audit, job_id, honest_job.proofs())
        counts.append(audit.agreements(job_id))
    assert counts == [1, 1, 2]


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
    assert (entry.firstMismatch, entry.mismatchHash) == (second, b"\x04" * 32)
    assert audit.agreements(honest_job.job_id) == 0


def test_reveal_severalWrongHashes_recordsTheLowestSampledInterval(chain, audit, market, jobs, staked, registered,
                                                                    solver, stranger):
    # A sample whose first entry is the higher interval: the record is the lowest interval, not the first.
    job = sampled_where(chain, market, proven_job(jobs, market, solver), stranger, lambda s: s[0] > s[1])
    wrong = [b"\x07" * 32, b"\x08" * 32]
    verifier = Verifier(registered[0], wrong)
    verifier.commit(audit, job.job_id)
    open_reveals(jobs, audit, job.job_id)
    tx = verifier.reveal(audit, job.job_id, job.proofs())
    lowest = job.sample[1]
    assert logs(tx, audit.AuditRevealed) == [audit.AuditRevealed(job.job_id, registered[0], False, lowest)]
    entry = audit.getEntry(job.job_id, registered[0])
    assert (entry.agreed, entry.firstMismatch, entry.mismatchHash) == (False, lowest, wrong[1])


def test_reveal_rightHashesWrongProofs_disagree(audit, jobs, honest_job, verifiers):
    verifier = Verifier(verifiers[0], honest_job.hashes(TRUTH))
    verifier.commit(audit, honest_job.job_id)
    open_reveals(jobs, audit, honest_job.job_id)
    tx = verifier.reveal(audit, honest_job.job_id, list(reversed(honest_job.proofs())))
    lowest = min(honest_job.sample)  # both proofs are wrong: the lowest sampled interval is recorded
    assert logs(tx, audit.AuditRevealed) == [audit.AuditRevealed(honest_job.job_id, verifiers[0], False, lowest)]
    entry = audit.getEntry(honest_job.job_id, verifiers[0])
    assert (entry.firstMismatch, entry.mismatchHash) == (lowest, honest_job.hashes(TRUTH)[honest_job.sample.index(lowest)])
    assert audit.agreements(honest_job.job_id) == 0
