"""Rows the coordinator keeps. Everything here can be rebuilt from chain events plus worker reports.

Wei amounts are stored as decimal strings: they overflow 64-bit integers and SQLite has nothing wider.
"""

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Base

Address = String(42)
Hash = String(66)
Wei = String(78)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Spec(Base):
    """A job spec, stored content-addressed by the hash of its canonical JSON."""

    __tablename__ = "specs"
    hash: Mapped[str] = mapped_column(Hash, primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Job(Base):
    """The market's view of one job, projected from its events."""

    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    spec_hash: Mapped[str] = mapped_column(Hash, index=True)
    submitter: Mapped[str] = mapped_column(Address)
    state: Mapped[str] = mapped_column(String(16), index=True)
    max_price: Mapped[str] = mapped_column(Wei)
    required_stake: Mapped[str] = mapped_column(Wei)
    checkpoint_count: Mapped[int] = mapped_column(Integer)
    checkpoint_interval: Mapped[int] = mapped_column(Integer)
    bidding_deadline: Mapped[int] = mapped_column(Integer)
    solver: Mapped[str | None] = mapped_column(Address, default=None)
    price: Mapped[str | None] = mapped_column(Wei, default=None)
    execution_deadline: Mapped[int | None] = mapped_column(Integer, default=None)
    checkpoints_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_root: Mapped[str | None] = mapped_column(Hash, default=None)
    final_root: Mapped[str | None] = mapped_column(Hash, default=None)
    challenge_deadline: Mapped[int | None] = mapped_column(Integer, default=None)
    solver_payout: Mapped[str | None] = mapped_column(Wei, default=None)
    submitter_refund: Mapped[str | None] = mapped_column(Wei, default=None)
    slashed: Mapped[str | None] = mapped_column(Wei, default=None)
    updated_block: Mapped[int] = mapped_column(Integer)
    # The audit's sealed sample, as SampleSealed left it: what backend.disclosure withholds, and until when.
    sampled_intervals: Mapped[list | None] = mapped_column(JSON, default=None)
    commit_deadline: Mapped[int | None] = mapped_column(BigInteger, default=None)

    bids: Mapped[list["Bid"]] = relationship(order_by="Bid.id", cascade="all, delete-orphan")
    checkpoints: Mapped[list["Checkpoint"]] = relationship(order_by="Checkpoint.index", cascade="all, delete-orphan")
    verdicts: Mapped[list["Verdict"]] = relationship(order_by="Verdict.id", cascade="all, delete-orphan")
    disputes: Mapped[list["Dispute"]] = relationship(order_by="Dispute.id", cascade="all, delete-orphan")


class Bid(Base):
    __tablename__ = "bids"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), index=True)
    solver: Mapped[str] = mapped_column(Address)
    price: Mapped[str] = mapped_column(Wei)
    block_number: Mapped[int] = mapped_column(Integer)


class Checkpoint(Base):
    """A checkpoint as its solver reported it (signed); verifiers check it against the on-chain root."""

    __tablename__ = "checkpoints"
    __table_args__ = (UniqueConstraint("job_id", "index"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    step: Mapped[int] = mapped_column(Integer)
    state_hash: Mapped[str] = mapped_column(Hash)
    artifact: Mapped[str] = mapped_column(Hash)
    loss: Mapped[float | None] = mapped_column(Float, default=None)
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Verdict(Base):
    """A verifier's signed result of replaying one sampled interval."""

    __tablename__ = "verdicts"
    __table_args__ = (UniqueConstraint("job_id", "verifier", "interval", name="uq_verdicts_job_id_verifier_interval"),)  # one verdict per verifier and interval
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), index=True)
    verifier: Mapped[str] = mapped_column(Address)
    interval: Mapped[int] = mapped_column(Integer)
    agrees: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Dispute(Base):
    """A dispute over a job's result, as its events tell it: a bisection game over one of the job's
    intervals (kind "fault"), a demand that the solver serve one checkpoint (kind "availability"; then
    lo = hi = the demanded checkpoint's step), or a question of its initial state (kind "genesis"; lo = hi = 0)."""

    __tablename__ = "disputes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), index=True)
    challenger: Mapped[str] = mapped_column(Address)
    lo: Mapped[int] = mapped_column(Integer)
    hi: Mapped[int] = mapped_column(Integer)
    rounds: Mapped[int] = mapped_column(Integer, default=0)
    phase: Mapped[str] = mapped_column(String(16))
    solver_won: Mapped[bool | None] = mapped_column(Boolean, default=None)
    kind: Mapped[str] = mapped_column(String(16), default="fault", server_default="fault")


