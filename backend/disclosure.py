"""What the coordinator may show of a job's checkpoints, and to whom (docs/PROTOCOL.md, "Accountable
verifiers").

A verifier must commit to the end states it recomputed for the sampled intervals before it can see the
solver's (contracts/Audit.sol), so until a job's audit commit window has ended the coordinator withholds
the state hash and artifact id of every checkpoint that ends a sampled interval, and of every checkpoint
after the initial one while the sample is not sealed yet (any of them could be drawn). Leaf hashes stay
public: they let anyone rebuild the tree and check it against the on-chain root, but do not reveal the
state hash behind them. The job's own solver, proven by a signed read, always sees everything.

The coordinator is trusted with this secrecy (not with integrity: every hash it serves is checked): a
coordinator or solver that hands the hashes to a verifier makes that verifier's audit worthless, which is
the collusion the docs list among the scheme's limits.

Everything is read from the index (backend/indexer.py projects SampleSealed: the sample and the commit
deadline), never from the chain per request, and in doubt it withholds: the index's clock is the latest
indexed block's time, which never runs ahead of the chain's, and a job the index has not seen sealed is
treated as unsealed.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import IndexedBlock, Job

UNDER_REVIEW = ("running", "submitted", "disputed")
"""States in which a verifier may still commit (or will once the sample is sealed). Every other state is
settled or never had a result (finalized, unverified, slashed, cancelled, failed) or has no checkpoints yet
(bidding): nothing is withheld."""


def indexed_time(session: Session) -> int | None:
    """The timestamp of the latest block the index has read up to (None before the first)."""
    return session.scalar(select(IndexedBlock.timestamp).order_by(IndexedBlock.number.desc()).limit(1))


def withheld_checkpoints(job: Job, now: int | None) -> set[int]:
    """Indices whose state hash and artifact must not be shown to anyone but the solver right now, for `job`
    as indexed and `now` the index's block time (indexed_time)."""
    if job.state not in UNDER_REVIEW:
        return set()
    if job.sampled_intervals is None or job.commit_deadline is None:  # not sealed yet: any could be drawn
        return set(range(1, job.checkpoint_count + 1))
    # Block time, as the contract sees it: once a block is past the deadline no commit can land any more.
    if now is not None and now > job.commit_deadline:
        return set()
    return {interval + 1 for interval in job.sampled_intervals}
