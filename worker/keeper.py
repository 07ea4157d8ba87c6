"""Deadline keeping: the exits anyone may trigger once a deadline has passed, so no funds sit stuck.

An auction past its deadline is closed (awarded, or cancelled with a refund); a solver past its execution
deadline is reported (its stake goes to the submitter); a sealed result past its challenge window is
finalized (paid if a drawn verifier approved it, else ended unverified with the escrow refunded);
a submitted result's sample is sealed as soon as its seed block exists; a settled job's audits are
settled once their reveal window is over, and the bonds of its answered availability demands released; the
disputes still open when another one slashed the solver are closed as moot (bonds back).
Verifier hosts run a Keeper for every job; solvers use `due_exit` for their own.
"""

from __future__ import annotations

import logging
import time

from pinpoint.chain import Chain, ChainError, JobState, Phase

log = logging.getLogger(__name__)

OPEN_STATES = (JobState.BIDDING, JobState.RUNNING, JobState.SUBMITTED, JobState.DISPUTED)
IDLE_CHAIN_SECONDS = 60
"""A latest block this old means the chain mines only when sent a transaction (a real chain's block is late by
seconds, not a minute)."""
IDLE_CHAIN_WARNING_EVERY = 60.0


def idle_chain(chain: Chain) -> str | None:
    """Why an exit that is due by the wall clock reverts on chain, when the reason is that the chain's clock
    stands still: a block's timestamp is the only clock contracts read, and a chain that mines no block while
    idle (plain `anvil`) never reaches a deadline, so the transaction meant to pass it is refused."""
    age = int(time.time()) - chain.w3.eth.get_block("latest")["timestamp"]
    if age < IDLE_CHAIN_SECONDS:
        return None
    return (f"the chain's latest block is {age} s old: it mines no block while idle, so no deadline passes on chain "
            "and jobs stay where they are (e.g. in bidding). Mine a block a second: `anvil --block-time 1`, "
            "`ape run deploy --block-time 1` after deploying, or `pinpoint dev up`")


def due_exit(job: dict, now: int) -> str | None:
    """The Market function that moves `job` on at time `now`, or None while it is inside its window."""
    if job["state"] == JobState.BIDDING and now > job["biddingDeadline"]:
        return "closeBidding"
    if job["state"] == JobState.RUNNING and now > job["executionDeadline"]:
        return "reportMissedDeadline"
    if job["state"] == JobState.SUBMITTED and job["sampleSealedAt"] and now > job["challengeDeadline"]:
        return "finalize"
    return None


class Keeper:
    def __init__(self, chain: Chain):
        self.chain = chain
        self.seen = 0
        self.open: set[int] = set()
        self.unsettled_audits: set[int] = set()
        self.held_bonds: set[int] = set()  # dispute ids
        self.moot: set[int] = set()  # dispute ids still open over a job another dispute slashed
        self.warned_idle_at: float | None = None  # monotonic time of the last idle-chain warning

    def tick(self) -> list[tuple[int, str]]:
        """Trigger every due exit; returns what was done."""
        job_count = self.chain.market.functions.jobCount().call()
        self.open.update(range(self.seen + 1, job_count + 1))
        self.seen = job_count
        done, now = [], self.chain.now()
        for job_id in sorted(self.open):
            job = self.chain.job(job_id)
            if job["state"] not in OPEN_STATES:
                self.open.discard(job_id)
                if self._has_audit(job_id):
                    self.unsettled_audits.add(job_id)
                self.held_bonds.update(self.chain.game.functions.heldBonds(job_id).call())
                if job["state"] == JobState.SLASHED:
                    self.moot.update(self.chain.game.functions.disputesOf(job_id).call())
                continue
            action = due_exit(job, now)
            if action is None and self._seal_due(job):
                action = "sealSample"
            if action is not None:
                self._act(done, "Market", action, job_id)
        for job_id in sorted(self.unsettled_audits):
            if self.chain.audit.functions.settled(job_id).call():
                self.unsettled_audits.discard(job_id)
            elif now > self.chain.audit.functions.revealDeadline(job_id).call():
                self._act(done, "Audit", "settle", job_id)
        for dispute_id in sorted(self.held_bonds):
            if self.chain.dispute(dispute_id)["bondHeld"]:
                self._act(done, "DisputeGame", "releaseBond", dispute_id)
            else:
                self.held_bonds.discard(dispute_id)
        for dispute_id in sorted(self.moot):
            dispute = self.chain.dispute(dispute_id)
            if dispute["phase"] != Phase.RESOLVED:
                self._act(done, "DisputeGame", "closeMoot", dispute_id)
            self.moot.discard(dispute_id)
        return done

    def _has_audit(self, job_id: int) -> bool:
        """Something to settle: a funded reward or committed verifiers."""
        audit = self.chain.audit.functions
        return bool(audit.pot(job_id).call() or audit.verifiersOf(job_id).call())

    def _seal_due(self, job: dict) -> bool:
        return (job["state"] in (JobState.SUBMITTED, JobState.DISPUTED) and not job["sampleSealedAt"]
                and self.chain.w3.eth.block_number > job["sampleBlock"])

    def _act(self, done: list, contract: str, action: str, target: int) -> None:
        """Send `action(target)` (a job id, or a dispute id for releaseBond); record it in `done`."""
        try:
            self.chain.transact(contract, action, target)
            done.append((target, action))
            log.info("%s %s: %s", "job" if contract == "Market" else "dispute", target, action)
        except ChainError as exc:  # someone else acted first, or the block clock lags ours
            why = idle_chain(self.chain)
            if why is None:
                log.debug("%s(%s): %s", action, target, exc)
            elif self.warned_idle_at is None or time.monotonic() - self.warned_idle_at >= IDLE_CHAIN_WARNING_EVERY:
                log.warning("%s(%s) reverted (%s): %s", action, target, exc, why)
                self.warned_idle_at = time.monotonic()
