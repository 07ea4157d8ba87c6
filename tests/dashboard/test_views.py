"""What the dashboard's views make of a job's indexed chain events: a fault dispute's bisection round by round
(DisputeGame's Responded carries each new lo and hi) and each verifier's audit entry (Audit's events)."""

from backend.dashboard.views import audit_entries, bisection_rounds
from backend.models import ChainEvent

VERIFIER, OTHER = "0x" + "aa" * 20, "0x" + "bb" * 20


def event(block: int, contract: str, name: str, **args) -> ChainEvent:
    # As the indexer stores them: integers as decimal strings.
    stored = {k: str(v) if isinstance(v, int) and not isinstance(v, bool) else v for k, v in args.items()}
    return ChainEvent(block_number=block, log_index=0, tx_hash="0x" + "00" * 32, contract=contract, name=name,
                      args=stored, job_id=1)


def test_bisection_isEachRoundsInterval_withThePointsRevealedAndTheSegmentDisputed():
    events = [event(10, "DisputeGame", "DisputeOpened", disputeId=4, jobId=1, challenger=VERIFIER, lo=32, hi=64),
              event(11, "DisputeGame", "DisputeOpened", disputeId=5, jobId=1, challenger=OTHER, lo=0, hi=1),
              event(12, "DisputeGame", "Revealed", disputeId=4, lo=32, hi=64, hashes=["0x" + "11" * 32] * 15),
              event(13, "DisputeGame", "Responded", disputeId=4, segment=8, lo=48, hi=50),
              event(14, "DisputeGame", "Revealed", disputeId=4, lo=48, hi=50, hashes=["0x" + "22" * 32]),
              event(15, "DisputeGame", "Responded", disputeId=4, segment=0, lo=48, hi=49),
              event(16, "Market", "JobDisputed", jobId=1)]
    rounds = bisection_rounds(events)
    assert [(r.round, r.lo, r.hi, r.segment) for r in rounds[4]] == [(0, 32, 64, None), (1, 48, 50, 8), (2, 48, 49, 0)]
    assert [r.points for r in rounds[4]] == [[], list(range(34, 64, 2)), [49]]  # 16 segments of 2 steps, then 2 of 1
    assert [(r.lo, r.hi) for r in rounds[5]] == [(0, 1)]  # one step wide from the start: no round


def test_auditEntries_followCommitRevealAndSettlement_perVerifier():
    events = [event(20, "Audit", "AuditFunded", jobId=1, funder=OTHER, amount=5),
              event(21, "Audit", "AuditCommitted", jobId=1, verifier=VERIFIER, commitment="0x" + "33" * 32),
              event(21, "Audit", "AuditCommitted", jobId=1, verifier=OTHER, commitment="0x" + "44" * 32),
              event(22, "Audit", "AuditRevealed", jobId=1, verifier=VERIFIER, agreed=True, firstMismatch=0),
              event(22, "Audit", "AuditRevealed", jobId=1, verifier=OTHER, agreed=False, firstMismatch=3),
              event(30, "Audit", "AuditSettled", jobId=1, verifier=VERIFIER, outcome=2, amount=10**17),
              event(30, "Audit", "AuditSettled", jobId=1, verifier=OTHER, outcome=0, amount=10**16)]
    entries = {e.verifier: e for e in audit_entries(events)}
    assert list(entries) == [VERIFIER, OTHER]  # in the order they committed; a funder is no verifier
    approved, disagreed = entries[VERIFIER], entries[OTHER]
    assert (approved.committed, approved.revealed, approved.agreed, approved.first_mismatch) == (True, True, True, None)
    assert (approved.outcome, approved.amount) == ("paid", str(10**17))
    assert (disagreed.agreed, disagreed.first_mismatch, disagreed.outcome) == (False, 3, "forfeited")
