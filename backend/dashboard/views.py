"""What the dashboard shows, built from the index: the market (`market_view`) and one job (`job_view`), with
stakes and block times read from the chain (read-only, cached). The routes run these in a worker thread.

A job's view is what an anonymous reader of GET /jobs/{id} sees (backend/disclosure.py withholds the same
hashes), plus what the index holds but that route does not show: the spec, the job's chain events with their
block times, each dispute's bisection round by round, and each verifier's audit entry.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.api.schemas import BidPublic, DisputePublic, JobPublic, JobSummary
from backend.disclosure import indexed_time, withheld_checkpoints
from backend.models import Bid, ChainEvent, Checkpoint, Job, Spec, Verdict
from pinpoint import bisection
from pinpoint.chain import Chain
from pinpoint.merkle import checkpoint_leaf_hash

log = logging.getLogger(__name__)
OPEN_STATES = ("bidding", "running", "submitted", "disputed")
AUDIT_OUTCOMES = ("forfeited", "refunded", "paid")  # IAudit.Outcome, in order
MAX_HISTORY = 500  # a job's latest chain events shown (a long job posts progress at every checkpoint)
RECENT_JOBS = 20
RECENT_BIDS = 50
MAX_PARTICIPANTS = 100  # per role, the latest to register


# --- what the pages read -------------------------------------------------------------------------------

class ChainEventPublic(BaseModel):
    block_number: int
    time: int | None = Field(description="the block's timestamp; null when the chain did not answer")
    tx_hash: str
    contract: str
    name: str
    args: dict[str, Any] = Field(description="the event's arguments as decoded; integers as decimal strings")


class BisectionRound(BaseModel):
    round: int = Field(description="0: the interval the dispute opened on; n: after the challenger's n-th answer")
    lo: int = Field(description="step of the state both sides agree on")
    hi: int = Field(description="step of the solver's disputed claim")
    points: list[int] = Field([], description="the steps whose states the solver revealed in the round that led here")
    segment: int | None = Field(None, description="the segment between them the challenger disputed (0: the first)")
    block_number: int


class DisputeView(DisputePublic):
    bisection: list[BisectionRound] = Field(description="lo and hi as each round left them (fault disputes)")


class AuditView(BaseModel):
    """A verifier's entry in the Audit contract for this job, as its events tell it."""

    verifier: str
    committed: bool
    revealed: bool
    agreed: bool | None = Field(description="its recomputed end states matched the solver's root")
    first_mismatch: int | None = Field(description="the first sampled interval it disagreed on")
    outcome: Literal["forfeited", "refunded", "paid"] | None = Field(description="once the audit settled")
    amount: str | None = Field(description="wei it was paid back or forfeited at settlement")


class JobView(BaseModel):
    job: JobPublic
    spec: dict[str, Any] | None = Field(description="the spec's canonical JSON; null if it was never stored here")
    sampled_intervals: list[int] | None = Field(description="the audit's sealed sample (0-based intervals)")
    commit_deadline: int | None = Field(description="until when drawn verifiers may commit (block time)")
    history: list[ChainEventPublic] = Field(description=f"the job's chain events, oldest first (the latest {MAX_HISTORY})")
    disputes: list[DisputeView]
    audits: list[AuditView]
    chain_time: int | None = Field(description="the latest indexed block's time: deadlines count down from it")


class JobRow(JobSummary):
    required_stake: str
    bidding_deadline: int
    execution_deadline: int | None
    challenge_deadline: int | None
    best_bid: str | None = Field(description="the lowest bid so far, wei")
    bid_count: int


class BidRow(BidPublic):
    job_id: int


class Participant(BaseModel):
    address: str
    stake: str | None = Field(description="wei: free stake (solvers) or registered stake (verifiers, referees); "
                              "null when the chain did not answer")
    locked: str | None = Field(None, description="wei locked in open jobs (solvers)")


class MarketView(BaseModel):
    counts: dict[str, int] = Field(description="jobs by state")
    open_jobs: list[JobRow] = Field(description="bidding, running, submitted or disputed")
    recent_jobs: list[JobRow]
    bids: list[BidRow] = Field(description="the latest bids")
    solvers: list[Participant]
    verifiers: list[Participant]
    referees: list[Participant]
    chain_time: int | None


# --- chain reads ---------------------------------------------------------------------------------------

