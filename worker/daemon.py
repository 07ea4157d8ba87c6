"""The hosts' market loops. A solver keeps enough stake, bids on jobs it can run, closes auctions and
collects pay; a verifier sends every submitted result to its own Celery worker to check.

Job execution itself happens in the Celery worker (worker/tasks.py) that the coordinator dispatches to.
Every decision not to bid is logged with its reason ("why no match").
"""

from __future__ import annotations

import logging
import time

import httpx

from pinpoint.chain import Chain, ChainError, JobState, SwarmState
from pinpoint.client import CoordinatorClient, CoordinatorError
from pinpoint.queue import Dispatcher
from pinpoint.spec import AnySpec, InferenceSpec, JobSpec, named_inputs
from pinpoint.units import format_eth
from worker.engine.artifacts import ArtifactHashMismatch, Fetch, artifact_bytes
from worker.engine.inference import InferenceInputError
from worker.engine.training import (
    InitialWeightsInvalid,
    ProfileMismatch,
    Trainer,
    check_profile,
)
from worker.disputes import program_is_specs
from worker.inference import Download, honest_engine
from worker.keeper import OPEN_STATES, due_exit
from worker.metrics import metrics
from worker.pricing import PricePolicy
from worker.solver import JobMismatch, check_spec_matches, kept_checkpoint

REPAIR_SECONDS = 5.0  # how often a solver checks that the coordinator still has what it published

log = logging.getLogger(__name__)


def unsupported_reason(spec: AnySpec, download: Download | None = None) -> str | None:
    """Why this host cannot run the job, or None when it can: its execution profile, and (given `download`)
    the artifacts it names, which must exist and hash right (an inference job's must also fit the model): a
    solver that bid on a job whose data is gone would miss its deadline and lose its stake."""
    try:
        check_profile(spec)
        if isinstance(spec, InferenceSpec) and download is not None:
            honest_engine(spec, download)  # cached: the verifier side of this host may need it too
        elif download is not None:
            for kind, sha256 in named_inputs(spec):
                artifact_bytes("0x" + sha256, kind, download)  # the last of each kind stays cached
    except ProfileMismatch as exc:
        return str(exc)
    except (CoordinatorError, InferenceInputError, ArtifactHashMismatch) as exc:
        return f"its artifacts are unusable: {exc}"
    return None


def ensure_stake(chain: Chain, amount: int) -> None:
    """Top the key's stake (free + locked) up to `amount`."""
    staking = chain.staking.functions
    held = staking.freeStake(chain.address).call() + staking.lockedStake(chain.address).call()
    if held < amount:
        chain.transact("Staking", "deposit", value=amount - held)
        log.info("deposited %s of stake", format_eth(amount - held),
                 extra={"event": "staked", "amount": format_eth(amount - held), "stake": format_eth(amount)})


def ensure_verifier_stake(chain: Chain, amount: int) -> None:
    """Top the key's verifier stake in the audit registry up to `amount` (at least the registry's minimum):
    audit seats are drawn in proportion to it."""
    audit = chain.audit.functions
    target = max(amount, audit.minVerifierStake().call())
    held = audit.stakeOf(chain.address).call()
    if held < target:
        chain.transact("Audit", "register", value=target - held)
        log.info("registered %s of verifier stake", format_eth(target - held),
                 extra={"event": "verifier_staked", "amount": format_eth(target - held), "stake": format_eth(target)})


ZERO_ADDRESS = "0x" + "00" * 20


