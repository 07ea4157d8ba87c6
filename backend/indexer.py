"""The chain indexer: turns contract events into rows.

Restartable without losing or duplicating events: the next block to read is stored in the same
transaction as the rows an event produced, and each event is keyed by (block, log index), so a range
read twice is applied once. Celery tasks are sent only after that transaction commits.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from backend.models import Bid, ChainEvent, Dispute, IndexerCursor, Job
from pinpoint.chain import Chain, DecodedEvent
from pinpoint.queue import Dispatcher

log = logging.getLogger(__name__)
MAX_RANGE = 2_000  # blocks per eth_getLogs call


class Indexer:
    def __init__(self, chain: Chain, sessions: sessionmaker[Session], dispatcher: Dispatcher | None, confirmations: int = 0):
        self.chain = chain
        self.sessions = sessions
        self.dispatcher = dispatcher
        self.confirmations = confirmations
        self.start_block = int(chain.deployment.get("block", 0))

    def poll_once(self) -> int:
        """Apply the events of the next block range; returns how many new events were applied."""
        head = self.chain.w3.eth.block_number - self.confirmations
        follow_ups: list[Callable[[], None]] = []
        applied = 0
        with self.sessions() as session:
            cursor = session.get(IndexerCursor, "market") or IndexerCursor(name="market", next_block=self.start_block)
            if head < cursor.next_block:
                return 0
            to_block = min(head, cursor.next_block + MAX_RANGE - 1)
            for event in self.chain.events(cursor.next_block, to_block):
                seen = session.scalar(
                    select(ChainEvent.id).where(
                        ChainEvent.block_number == event.block_number, ChainEvent.log_index == event.log_index
                    )
                )
                if seen:
                    continue
                session.add(
                    ChainEvent(
                        block_number=event.block_number,
                        log_index=event.log_index,
                        tx_hash=event.tx_hash,
                        contract=event.contract,
                        name=event.name,
                        args={k: str(v) if isinstance(v, int) and not isinstance(v, bool) else v for k, v in event.args.items()},
                    )
                )
                follow_ups += self.apply(session, event)
                applied += 1
            cursor.next_block = to_block + 1
            session.merge(cursor)
            session.commit()
        if self.dispatcher is not None:
            for send in follow_ups:
                send()
        return applied

    def apply(self, session: Session, event: DecodedEvent) -> list[Callable[[], None]]:
        """Project one event onto the rows; returns the tasks to send once committed."""
        if event.contract == "DisputeGame":
            self.apply_dispute(session, event)
            return []
        a = event.args
        if event.contract != "Market" or "jobId" not in a:
            return []
        job_id = int(a["jobId"])
        if event.name == "JobPosted":
            session.add(
                Job(
                    id=job_id,
                    spec_hash=a["specHash"],
                    submitter=a["submitter"],
                    state="bidding",
                    max_price=str(a["maxPrice"]),
                    required_stake=str(a["requiredStake"]),
                    checkpoint_count=a["checkpointCount"],
                    checkpoint_interval=a["checkpointInterval"],
                    bidding_deadline=a["biddingDeadline"],
                    updated_block=event.block_number,
                )
            )
            session.flush()
            return []
        job = session.get(Job, job_id)
        if job is None:
            log.warning("event %s for unknown job %s", event.name, job_id)
            return []
        job.updated_block = event.block_number
        if event.name == "BidPlaced":
            session.add(Bid(job_id=job_id, solver=a["solver"], price=str(a["price"]), block_number=event.block_number))
        elif event.name == "JobAwarded":
            job.state, job.solver, job.price = "running", a["solver"], str(a["price"])
            job.execution_deadline = a["executionDeadline"]
            if self.dispatcher is not None:
                return [lambda: self.dispatcher.execute(job_id, a["solver"])]
        elif event.name == "JobCancelled":
            job.state = "cancelled"
        elif event.name == "ProgressPosted":
            job.checkpoints_done, job.progress_root = a["checkpointsDone"], a["progressRoot"]
        elif event.name == "ResultSubmitted":
            # The review window opens only when the sample is sealed (SampleSealed carries its deadline).
            job.state, job.final_root = "submitted", a["finalRoot"]
        elif event.name == "SampleSealed":
            job.challenge_deadline = a["challengeDeadline"]
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
        return []

    def apply_dispute(self, session: Session, event: DecodedEvent) -> None:
        a = event.args
        if event.name == "DisputeOpened":
            session.add(Dispute(id=a["disputeId"], job_id=a["jobId"], kind="fault", challenger=a["challenger"],
                                lo=a["lo"], hi=a["hi"], phase="reveal" if a["hi"] - a["lo"] > 1 else "serve"))
            session.flush()
            return
        if event.name == "AvailabilityChallenged":  # checkpoint `index` demanded: the solver must serve it
            job = session.get(Job, int(a["jobId"]))
            if job is None:
                log.warning("event %s for unknown job %s", event.name, a["jobId"])
                return
            step = a["index"] * job.checkpoint_interval
            session.add(Dispute(id=a["disputeId"], job_id=job.id, kind="availability", challenger=a["challenger"],
                                lo=step, hi=step, phase="serve"))
            session.flush()
            return
        dispute = session.get(Dispute, a["disputeId"]) if "disputeId" in a else None
        if dispute is None:
            return
        if event.name == "MidpointRevealed":
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


def run_forever(indexer: Indexer, interval: float, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            while indexer.poll_once():
                pass
        except Exception:  # the chain node may restart; keep going and say so
            log.exception("indexer poll failed; retrying")
        stop.wait(interval)
