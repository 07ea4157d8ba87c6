"""The verifier's side of a submitted job: replay one sampled interval and compare state hashes.

Nothing the coordinator serves is trusted: the reported state hashes must rebuild the solver's on-chain
final root, the start checkpoint's bytes must hash to its leaf, and the replayed end state must equal
the next leaf. The interval is drawn from a block hash that did not exist when the root was committed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from eth_utils import keccak

from pinpoint.chain import Chain, JobState
from pinpoint.client import CoordinatorClient
from pinpoint.merkle import checkpoint_tree
from worker.engine.checkpoint import (
    CheckpointFormatError,
    CheckpointHashMismatch,
    load_checkpoint,
)
from worker.engine.replay import replay_interval
from worker.solver import check_spec_matches

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    interval: int
    agrees: bool
    detail: str


def sample_interval(job_id: int, block_hash: bytes, checkpoint_count: int) -> int:
    """The interval to replay: unpredictable to the solver, reproducible by anyone."""
    seed = keccak(block_hash + job_id.to_bytes(32, "big"))
    return int.from_bytes(seed, "big") % checkpoint_count


class VerifierRun:
    def __init__(self, job_id: int, chain: Chain, client: CoordinatorClient):
        self.job_id = job_id
        self.chain = chain
        self.client = client

    def verify(self) -> Verdict | None:
        job = self.chain.job(self.job_id)
        if job["state"] != JobState.SUBMITTED:
            log.info("job %s is %s; nothing to verify", self.job_id, job["state"].name.lower())
            return None
        spec = self.client.spec(job["specHash"])
        check_spec_matches(spec, job)
        interval = sample_interval(self.job_id, bytes(self.chain.w3.eth.get_block("latest")["hash"]), spec.checkpoint_count)
        verdict = self._check(job, spec, interval)
        self.client.report_verdict(self.job_id, verdict.interval, verdict.agrees, verdict.detail)
        log.info("job %s interval %s: %s (%s)", self.job_id, interval, "agrees" if verdict.agrees else "DISAGREES", verdict.detail)
        return verdict

    def _check(self, job: dict, spec, interval: int) -> Verdict:
        reported = {c["index"]: c for c in self.client.job(self.job_id)["checkpoints"]}
        if set(reported) != set(range(spec.checkpoint_count + 1)):
            return Verdict(interval, False, "the solver did not publish every checkpoint")
        hashes = [bytes.fromhex(reported[i]["state_hash"][2:]) for i in range(spec.checkpoint_count + 1)]
        tree = checkpoint_tree(self.job_id, hashes, spec.checkpoint_interval)
        if tree.root != job["finalRoot"]:
            return Verdict(interval, False, "published checkpoints do not rebuild the committed final root")
        end = interval + 1
        if not self.chain.market.functions.verifyCheckpoint(
            self.job_id, end, end * spec.checkpoint_interval, hashes[end], tree.get_proof(end)
        ).call():
            return Verdict(interval, False, f"the contract rejects the proof of checkpoint {end}")
        try:
            blob = self.client.download_artifact(reported[interval]["artifact"])
            start = load_checkpoint(blob, expected_state_hash=hashes[interval])
        except (CheckpointHashMismatch, CheckpointFormatError) as exc:
            return Verdict(interval, False, f"checkpoint {interval} bytes do not match its committed leaf: {exc}")
        replayed = replay_interval(spec, start)
        if replayed.state_hash != hashes[end]:
            return Verdict(
                interval, False, f"replayed checkpoint {end} hashes to 0x{replayed.state_hash.hex()}, committed 0x{hashes[end].hex()}"
            )
        return Verdict(interval, True, f"replayed steps {start.step}..{replayed.step}: state hash matches")
