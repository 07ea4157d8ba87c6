"""The solver's side of an awarded job: train, publish every checkpoint, commit its roots on chain.

Idempotent, as a Celery task must be: it re-reads the job from the chain, and when an earlier attempt
already committed progress it resumes from the last committed checkpoint instead of starting over
(after checking that checkpoint's bytes against the committed root). Every checkpoint is also kept on the
solver's own disk (`kept_checkpoint`), so it can answer a demand for it even if the store lost it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from pinpoint.chain import Chain, ChainError, JobState
from pinpoint.client import CoordinatorClient, CoordinatorError, ReportConflict, sha256_hex
from pinpoint.merkle import checkpoint_root, checkpoint_tree
from pinpoint.spec import InferenceSpec, JobSpec
from worker.cheats import Conduct
from worker.engine.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from worker.engine.training import Trainer
from worker.inference import run_inference
from worker.metrics import metrics
from worker.round_exchange import RoundExchange

log = logging.getLogger(__name__)
TrainerFactory = Callable[[JobSpec], Trainer]


def kept_path(home: Path, solver: str, job_id: int, index: int) -> Path:
    """Where a solver keeps its own copy of checkpoint `index` of a job."""
    return Path(home) / "checkpoints" / solver.lower() / f"job-{job_id}" / f"{index}.safetensors"


def kept_checkpoint(home: Path, solver: str, job_id: int, index: int) -> bytes | None:
    path = kept_path(home, solver, job_id, index)
    return path.read_bytes() if path.exists() else None


class JobMismatch(RuntimeError):
    """The spec served for a job does not describe what the chain says the job is."""


def check_spec_matches(spec: JobSpec, job: dict) -> None:
    if spec.checkpoint_count != job["checkpointCount"] or spec.checkpoint_interval != job["checkpointInterval"]:
        raise JobMismatch(
            f"spec has {spec.checkpoint_count} checkpoints every {spec.checkpoint_interval} steps, "
            f"the chain says {job['checkpointCount']} every {job['checkpointInterval']}"
        )


class SolverRun:
    """Executes one awarded job for the solver whose key `chain` holds."""

    def __init__(self, job_id: int, chain: Chain, client: CoordinatorClient, trainer: TrainerFactory = Trainer,
                 home: Path = Path(".pinpoint"), conduct: Conduct = Conduct(), exchange: RoundExchange | None = None):
        self.job_id = job_id
        self.chain = chain
        self.client = client
        self.trainer = trainer  # what this solver really runs (a cheat, in tests and demos)
        self.home = home
        self.conduct = conduct  # what it publishes (withholding, in tests and demos)
        self.exchange = exchange  # a swarm share's update goes to the round's other replicas once submitted

    def execute(self) -> str:
        job = self.chain.job(self.job_id)
        if job["solver"].lower() != self.chain.address.lower():
            return f"job {self.job_id} is not ours (solver {job['solver']})"
        if job["state"] != JobState.RUNNING:
            return f"job {self.job_id} is {job['state'].name.lower()}; nothing to run"
        spec = self.client.spec(job["specHash"])
        check_spec_matches(spec, job)
        if isinstance(spec, InferenceSpec):  # the factory gives an InferenceEngine (a cheating one in tests)
            final_root = run_inference(self, job, spec, self.trainer(spec))
            metrics().jobs_executed.labels(kind="inference").inc()
            return final_root
        if self.conduct.fake_roots:
            return self._fake_roots(spec)
        trainer = self.trainer(spec)
        self.state_hashes: list[bytes] = []
        self.leaf_cache: list[bytes] = []  # leaves hashed so far: each progress root hashes only the new one
        start = self._resume_point(job, trainer)
        if start is None:
            self._publish(trainer.initial_checkpoint(), loss=None, spec=spec)
        else:
            trainer.restore(start)
        trainer.train_until(spec.steps, on_checkpoint=lambda ckpt, loss: self._publish(ckpt, loss, spec),
                            on_step=metrics().step_seconds.observe)
        final_root = checkpoint_root(self.job_id, self.state_hashes, spec.checkpoint_interval, self.leaf_cache)
        self.chain.transact("Market", "submitResult", self.job_id, final_root)
        metrics().checkpoints_committed.inc()  # the last checkpoint's root is the final root
        metrics().jobs_executed.labels(kind="training").inc()
        log.info("job %s: submitted final root %s", self.job_id, final_root,
                 extra={"event": "result_submitted", "job_id": self.job_id, "final_root": final_root})
        if self.exchange is not None:
            self.exchange.start(self.job_id, spec)
        if self.conduct.publish == "unsampled":
            self._publish_unsampled(spec)
        return final_root

    def _publish(self, ckpt: Checkpoint, loss: float | None, spec: JobSpec) -> None:
        """Keep, publish (upload, or serve from this host) and report the checkpoint; commit the root so far."""
        blob = save_checkpoint(ckpt)
        path = kept_path(self.home, self.chain.address, self.job_id, ckpt.index)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_bytes(blob)
        os.replace(partial, path)  # whole or absent: the daemon republishes kept files while the task runs
        if self.conduct.publish in ("all", "junk"):
            started = time.perf_counter()
            artifact = self.client.publish_checkpoint(self.job_id, path if self.conduct.publish == "all" else os.urandom(256))
            metrics().upload_seconds.observe(time.perf_counter() - started)
            try:
                self.client.report_checkpoint(self.job_id, ckpt.index, ckpt.step, "0x" + ckpt.state_hash.hex(), artifact, loss)
            except ReportConflict as exc:
                # The chain is the authority: commit our root anyway and answer demands from our own copy.
                log.error("ALARM %s; committing our own root and keeping our copy to answer any demand", exc)
        self.state_hashes.append(ckpt.state_hash)
        if 0 < ckpt.index < spec.checkpoint_count:  # the last checkpoint's root is the final root: submitResult
            root = checkpoint_root(self.job_id, self.state_hashes, spec.checkpoint_interval, self.leaf_cache)
            self.chain.transact("Market", "postProgress", self.job_id, ckpt.index, root)
            metrics().checkpoints_committed.inc()
        log.info("job %s: checkpoint %s/%s at step %s, loss %s", self.job_id, ckpt.index, spec.checkpoint_count, ckpt.step, loss,
                 extra={"event": "checkpoint", "job_id": self.job_id, "index": ckpt.index, "step": ckpt.step, "loss": loss})

    def _fake_roots(self, spec: JobSpec) -> str:
        """A cheat (tests only): commit random roots, as if trained, without computing anything."""
        for index in range(1, spec.checkpoint_count + 1):
            self.chain.transact("Market", "postProgress", self.job_id, index, os.urandom(32))
        root = "0x" + os.urandom(32).hex()
        self.chain.transact("Market", "submitResult", self.job_id, root)
        return root

    def _publish_unsampled(self, spec: JobSpec, timeout: float = 300) -> None:
        """A cheat (tests only): once the sample is sealed, publish every checkpoint with its true hash, but
        junk bytes for the starts and ends of the sampled intervals."""
        deadline = time.monotonic() + timeout
        while not self.chain.job(self.job_id)["sampleSealedAt"]:
            if time.monotonic() > deadline:
                raise ChainError(f"job {self.job_id}: the sample was not sealed in {timeout:.0f} s")
            time.sleep(0.5)
        sample = self.chain.market.functions.sampledIntervals(self.job_id).call()
        hidden = {i for interval in sample for i in (interval, interval + 1)}
        for index, state_hash in enumerate(self.state_hashes):
            blob = kept_checkpoint(self.home, self.chain.address, self.job_id, index)
            artifact = self.client.publish_checkpoint(self.job_id, os.urandom(256) if index in hidden else blob)
            self.client.report_checkpoint(self.job_id, index, index * spec.checkpoint_interval,
                                          "0x" + state_hash.hex(), artifact, None)
        log.info("job %s: published all but the sampled intervals %s", self.job_id, sorted(sample))

    def _resume_point(self, job: dict, trainer: Trainer) -> Checkpoint | None:
        """The last committed checkpoint of an earlier attempt, checked against its progress root."""
        done = job["checkpointsDone"]
        if done == 0:
            return None
        try:
            reported = {c["index"]: c for c in self.client.job(self.job_id)["checkpoints"]}
            hashes = [bytes.fromhex(reported[i]["state_hash"][2:]) for i in range(done + 1)]
        except (CoordinatorError, KeyError):
            # The coordinator lost them (its database was rebuilt from the chain): transient, the task is retried
            # while the solver's host re-reports them from its own copies (worker/daemon.py).
            raise CoordinatorError(f"job {self.job_id}: {done} checkpoints committed but their reports are missing") from None
        if checkpoint_tree(self.job_id, hashes, job["checkpointInterval"]).root != job["progressRoot"]:
            raise RuntimeError(f"job {self.job_id}: reported checkpoints do not match the committed progress root")
        artifact = reported[done]["artifact"]
        kept = kept_checkpoint(self.home, self.chain.address, self.job_id, done)
        # Our own copy, when it is those bytes: nothing to fetch (docs/ARTIFACTS.md).
        blob = kept if kept is not None and sha256_hex(kept) == artifact else self.client.download_artifact(artifact)
        self.state_hashes = hashes
        log.info("job %s: resuming from committed checkpoint %s", self.job_id, done,
                 extra={"event": "resumed", "job_id": self.job_id, "index": done})
        return load_checkpoint(blob, expected_state_hash=hashes[done])
