"""The solver's side of an awarded job: train, publish every checkpoint, commit its roots on chain.

Idempotent, as a Celery task must be: it re-reads the job from the chain, and when an earlier attempt
already committed progress it resumes from the last committed checkpoint instead of starting over
(after checking that checkpoint's bytes against the committed root).
"""

from __future__ import annotations

import logging

from pinpoint.chain import Chain, JobState
from pinpoint.client import CoordinatorClient, CoordinatorError
from pinpoint.merkle import checkpoint_root, checkpoint_tree
from pinpoint.spec import InferenceSpec, JobSpec
from worker.disputes import TrainerFactory
from worker.engine.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from worker.engine.training import Trainer
from worker.inference import run_inference

log = logging.getLogger(__name__)


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

    def __init__(self, job_id: int, chain: Chain, client: CoordinatorClient, trainer: TrainerFactory = Trainer):
        self.job_id = job_id
        self.chain = chain
        self.client = client
        self.trainer = trainer  # what this solver really runs (a cheat, in tests and demos)

    def execute(self) -> str:
        job = self.chain.job(self.job_id)
        if job["solver"].lower() != self.chain.address.lower():
            return f"job {self.job_id} is not ours (solver {job['solver']})"
        if job["state"] != JobState.RUNNING:
            return f"job {self.job_id} is {job['state'].name.lower()}; nothing to run"
        spec = self.client.spec(job["specHash"])
        check_spec_matches(spec, job)
        if isinstance(spec, InferenceSpec):  # the factory gives an InferenceEngine (a cheating one in tests)
            return run_inference(self, job, spec, self.trainer(spec))
        trainer = self.trainer(spec)
        self.state_hashes: list[bytes] = []
        self.leaf_cache: list[bytes] = []  # leaves hashed so far: each progress root hashes only the new one
        start = self._resume_point(job, trainer)
        if start is None:
            self._publish(trainer.initial_checkpoint(), loss=None, spec=spec)
        else:
            trainer.restore(start)
        trainer.train_until(spec.steps, on_checkpoint=lambda ckpt, loss: self._publish(ckpt, loss, spec))
        final_root = checkpoint_root(self.job_id, self.state_hashes, spec.checkpoint_interval, self.leaf_cache)
        self.chain.transact("Market", "submitResult", self.job_id, final_root)
        log.info("job %s: submitted final root %s", self.job_id, final_root)
        return final_root

    def _publish(self, ckpt: Checkpoint, loss: float | None, spec: JobSpec) -> None:
        """Upload the checkpoint, report it, and commit the root over all checkpoints so far."""
        artifact = self.client.upload_artifact(save_checkpoint(ckpt))
        state_hash = "0x" + ckpt.state_hash.hex()
        self.client.report_checkpoint(self.job_id, ckpt.index, ckpt.step, state_hash, artifact, loss)
        self.state_hashes.append(ckpt.state_hash)
        if ckpt.index > 0:
            root = checkpoint_root(self.job_id, self.state_hashes, spec.checkpoint_interval, self.leaf_cache)
            self.chain.transact("Market", "postProgress", self.job_id, ckpt.index, root)
        log.info("job %s: checkpoint %s/%s at step %s, loss %s", self.job_id, ckpt.index, spec.checkpoint_count, ckpt.step, loss)

    def _resume_point(self, job: dict, trainer: Trainer) -> Checkpoint | None:
        """The last committed checkpoint of an earlier attempt, checked against its progress root."""
        done = job["checkpointsDone"]
        if done == 0:
            return None
        try:
            reported = {c["index"]: c for c in self.client.job(self.job_id)["checkpoints"]}
            hashes = [bytes.fromhex(reported[i]["state_hash"][2:]) for i in range(done + 1)]
        except (CoordinatorError, KeyError):
            raise RuntimeError(f"job {self.job_id}: {done} checkpoints committed but their reports are missing") from None
        if checkpoint_tree(self.job_id, hashes, job["checkpointInterval"]).root != job["progressRoot"]:
            raise RuntimeError(f"job {self.job_id}: reported checkpoints do not match the committed progress root")
        blob = self.client.download_artifact(reported[done]["artifact"])
        self.state_hashes = hashes
        log.info("job %s: resuming from committed checkpoint %s", self.job_id, done)
        return load_checkpoint(blob, expected_state_hash=hashes[done])
