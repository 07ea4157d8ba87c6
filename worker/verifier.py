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
from pinpoint.economics import default_samples
from pinpoint.merkle import checkpoint_tree
from worker.disputes import open_challenge
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


def sample_intervals(job_id: int, block_hash: bytes, checkpoint_count: int, samples: int) -> list[int]:
    """The intervals to replay: unpredictable to the solver, reproducible by anyone, without repeats."""
    if samples >= checkpoint_count:
        return list(range(checkpoint_count))
    seed = keccak(block_hash + job_id.to_bytes(32, "big"))
    chosen: list[int] = []
    counter = 0
    while len(chosen) < samples:
        draw = int.from_bytes(keccak(seed + counter.to_bytes(32, "big")), "big") % checkpoint_count
        counter += 1
        if draw not in chosen:
            chosen.append(draw)
    return chosen


class VerifierRun:
    def __init__(self, job_id: int, chain: Chain, client: CoordinatorClient, samples: int | None = None,
                 lie: bool = False):
        self.job_id = job_id
        self.chain = chain
        self.client = client
        self.samples = samples  # None: as many as the economics ask for this job
        self.lie = lie  # challenges honest work: for tests and demos of false challenges

    def verify(self) -> Verdict | None:
        job = self.chain.job(self.job_id)
        if job["state"] != JobState.SUBMITTED:
            log.info("job %s is %s; nothing to verify", self.job_id, job["state"].name.lower())
            return None
        spec = self.client.spec(job["specHash"])
        check_spec_matches(spec, job)
        block_hash = bytes(self.chain.w3.eth.get_block("latest")["hash"])
        samples = self.samples or default_samples(spec.checkpoint_count)
        for interval in sample_intervals(self.job_id, block_hash, spec.checkpoint_count, samples):
            verdict, hashes, replayed = self._check(job, spec, interval)
            if self.lie and replayed is not None:
                verdict, replayed = Verdict(interval, False, "(lying verifier) disagrees with everything"), keccak(replayed)
            if not verdict.agrees:
                break
        self.client.report_verdict(self.job_id, verdict.interval, verdict.agrees, verdict.detail)
        log.info("job %s interval %s: %s (%s)", self.job_id, verdict.interval, "agrees" if verdict.agrees else "DISAGREES", verdict.detail)
        if not verdict.agrees and replayed is not None and self.chain.game is not None:
            open_challenge(self.chain, self.job_id, verdict.interval, hashes, spec.checkpoint_interval, replayed)
        return verdict

    def _check(self, job: dict, spec, interval: int) -> tuple[Verdict, list[bytes], bytes | None]:
        """The verdict on one interval, the committed hashes, and our replayed end state (None if not replayed)."""
        reported = {c["index"]: c for c in self.client.job(self.job_id)["checkpoints"]}
        if set(reported) != set(range(spec.checkpoint_count + 1)):
            return Verdict(interval, False, "the solver did not publish every checkpoint"), [], None
        hashes = [bytes.fromhex(reported[i]["state_hash"][2:]) for i in range(spec.checkpoint_count + 1)]
        tree = checkpoint_tree(self.job_id, hashes, spec.checkpoint_interval)
        if tree.root != job["finalRoot"]:
            return Verdict(interval, False, "published checkpoints do not rebuild the committed final root"), hashes, None
        end = interval + 1
        if not self.chain.market.functions.verifyCheckpoint(
            self.job_id, end, end * spec.checkpoint_interval, hashes[end], tree.get_proof(end)
        ).call():
            return Verdict(interval, False, f"the contract rejects the proof of checkpoint {end}"), hashes, None
        try:
            blob = self.client.download_artifact(reported[interval]["artifact"])
            start = load_checkpoint(blob, expected_state_hash=hashes[interval])
        except (CheckpointHashMismatch, CheckpointFormatError) as exc:
            return Verdict(interval, False, f"checkpoint {interval} bytes do not match its committed leaf: {exc}"), hashes, None
        replayed = replay_interval(spec, start)
        if replayed.state_hash != hashes[end]:
            detail = f"replayed checkpoint {end} hashes to 0x{replayed.state_hash.hex()}, committed 0x{hashes[end].hex()}"
            return Verdict(interval, False, detail), hashes, replayed.state_hash
        return Verdict(interval, True, f"replayed steps {start.step}..{replayed.step}: state hash matches"), hashes, replayed.state_hash