class ChainReads:
    """The read-only chain lookups the views make, cached: a block's time does not change (a reorg only moves
    what is displayed), stakes are read again after `stake_seconds`. A chain that does not answer gives None."""

    def __init__(self, chain: Chain, stake_seconds: float = 2.0, max_entries: int = 100_000):
        self.chain, self.stake_seconds, self.max_entries = chain, stake_seconds, max_entries
        self.times: dict[int, int] = {}
        self.stakes: dict[tuple[str, str], tuple[float, str | None]] = {}
        self.lock = threading.Lock()

    def block_time(self, number: int) -> int | None:
        if (known := self.times.get(number)) is not None:
            return known
        try:
            timestamp = int(self.chain.w3.eth.get_block(number)["timestamp"])
        except Exception as exc:  # noqa: BLE001 (a page without times beats no page)
            log.debug("block %s: no time (%s)", number, exc)
            return None
        with self.lock:
            if len(self.times) >= self.max_entries:
                self.times.clear()
            self.times[number] = timestamp
        return timestamp

    def stake(self, role: str, address: str) -> str | None:
        """Wei as a decimal string: "free" and "locked" (Staking), "verifier" (Audit), "referee" (RefereeCourt)."""
        key = (role, address)
        cached = self.stakes.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        contract, function = {"free": (self.chain.staking, "freeStake"), "locked": (self.chain.staking, "lockedStake"),
                              "verifier": (self.chain.audit, "stakeOf"), "referee": (self.chain.court, "stakeOf")}[role]
        try:
            value = str(getattr(contract.functions, function)(address).call()) if contract is not None else None
        except Exception as exc:  # noqa: BLE001
            log.debug("%s stake of %s unread (%s)", role, address, exc)
            value = None
        with self.lock:
            if len(self.stakes) >= self.max_entries:
                self.stakes.clear()
            self.stakes[key] = (time.monotonic() + self.stake_seconds, value)
        return value


# --- a job ---------------------------------------------------------------------------------------------

def public_job(session: Session, job: Job) -> JobPublic:
    """The job as an anonymous GET /jobs/{id} shows it: the hashes disclosure withholds are null, leaves shown."""
    public = JobPublic.model_validate(job)
    withheld = withheld_checkpoints(job, indexed_time(session))
    losses = [c.loss for c in public.checkpoints if c.loss is not None]
    public.final_loss = losses[-1] if losses else None
    for checkpoint in public.checkpoints:
        checkpoint.leaf = checkpoint_leaf_hash(job.id, checkpoint.index, checkpoint.step, checkpoint.state_hash)
        if checkpoint.index in withheld:
            checkpoint.state_hash = checkpoint.artifact = None
    return public


def job_mark(session: Session, job_id: int) -> tuple | None:
    """Changes whenever the job's view may have (but for disclosure by the clock); None: no such job."""
    if session.get(Job, job_id) is None:
        return None
    return (session.scalar(select(func.max(ChainEvent.id)).where(ChainEvent.job_id == job_id)),
            session.scalar(select(func.count(Checkpoint.id)).where(Checkpoint.job_id == job_id)),
            session.scalar(select(func.count(Verdict.id)).where(Verdict.job_id == job_id)))


def job_view(session: Session, job: Job, reads: ChainReads) -> JobView:
    spec_row = session.get(Spec, job.spec_hash)
    events = session.scalars(select(ChainEvent).where(ChainEvent.job_id == job.id)
                             .order_by(ChainEvent.block_number, ChainEvent.log_index)).all()
    shown = events[-MAX_HISTORY:]
    history = [ChainEventPublic(block_number=e.block_number, time=reads.block_time(e.block_number), tx_hash=e.tx_hash,
                                contract=e.contract, name=e.name, args=e.args) for e in shown]
    bisections = bisection_rounds(events)
    disputes = [DisputeView(**DisputePublic.model_validate(d).model_dump(), bisection=bisections.get(d.id, []))
                for d in job.disputes]
    return JobView(job=public_job(session, job), spec=json.loads(spec_row.body) if spec_row is not None else None,
                   sampled_intervals=job.sampled_intervals, commit_deadline=job.commit_deadline, history=history,
                   disputes=disputes, audits=audit_entries(events), chain_time=indexed_time(session))


def bisection_rounds(events: list[ChainEvent]) -> dict[int, list[BisectionRound]]:
    """Each fault dispute's interval as it narrowed: opened on [lo, hi], then after every pick of the challenger
    among the segments between the solver's revealed points (DisputeGame's Responded carries the new lo and hi)."""
    rounds: dict[int, list[BisectionRound]] = {}
    revealed: dict[int, list[int]] = {}
    for event in events:
        args = event.args
        if event.contract != "DisputeGame" or "disputeId" not in args:
            continue
        dispute = int(args["disputeId"])
        if event.name == "DisputeOpened":
            rounds[dispute] = [BisectionRound(round=0, lo=int(args["lo"]), hi=int(args["hi"]),
                                              block_number=event.block_number)]
        elif event.name == "Revealed":
            revealed[dispute] = bisection.points(int(args["lo"]), int(args["hi"]))
        elif event.name == "Responded" and dispute in rounds:
            rounds[dispute].append(BisectionRound(round=len(rounds[dispute]), lo=int(args["lo"]), hi=int(args["hi"]),
                                                  points=revealed.pop(dispute, []), segment=int(args["segment"]),
                                                  block_number=event.block_number))
    return rounds