class ChainEvent(Base):
    """Every event the indexer applied; the unique key makes re-reading a block range harmless."""

    __tablename__ = "chain_events"
    __table_args__ = (UniqueConstraint("block_number", "log_index"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    block_number: Mapped[int] = mapped_column(Integer, index=True)
    log_index: Mapped[int] = mapped_column(Integer)
    tx_hash: Mapped[str] = mapped_column(Hash)
    contract: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64))
    args: Mapped[dict] = mapped_column(JSON)
    job_id: Mapped[int | None] = mapped_column(Integer, index=True, default=None)  # the job it projects onto


class IndexedBlock(Base):
    """The last block of each range the indexer read (the latest 512): a stored hash the chain no longer has
    at that height is a reorg (backend/indexer.py rewinds). The newest one's time is the index's clock."""

    __tablename__ = "indexed_blocks"
    number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(Hash)
    timestamp: Mapped[int] = mapped_column(BigInteger)


class Outbox(Base):
    """Tasks to send, written with the rows of the event that calls for them (one transaction): sent at least
    once by the dispatcher loop, and again while still due when the broker lost its queues (a new run id)."""

    __tablename__ = "outbox"
    __table_args__ = (UniqueConstraint("block_number", "log_index", "task", "address"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    block_number: Mapped[int] = mapped_column(Integer, index=True)
    log_index: Mapped[int] = mapped_column(Integer)
    task: Mapped[str] = mapped_column(String(16))
    job_id: Mapped[int] = mapped_column(Integer, index=True)
    address: Mapped[str] = mapped_column(Address)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None, index=True)
    broker_run: Mapped[str | None] = mapped_column(String(64), default=None)


class IndexerCursor(Base):
    __tablename__ = "indexer_cursor"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    next_block: Mapped[int] = mapped_column(Integer)


class SignedRequest(Base):
    """A signed request already accepted (pinpoint.signing): each is accepted once, until it expires."""

    __tablename__ = "signed_requests"
    digest: Mapped[str] = mapped_column(Hash, primary_key=True)
    signer: Mapped[str] = mapped_column(Address)
    expires: Mapped[int] = mapped_column(BigInteger, index=True)


class Artifact(Base):
    """Who uploaded which bytes, and for which job: the quotas count these."""

    __tablename__ = "artifacts"
    digest: Mapped[str] = mapped_column(Hash, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    uploader: Mapped[str] = mapped_column(Address, index=True)
    job_id: Mapped[int | None] = mapped_column(Integer, index=True, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class ArtifactUpload(Base):
    """A chunked upload in progress (backend/api/routes/artifacts.py): its bytes so far are a partial file in the
    store. Its declared size counts against the uploader's quota until it completes or, idle past
    `Settings.upload_idle_seconds`, is deleted with its file (backend/retention.py)."""

    __tablename__ = "artifact_uploads"
    digest: Mapped[str] = mapped_column(Hash, primary_key=True)
    uploader: Mapped[str] = mapped_column(Address, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    job_id: Mapped[int | None] = mapped_column(Integer, default=None)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class ArtifactSource(Base):
    """The index of solver-hosted artifacts: a solver declared, in a signed checkpoint report, that it serves
    `digest` at `url` (http://host:port). Untrusted: whatever is fetched from it is hash-checked."""

    __tablename__ = "artifact_sources"
    digest: Mapped[str] = mapped_column(Hash, primary_key=True)
    solver: Mapped[str] = mapped_column(Address, primary_key=True)
    url: Mapped[str] = mapped_column(String(300))
    job_id: Mapped[int] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