class SolverDaemon:
    def __init__(self, chain: Chain, client: CoordinatorClient, policy: PricePolicy, dispatcher: Dispatcher | None = None,
                 home=None, republish: bool = False, fetch: Fetch | None = None):
        self.chain = chain
        # Where a spec's artifacts come from before a bid: downloaded, or (a swarm round's updates) received in
        # the round's exchange and held by the store (worker/round_exchange.py).
        self.fetch = fetch or (lambda digest: self.client.download_artifact(digest))
        self.home = home  # where SolverRun keeps its own copy of every checkpoint
        self.republish = republish  # an honest solver re-reports what a coordinator lost (worker/cli.py)
        self.won_specs: dict[int, AnySpec] = {}  # specs of jobs we bid on: re-posted if the coordinator lost them
        self.repaired_at = 0.0
        self.dispatcher = dispatcher
        self.client = client
        self.policy = policy
        self.seen = 0  # highest job id looked at
        self.watching: set[int] = set()  # jobs we bid on or won, until they end
        self.declined: dict[int, str] = {}  # open auctions we did not bid on, and why: looked at again
        self.program_checked: dict[int, bool] = {}  # job -> whether its registered program is its spec's
        self.specs: dict[str, AnySpec] = {}  # by hash: a declined auction is looked at every tick
        self.round_starts: dict[str, str | None] = {}  # swarm shares' specs: why their start cannot be built
        self.swarms_seen = 0  # highest swarm id looked at
        self.swarm_bids: dict[int, str] = {}  # open swarm auctions: "bid" or why not, looked at again

    def tick(self) -> None:
        for job_id in range(self.seen + 1, self.chain.market.functions.jobCount().call() + 1):
            self.consider_safely(job_id)
            self.seen = job_id
        for job_id in sorted(self.declined):
            self.consider_safely(job_id)
        for job_id in sorted(self.watching):
            self.advance(job_id)
        self.consider_swarms()
        if self.republish and time.monotonic() - self.repaired_at >= REPAIR_SECONDS:
            self.repaired_at = time.monotonic()
            for job_id in sorted(self.watching):
                self.republish_lost(job_id)
        claimed = self.chain.claim_credits()
        if claimed:
            log.info("claimed %s", format_eth(claimed), extra={"event": "claimed", "amount": format_eth(claimed)})

    def consider_safely(self, job_id: int) -> None:
        """`consider`, where anything but an outage (which the host's loop waits out) declines that one job: no
        spec a submitter can post may stop the host and the jobs it already runs."""
        try:
            self.consider(job_id)
        except (ChainError, CoordinatorError, OSError, httpx.HTTPError):
            raise
        except Exception as exc:
            log.exception("job %s: could not be evaluated", job_id)
            self.decline(job_id, f"could not be evaluated: {exc!r}")

    def consider(self, job_id: int) -> None:
        job = self.chain.job(job_id)
        if job["solver"].lower() == self.chain.address.lower() and job["state"] in OPEN_STATES:
            self.watching.add(job_id)  # ours from before a restart: see it through
            if job["state"] == JobState.RUNNING and self.dispatcher is not None:
                # Its task may have died with us; running it again resumes from the last committed checkpoint.
                self.dispatcher.execute(job_id, self.chain.address)
                log.info("job %s: resuming the execution of an awarded job", job_id)
            return
        if job["state"] != JobState.BIDDING or self.chain.now() >= job["biddingDeadline"]:
            self.declined.pop(job_id, None)
            self.specs.pop(job["specHash"], None)
            return
        reserved = self.reserved_solver(job_id)
        if reserved not in (None, self.chain.address.lower()):
            self.declined.pop(job_id, None)  # a swarm's sub-job for another slot's holder
            return
        try:
            spec = self.specs.get(job["specHash"])
            if spec is None:
                spec = self.specs[job["specHash"]] = self.client.spec(job["specHash"])
        except CoordinatorError as exc:
            return self.decline(job_id, f"spec unavailable ({exc})")
        free = self.chain.staking.functions.freeStake(self.chain.address).call()
        price = self.policy.bid_for(spec, job["maxPrice"])
        if reserved is not None and price is not None:
            # Ours alone (a swarm's share for our slot): take the escrow, the price its auction settled. Anyone
            # may reserve a job for us, so the escrow must still cover our own quote.
            price = job["maxPrice"]
        reason = unsupported_reason(spec, self.fetch)
        if reason is None and price is None:
            reason = f"pays at most {format_eth(job['maxPrice'])}, our price is {format_eth(self.policy.quote(spec))}"
        if reason is None:
            reason = self.infeasible_reason(spec, job)
        if reason is None and free < job["requiredStake"]:
            reason = f"needs {format_eth(job['requiredStake'])} of free stake, we have {format_eth(free)}"
        if reason is None:
            reason = self.unverifiable_reason(job_id, spec)
        if reason is None:
            reason = self.program_reason(job_id, spec)
        if reason is None and reserved is not None:
            reason = self.round_start_reason(spec)
        if reason is not None:
            return self.decline(job_id, reason)
        try:
            self.chain.transact("Market", "bid", job_id, price)
            self.won_specs[job_id] = spec
            self.declined.pop(job_id, None)
            self.watching.add(job_id)
            metrics().bids.inc()
            log.info("job %s: bid %s", job_id, format_eth(price),
                     extra={"event": "bid", "job_id": job_id, "price": format_eth(price)})
        except ChainError as exc:
            log.info("job %s: bid refused: %s", job_id, exc.reason or exc,
                     extra={"event": "bid_refused", "job_id": job_id, "reason": exc.reason or str(exc)})

    def program_reason(self, job_id: int, spec: AnySpec) -> str | None:
        """Why the job's registered program (StepRouter) is not its spec's: its disputed steps would be played over
        operators we do not compute, and an honest solver could lose them. None: no program (the court decides
        its disputes), or the spec's own (checked once per job: one traced step)."""
        if job_id not in self.program_checked:
            self.program_checked[job_id] = program_is_specs(self.chain, job_id, spec)
        return None if self.program_checked[job_id] else "its registered program is not its spec's"

    def round_start_reason(self, spec: AnySpec) -> str | None:
        """Why a swarm share's start cannot be built (its named checkpoints or updates are not this model's), or
        None: accepted, a share that cannot start would miss its deadline and cost the stake. Built once per spec."""
        if not isinstance(spec, JobSpec) or spec.swarm is None or spec.swarm.round == 0:
            return None
        key = spec.spec_hash()
        if key not in self.round_starts:
            try:
                Trainer(spec).initial_checkpoint()
                self.round_starts[key] = None
            except InitialWeightsInvalid as exc:
                self.round_starts[key] = f"its round cannot start: {exc}"
        return self.round_starts[key]

    def reserved_solver(self, job_id: int) -> str | None:
        """The solver a job is reserved for (a swarm's sub-job for its slot's holder), lowercase; None if open."""
        reserved = self.chain.market.functions.reservedSolver(job_id).call()
        return None if reserved == ZERO_ADDRESS else reserved.lower()

    def consider_swarms(self) -> None:
        """Bid on swarms (a model trained on K solvers in rounds) whose rounds we can run at our price; each
        round's share is then a job reserved for us (`consider`)."""
        if self.chain.swarm is None:
            return
        for swarm_id in range(self.swarms_seen + 1, self.chain.swarm.functions.swarmCount().call() + 1):
            self.swarm_bids.setdefault(swarm_id, "")
            self.swarms_seen = swarm_id
        for swarm_id in sorted(self.swarm_bids):
            if self.swarm_bids[swarm_id] == "bid":
                continue
            try:
                reason = self.bid_on_swarm(swarm_id)
            except (ChainError, CoordinatorError) as exc:
                reason = str(exc)
            if reason is None:
                self.swarm_bids.pop(swarm_id)  # closed
            elif reason != self.swarm_bids[swarm_id]:
                if reason != "bid":
                    log.info("swarm %s: no bid: %s", swarm_id, reason,
                             extra={"event": "no_bid", "swarm_id": swarm_id, "reason": reason})
                self.swarm_bids[swarm_id] = reason

    def bid_on_swarm(self, swarm_id: int) -> str | None:
        """Bid on one swarm's auction; returns "bid", why not, or None once the auction is closed."""
        terms = self.chain.get_swarm(swarm_id)
        if terms["state"] != SwarmState.BIDDING or self.chain.now() > terms["biddingDeadline"]:
            return None
        spec = self.client.spec(terms["specHash"])
        if isinstance(spec, InferenceSpec):
            return "a swarm trains; its spec is an inference job"
        price = self.policy.bid_for(spec, terms["maxPricePerRound"])
        free = self.chain.staking.functions.freeStake(self.chain.address).call()
        reason = unsupported_reason(spec, self.fetch)
        if reason is None and price is None:
            reason = (f"pays at most {format_eth(terms['maxPricePerRound'])} a round, our price is "
                      f"{format_eth(self.policy.quote(spec))}")
        if reason is None and terms["executionDuration"] < self.policy.seconds_for(spec):
            reason = f"its execution window is {terms['executionDuration']} s, a round may take {self.policy.seconds_for(spec)} s here"
        if reason is None and free < terms["requiredStake"]:
            reason = f"needs {format_eth(terms['requiredStake'])} of free stake, we have {format_eth(free)}"
        if reason is not None:
            return reason
        self.chain.transact("Swarm", "bid", swarm_id, price)
        log.info("swarm %s: bid %s a round", swarm_id, format_eth(price),
                 extra={"event": "swarm_bid", "swarm_id": swarm_id, "price": format_eth(price)})
        return "bid"

    def decline(self, job_id: int, reason: str) -> None:
        """No bid for now; the auction is looked at again every tick until it closes."""
        if self.declined.get(job_id) != reason:  # say why once, not every tick
            log.info("job %s: no bid: %s", job_id, reason, extra={"event": "no_bid", "job_id": job_id, "reason": reason})
        self.declined[job_id] = reason

    def infeasible_reason(self, spec: AnySpec, job: dict) -> str | None:
        """A job we could not complete as posted: its terms are not its spec's (no root we commit would be the
        spec's), or its execution window is shorter than the work may take here (we would lose the stake)."""
        try:
            check_spec_matches(spec, job)
        except JobMismatch as exc:
            return str(exc)
        needed = self.policy.seconds_for(spec)
        if job["executionDuration"] < needed:
            return f"its execution window is {job['executionDuration']} s, the work may take {needed} s here"
        return None

    def unverifiable_reason(self, job_id: int, spec: AnySpec) -> str | None:
        """Work is paid only once a drawn verifier approved it: a job nobody is paid or able to check in time
        is work for nothing."""
        audit = self.chain.audit.functions
        replay, window = self.policy.interval_seconds(spec), audit.commitWindow().call()
        if replay > window:
            return (f"a verifier may need {replay} s to replay one of its intervals, longer than the audit's commit "
                    f"window ({window} s): its work could not be approved in time")
        if audit.pot(job_id).call() == 0:
            return "its verifiers' reward is not funded, so nobody may check it and it would not be paid"
        others = audit.totalStakeAt(self.chain.now()).call() - audit.stakeOf(self.chain.address).call()
        if others <= 0:
            return "no verifier other than us is registered, so nobody could approve it"
        return None

    def republish_lost(self, job_id: int) -> None:
        """The coordinator's database is a cache of the chain plus reports: rebuilt from the chain after a
        loss, it lacks the spec and the checkpoint reports. For a job of ours under way or under review,
        re-post the spec and re-report (and re-upload) every committed checkpoint it no longer has, from our
        own copies: verifiers need them, and an honest solver must not be challenged for a coordinator's
        loss."""
        job = self.chain.job(job_id)
        if job["solver"].lower() != self.chain.address.lower() or job["state"] not in (
                JobState.RUNNING, JobState.SUBMITTED, JobState.DISPUTED):
            return
        spec = self.won_specs.get(job_id)
        if spec is not None:
            try:
                self.client.spec(job["specHash"])
            except CoordinatorError:
                self.client.submit_spec(spec)
                log.warning("job %s: the coordinator had lost the spec; re-posted it", job_id)
        try:
            indexed = self.client.job(job_id)
        except CoordinatorError:  # not indexed (again) yet
            return
        if (indexed.get("solver") or "").lower() != self.chain.address.lower():
            return
        have = {c["index"] for c in indexed["checkpoints"]}
        lost = [i for i in range(job["checkpointsDone"] + 1) if i not in have]
        from worker.engine.checkpoint import load_checkpoint

        republished = []
        for index in lost:
            blob = kept_checkpoint(self.home, self.chain.address, job_id, index) if self.home is not None else None
            if blob is None:  # not written yet (the task is about to report it itself), or not ours to serve
                continue
            ckpt = load_checkpoint(blob)
            artifact = self.client.publish_checkpoint(job_id, blob)
            self.client.report_checkpoint(job_id, index, ckpt.step, "0x" + ckpt.state_hash.hex(), artifact, None)
            republished.append(index)
        if republished:
            log.warning("job %s: the coordinator had lost checkpoints %s; re-reported them", job_id, republished)

    def advance(self, job_id: int) -> None:
        """Move a watched job along the deadlines that anyone may act on."""
        job = self.chain.job(job_id)
        ours = job["solver"].lower() == self.chain.address.lower()
        if job["state"] not in OPEN_STATES or (job["state"] != JobState.BIDDING and not ours):
            self.watching.discard(job_id)
            return
        action = due_exit(job, self.chain.now())
        if action in ("closeBidding", "finalize"):  # never report ourselves
            try:
                self.chain.transact("Market", action, job_id)
                log.info("job %s: %s", job_id, action)
            except ChainError as exc:  # another party acted first, or the block clock lags ours: harmless
                log.debug("job %s: %s", job_id, exc)