def audit_entries(events: list[ChainEvent]) -> list[AuditView]:
    """Each verifier's commit, reveal and settlement in the Audit contract, in the order they committed."""
    entries: dict[str, AuditView] = {}
    for event in events:
        if event.contract != "Audit" or "verifier" not in event.args:
            continue
        args = event.args
        entry = entries.setdefault(args["verifier"], AuditView(verifier=args["verifier"], committed=False, revealed=False,
                                                               agreed=None, first_mismatch=None, outcome=None,
                                                               amount=None))
        if event.name == "AuditCommitted":
            entry.committed = True
        elif event.name == "AuditRevealed":
            entry.revealed, entry.agreed = True, bool(args["agreed"])
            entry.first_mismatch = None if entry.agreed else int(args["firstMismatch"])
        elif event.name == "AuditSettled":
            outcome = int(args["outcome"])
            entry.outcome = AUDIT_OUTCOMES[outcome] if outcome < len(AUDIT_OUTCOMES) else None
            entry.amount = str(args["amount"])
    return list(entries.values())


# --- the market ----------------------------------------------------------------------------------------

def market_mark(session: Session) -> tuple:
    """Changes whenever the market's view may have: every change to it is a chain event."""
    return tuple(session.execute(select(func.max(ChainEvent.id), func.max(ChainEvent.block_number))).one())


def market_view(session: Session, reads: ChainReads) -> MarketView:
    counts = dict(session.execute(select(Job.state, func.count(Job.id)).group_by(Job.state)).all())
    open_jobs = session.scalars(select(Job).where(Job.state.in_(OPEN_STATES)).order_by(Job.id.desc()).limit(100)).all()
    recent = session.scalars(select(Job).order_by(Job.id.desc()).limit(RECENT_JOBS)).all()
    bids = session.scalars(select(Bid).order_by(Bid.id.desc()).limit(RECENT_BIDS)).all()
    shown = {job.id for job in (*open_jobs, *recent)}
    bid_stats: dict[int, tuple[int, int]] = {}  # job -> (count, lowest price)
    for job_id, price in session.execute(select(Bid.job_id, Bid.price).where(Bid.job_id.in_(shown))).all():
        count, lowest = bid_stats.get(job_id, (0, None))
        bid_stats[job_id] = (count + 1, int(price) if lowest is None else min(lowest, int(price)))

    def row(job: Job) -> JobRow:
        count, lowest = bid_stats.get(job.id, (0, None))
        return JobRow(**JobSummary.model_validate(job).model_dump(), required_stake=job.required_stake,
                      bidding_deadline=job.bidding_deadline, execution_deadline=job.execution_deadline,
                      challenge_deadline=job.challenge_deadline, bid_count=count,
                      best_bid=None if lowest is None else str(lowest))

    def registered(contract: str, name: str, key: str) -> list[str]:
        """Addresses in the latest events `name` of `contract`, newest first, each once."""
        rows = session.scalars(select(ChainEvent.args).where(ChainEvent.contract == contract, ChainEvent.name == name)
                               .order_by(ChainEvent.id.desc()).limit(10 * MAX_PARTICIPANTS)).all()
        return list(dict.fromkeys(args[key] for args in rows if key in args))[:MAX_PARTICIPANTS]

    solvers = [Participant(address=a, stake=reads.stake("free", a), locked=reads.stake("locked", a))
               for a in registered("Staking", "Deposited", "account")]
    verifiers = [Participant(address=a, stake=reads.stake("verifier", a))
                 for a in registered("Audit", "VerifierRegistered", "verifier")]
    referees = [Participant(address=a, stake=reads.stake("referee", a))
                for a in registered("RefereeCourt", "RefereeRegistered", "referee")]
    return MarketView(counts=counts, open_jobs=[row(j) for j in open_jobs], recent_jobs=[row(j) for j in recent],
                      bids=[BidRow(job_id=b.job_id, **BidPublic.model_validate(b).model_dump()) for b in bids],
                      solvers=solvers, verifiers=verifiers, referees=referees, chain_time=indexed_time(session))
