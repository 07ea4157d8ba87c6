"""The chain indexer: turns contract events into rows, and dispatches the tasks they call for.

Restartable without losing or duplicating events: the next block to read is stored in the same
transaction as the rows an event produced, and each event is keyed by (block, log index), so a range
read twice is applied once.

Reorg-safe: the hash of the last block of every range read is stored with it (the latest 512). Before each
read the stored head is compared with the chain's block at that height; when the chain has another block
there, the indexer walks back to the highest stored block the chain still has (the fork point: a block's hash
commits to all before it), deletes every event above it, the outbox rows and bids/disputes they produced, the
worker reports of a job whose award or posting was orphaned, re-projects each touched job from its kept events,
and reads on from the fork. So events are applied at 0 confirmations (a local chain stays fast) and a reorg
costs a rewind, not a wrong index. A fork deeper than the stored hashes re-indexes from the deployment block.

At-least-once dispatch (a transactional outbox): "execute job N on solver S" is written into the outbox in
the transaction that projects the award; the dispatcher (`dispatch`, run after every poll) sends what is
unsent and marks it sent with the broker's run id. A broker that restarted (another run id: Valkey without
persistence loses its queues) gets every execute still due (its job running with that solver) again.
Handlers are idempotent (worker/tasks.py): a duplicate for a job already running or done does nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.orm import Session, sessionmaker
from web3.exceptions import BlockNotFound

from backend.models import Bid, ChainEvent, Checkpoint, Dispute, IndexedBlock, IndexerCursor, Job, Outbox, Verdict
from pinpoint.chain import Chain, DecodedEvent
from pinpoint.queue import Dispatcher

log = logging.getLogger(__name__)
MAX_RANGE = 2_000  # blocks per eth_getLogs call
KEEP_BLOCKS = 512  # stored block hashes: a deeper reorg re-indexes from the deployment block


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def _stored_args(args: dict) -> dict:
    return {k: str(v) if isinstance(v, int) and not isinstance(v, bool) else v for k, v in args.items()}


def _event_of(row: ChainEvent) -> DecodedEvent:
    """A stored event as it was decoded (integers are stored as decimal strings)."""
    args = {k: int(v) if isinstance(v, str) and v.isdigit() else v for k, v in row.args.items()}
    return DecodedEvent(row.contract, row.name, args, row.block_number, row.log_index, row.tx_hash)


class Indexer:
    def __init__(self, chain: Chain, sessions: sessionmaker[Session], dispatcher: Dispatcher | None, confirmations: int = 0):
        self.chain = chain
        self.sessions = sessions
        self.dispatcher = dispatcher
        self.confirmations = confirmations
        self.start_block = int(chain.deployment.get("block", 0))
        self.backfilled = False

    # --- reading the chain --------------------------------------------------------------------------

    def poll_once(self) -> int:
        """Apply the events of the next block range (after a rewind, if the chain reorganized), then send
        what the outbox holds; returns how many new events were applied."""
        applied = self.index_once()
        if self.dispatcher is not None:
            try:
                self.dispatch()
            except Exception as exc:  # the broker may be down: the outbox keeps the tasks until it is back
                log.warning("dispatch failed (%s); the outbox keeps the tasks", exc,
                            extra={"event": "dispatch_failed", "error": type(exc).__name__})
        return applied

    def _block(self, number: int):
        try:
            return self.chain.w3.eth.get_block(number)
        except BlockNotFound:
            return None

    def fork_point(self, session: Session) -> int | None:
        """None while the stored blocks are the chain's; else the highest stored block the chain still has
        (start_block - 1 when none is)."""
        stored = session.scalars(select(IndexedBlock).order_by(IndexedBlock.number.desc())).all()
        for depth, row in enumerate(stored):
            block = self._block(row.number)
            if block is not None and _hex(block["hash"]) == row.hash:
                return None if depth == 0 else row.number
        return None if not stored else self.start_block - 1

    def index_once(self) -> int:
        head = self.chain.w3.eth.block_number - self.confirmations
        applied = 0
        with self.sessions() as session:
            cursor = session.get(IndexerCursor, "market") or IndexerCursor(name="market", next_block=self.start_block)
            if not self.backfilled:
                self.backfill_samples(session)
            fork = self.fork_point(session)
            if fork is not None:
                self.rewind(session, cursor, fork)
            if head < cursor.next_block:
                session.merge(cursor)
                session.commit()
                return 0
            to_block = min(head, cursor.next_block + MAX_RANGE - 1)
            end = self._block(to_block)
            events = self.chain.events(cursor.next_block, to_block)
            again = self._block(to_block)
            if end is None or again is None or again["hash"] != end["hash"]:  # reorganized while we read: again
                session.commit()
                return 0
            for event in events:
                seen = session.scalar(
                    select(ChainEvent.id).where(
                        ChainEvent.block_number == event.block_number, ChainEvent.log_index == event.log_index
                    )
                )
                if seen:
                    continue
                job_id = self.apply(session, event)
                session.add(ChainEvent(block_number=event.block_number, log_index=event.log_index, tx_hash=event.tx_hash,
                                       contract=event.contract, name=event.name, args=_stored_args(event.args),
                                       job_id=job_id))
                applied += 1
            session.merge(IndexedBlock(number=to_block, hash=_hex(end["hash"]), timestamp=end["timestamp"]))
            session.execute(delete(IndexedBlock).where(IndexedBlock.number < to_block - KEEP_BLOCKS))
            cursor.next_block = to_block + 1
            session.merge(cursor)
            session.commit()
        return applied

    def backfill_samples(self, session: Session) -> None:
        """Jobs sealed before schema 0005 projected no sample: read it from the chain once, so disclosure
        (which withholds everything of a sealed job without one) does not withhold them until they settle."""
        stale = session.scalars(select(Job).where(Job.challenge_deadline.is_not(None), Job.commit_deadline.is_(None),
                                                  Job.state.in_(("submitted", "disputed")))).all()
        for job in stale:
            job.sampled_intervals = [int(i) for i in self.chain.market.functions.sampledIntervals(job.id).call()]
            job.commit_deadline = (self.chain.audit.functions.commitDeadline(job.id).call()
                                   if self.chain.audit is not None else 0)
            log.info("job %s: its sealed sample read from the chain (indexed before the sample was projected)", job.id)
        session.flush()
        self.backfilled = True

    def rewind(self, session: Session, cursor: IndexerCursor, fork: int) -> None:
        """Forget everything the chain no longer has above block `fork` and re-project the jobs it touched."""
        orphaned = session.scalars(select(ChainEvent).where(ChainEvent.block_number > fork)).all()
        touched = {e.job_id for e in orphaned if e.job_id is not None}
        reposted = {e.job_id for e in orphaned if e.name == "JobPosted" and e.contract == "Market"}
        # Reports made under an award the chain no longer has belong to nobody now (another solver may win).
        reawarded = {e.job_id for e in orphaned if e.name == "JobAwarded"} | reposted
        log.warning("reorg: block %s onwards is no longer the chain's (%s events orphaned, jobs %s); rewinding to %s",
                    fork + 1, len(orphaned), sorted(touched), fork + 1,
                    extra={"event": "reorg", "fork_block": fork, "orphaned_events": len(orphaned), "jobs": sorted(touched)})
        session.execute(delete(Checkpoint).where(Checkpoint.job_id.in_(reawarded)))
        session.execute(delete(Verdict).where(Verdict.job_id.in_(reawarded)))
        session.execute(delete(Bid).where(Bid.job_id.in_(touched)))
        session.execute(delete(Dispute).where(Dispute.job_id.in_(touched)))
        session.execute(delete(Outbox).where(Outbox.block_number > fork))  # a sent one re-checks the chain
        session.execute(delete(ChainEvent).where(ChainEvent.block_number > fork))
        session.execute(delete(IndexedBlock).where(IndexedBlock.number > fork))
        session.execute(delete(Job).where(Job.id.in_(reposted)))
        session.expire_all()
        kept = session.scalars(select(ChainEvent).where(ChainEvent.job_id.in_(touched - reposted))
                               .order_by(ChainEvent.block_number, ChainEvent.log_index)).all()
        for row in kept:  # from JobPosted on, as the first time, sending nothing (sent then)
            self.apply(session, _event_of(row), replay=True)
        cursor.next_block = fork + 1
        session.merge(cursor)
        session.flush()

    # --- projecting events --------------------------------------------------------------------------

    def apply(self, session: Session, event: DecodedEvent, replay: bool = False) -> int | None:
        """Project one event onto the rows (and the outbox, unless replaying); returns the job it concerns."""
        a = event.args
        if event.contract == "DisputeGame":
            return self.apply_dispute(session, event)
        job_id = int(a["jobId"]) if "jobId" in a else None
        if event.contract != "Market" or job_id is None:
            return job_id
        if event.name == "JobPosted":
            job = session.get(Job, job_id)
            if job is None:
                job = Job(id=job_id)
                session.add(job)
            # A replay after a reorg starts the job over from its posting.
            job.spec_hash, job.submitter, job.state = a["specHash"], a["submitter"], "bidding"
            job.max_price, job.required_stake = str(a["maxPrice"]), str(a["requiredStake"])
            job.checkpoint_count, job.checkpoint_interval = a["checkpointCount"], a["checkpointInterval"]
            job.bidding_deadline, job.updated_block = a["biddingDeadline"], event.block_number
            job.solver = job.price = job.execution_deadline = job.progress_root = job.final_root = None
            job.challenge_deadline = job.solver_payout = job.submitter_refund = job.slashed = None
            job.sampled_intervals = job.commit_deadline = None
            job.checkpoints_done = 0
            session.flush()
            return job_id
        job = session.get(Job, job_id)
        if job is None:
            log.warning("event %s for unknown job %s", event.name, job_id)
            return job_id
        job.updated_block = event.block_number
        if event.name == "BidPlaced":
            session.add(Bid(job_id=job_id, solver=a["solver"], price=str(a["price"]), block_number=event.block_number))
        elif event.name == "JobAwarded":
            job.state, job.solver, job.price = "running", a["solver"], str(a["price"])
            job.execution_deadline = a["executionDeadline"]
            if not replay:
                session.add(Outbox(block_number=event.block_number, log_index=event.log_index, task="execute",
                                   job_id=job_id, address=a["solver"]))
        elif event.name == "JobCancelled":
            job.state = "cancelled"
        elif event.name == "ProgressPosted":
            job.checkpoints_done, job.progress_root = a["checkpointsDone"], a["progressRoot"]
        elif event.name == "ResultSubmitted":
            # The review window opens only when the sample is sealed (SampleSealed carries its deadline).
            job.state, job.final_root = "submitted", a["finalRoot"]
            # The final root is also the last progress root (Market.submitResult): every checkpoint is done.
            job.checkpoints_done, job.progress_root = job.checkpoint_count, a["finalRoot"]
        elif event.name == "SampleSealed":
            job.challenge_deadline = a["challengeDeadline"]
            # What disclosure needs, as of the seal's block: the sample, and until when commits may land.
            market = self.chain.market.functions
            job.sampled_intervals = [int(i) for i in market.sampledIntervals(job_id).call(block_identifier=event.block_number)]
            audit = self.chain.audit
            job.commit_deadline = (audit.functions.commitDeadline(job_id).call(block_identifier=event.block_number)
                                   if audit is not None else 0)
        elif event.name == "JobFinalized":
            job.state, job.solver_payout, job.submitter_refund = "finalized", str(a["solverPayout"]), str(a["submitterRefund"])
        elif event.name == "SolverSlashed":
            job.slashed = str(a["amount"])
        elif event.name == "JobFailed":
            job.state = "failed"
        elif event.name == "JobUnverified":  # no drawn verifier approved: escrow back, solver unpaid
            job.state = "unverified"
        elif event.name == "JobDisputed":
            job.state = "disputed"
        elif event.name == "DisputeSettled":
            # Disputes run side by side and never move the deadline: a won one leaves the job disputed while
            # others are open. Which are is read from the events' own block, not from the chain as it is now.
            if not a["solverWon"]:
                job.state = "slashed"
            elif self.chain.job(job_id, block=event.block_number)["openDisputes"] == 0:
                job.state = "submitted"
        return job_id

    def apply_dispute(self, session: Session, event: DecodedEvent) -> int | None:
        a = event.args
        if event.name == "DisputeOpened":
            session.add(Dispute(id=a["disputeId"], job_id=a["jobId"], kind="fault", challenger=a["challenger"],
                                lo=a["lo"], hi=a["hi"], phase="reveal" if a["hi"] - a["lo"] > 1 else "serve"))
            session.flush()
            return int(a["jobId"])
        if event.name == "AvailabilityChallenged":  # checkpoint `index` demanded: the solver must serve it
            job = session.get(Job, int(a["jobId"]))
            if job is None:
                log.warning("event %s for unknown job %s", event.name, a["jobId"])
                return int(a["jobId"])
            step = a["index"] * job.checkpoint_interval
            session.add(Dispute(id=a["disputeId"], job_id=job.id, kind="availability", challenger=a["challenger"],
                                lo=step, hi=step, phase="serve"))
            session.flush()
            return job.id
        if event.name == "GenesisChallenged":  # the initial state questioned: the referees recompute it
            session.add(Dispute(id=a["disputeId"], job_id=a["jobId"], kind="genesis", challenger=a["challenger"],
                                lo=0, hi=0, phase="adjudicating"))
            session.flush()
            return int(a["jobId"])
        dispute = session.get(Dispute, a["disputeId"]) if "disputeId" in a else None
        if dispute is None:
            return int(a["jobId"]) if "jobId" in a else None
        if event.name == "Revealed":
            dispute.phase = "respond"
        elif event.name == "Responded":
            dispute.lo, dispute.hi, dispute.rounds = a["lo"], a["hi"], dispute.rounds + 1
            dispute.phase = "serve" if dispute.hi - dispute.lo == 1 else "reveal"
        elif event.name in ("StateServed", "AvailabilityAnswered"):  # the step verifier's turn
            dispute.phase = "adjudicating"
        elif event.name == "DisputeResolved":
            dispute.phase, dispute.solver_won = "resolved", a["solverWon"]
        elif event.name == "DisputeAbandoned":  # no referee could be drawn: no winner
            dispute.phase = "abandoned"
        return dispute.job_id

    # --- dispatching --------------------------------------------------------------------------------

    def dispatch(self) -> int:
        """Send the outbox's unsent tasks, and again those still due that a restarted broker lost; returns
        how many were sent. A task whose job moved on before it was sent is marked sent without sending."""
        run = self.dispatcher.broker_run()
        sent = 0
        with self.sessions() as session:
            rows = session.execute(
                select(Outbox, Job).join(Job, Job.id == Outbox.job_id).where(
                    or_(Outbox.sent_at.is_(None),
                        and_(Outbox.broker_run != run, Job.state == "running", Job.solver == Outbox.address)))
                .order_by(Outbox.id)).all()
            for row, job in rows:
                due = job.state == "running" and (job.solver or "").lower() == row.address.lower()
                if due:
                    self.dispatcher.execute(row.job_id, row.address)
                    sent += 1
                    age = time.time() - (self.block_time(row.block_number) or time.time())
                    if row.sent_at is None:
                        log.info("job %s: execute sent to %s, %.1f s after its award", row.job_id, row.address, age,
                                 extra={"event": "dispatched", "job_id": row.job_id, "solver": row.address,
                                        "seconds_after_award": round(age, 1)})
                    else:
                        log.warning("job %s: the broker restarted (run %s, sent under %s): execute sent to %s again, "
                                    "%.1f s after its award", row.job_id, run, row.broker_run, row.address, age,
                                    extra={"event": "redispatched", "job_id": row.job_id, "solver": row.address,
                                           "seconds_after_award": round(age, 1)})
                row.sent_at, row.broker_run = datetime.now(timezone.utc), run
                session.commit()  # one by one: a failure later keeps what was sent
        return sent

    def block_time(self, number: int) -> int | None:
        block = self._block(number)
        return None if block is None else block["timestamp"]


def run_forever(indexer: Indexer, interval: float, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            while indexer.poll_once():
                pass
        except Exception:  # the chain node may restart; keep going and say so
            log.exception("indexer poll failed; retrying", extra={"event": "poll_failed"})
        stop.wait(interval)