class VerifierDaemon:
    """Sends each result under review to this host's verify task, once (and again on restart: the task is
    idempotent). Every drawn verifier must check a result itself, so verifiers watch the chain, not a queue
    they share."""

    def __init__(self, chain: Chain, dispatcher: Dispatcher):
        self.chain = chain
        self.dispatcher = dispatcher
        self.seen = 0
        self.waiting: set[int] = set()  # jobs not yet submitted
        self.sent: dict[int, str | None] = {}  # jobs sent to our worker and still under review: the broker's run id

    def tick(self) -> None:
        self.waiting.update(range(self.seen + 1, self.chain.market.functions.jobCount().call() + 1))
        self.seen = max(self.waiting | {self.seen})
        for job_id in sorted(self.waiting):
            job = self.chain.job(job_id)
            # Disputes run side by side with the audit: a disputed result is still one to check.
            if job["state"] in (JobState.SUBMITTED, JobState.DISPUTED) and job["solver"].lower() != self.chain.address.lower():
                self.verify(job_id)
            if job["state"] not in (JobState.BIDDING, JobState.RUNNING):
                self.waiting.discard(job_id)
        self.resend_lost()

    def broker_run(self) -> str | None:
        """The broker's run id; None when it cannot be asked (down, or a stand-in dispatcher)."""
        broker_run = getattr(self.dispatcher, "broker_run", None)
        try:
            return broker_run() if broker_run is not None else None
        except Exception as exc:  # down: asked again next tick
            log.warning("the broker does not answer: %s", exc)
            return None

    def resend_lost(self) -> None:
        """A broker that restarted without persistence lost the queued task: send it again while the job is
        still under review (the task is idempotent, and one run at a time per job on this host)."""
        if not self.sent:
            return
        run = self.broker_run()
        if run is None:
            return
        for job_id, sent_under in sorted(self.sent.items()):
            if self.chain.job(job_id)["state"] not in (JobState.SUBMITTED, JobState.DISPUTED):
                del self.sent[job_id]
            elif run != sent_under:
                log.warning("job %s: the broker restarted (run %s, sent under %s); sending the check again",
                            job_id, run, sent_under)
                self.verify(job_id)

    def verify(self, job_id: int) -> None:
        self.dispatcher.verify(job_id, self.chain.address)
        self.sent[job_id] = self.broker_run()
        log.info("job %s: result submitted; verifying", job_id)
