"""The verifier's side of a submitted job: an accountable spot check of the sealed sample.

1. Seal the sample (Market.sealSample: anyone may; the seed is the hash of a block mined after the
   solver's final root) and read the sampled intervals from the contract. Whether this key was drawn for
   the job's audit committee (Audit.isDrawn, stake-weighted) decides whether it commits; any verifier
   still checks the data and may challenge.
2. Replay them. The coordinator shows every checkpoint's leaf hash, but withholds the state hash and
   bytes of the checkpoints that end sampled intervals (backend/disclosure.py), so the only way to know
   them is to recompute them. Consecutive sampled intervals are replayed as one run from the first start.
3. Commit to the recomputed hashes in the Audit contract (with a bond), then, once the commit window has
   ended and the solver's hashes are disclosed: reveal, and challenge the lowest interval that disagrees.
4. Whatever the sample, recompute the initial state from the spec: no step leads to it, so no replay shows it
   wrong (worker/genesis.py). If checkpoint 0 is not it, dispute it (DisputeGame.challengeGenesis) first.

Withholding is answered on chain, never by crashing: when a leaf, a state hash or checkpoint bytes that the
check needs are missing or do not hash right, the verifier demands that checkpoint
(DisputeGame.challengeAvailability) once challenges open. Unanswered, the solver is slashed; answered, the
data is out and the job is verified again (the dispute player re-dispatches it).

Nothing the coordinator serves is trusted: the leaves must rebuild the on-chain final root, checkpoints
must hash to their leaves, and agreement is decided on the leaf hashes of the committed tree. The salt and
hashes of a commitment are kept on disk before it is sent, so a retried task still reveals. Every wait has
a deadline and says what it waits for.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from eth_utils import keccak

from pinpoint.chain import Chain, ChainError, JobState
from pinpoint.client import CoordinatorClient, CoordinatorError
from pinpoint.merkle import CHECKPOINT_LEAF_TYPES, StandardMerkleTree, checkpoint_leaf_hash
from pinpoint.sampling import audit_commitment
from pinpoint.spec import AnySpec, InferenceSpec, JobSpec
from worker.availability import holds
from worker.disputes import challenge_genesis, demand_checkpoint, open_challenge, program_is_specs, proof_bytes
from worker.engine.checkpoint import load_checkpoint
from worker.engine.inference import InferenceInputError
from worker.engine.artifacts import ArtifactHashMismatch, ArtifactUnavailable
from worker.engine.training import InitialWeightsInvalid, Trainer
from worker.genesis import genesis_state_hash
from worker.inference import expected_leaf_state_hash
from worker.metrics import metrics
from worker.solver import check_spec_matches

log = logging.getLogger(__name__)
ZERO = b"\x00" * 32


@dataclass(frozen=True)
class Verdict:
    interval: int
    agrees: bool
    detail: str


class Unavailable(RuntimeError):
    """Checkpoint `index`, which the check needs, is not published as committed (leaf, hash or bytes)."""

    def __init__(self, index: int, why: str):
        super().__init__(f"checkpoint {index}: {why}")
        self.index = index


class VerifierRun:
    def __init__(self, job_id: int, chain: Chain, client: CoordinatorClient, lie: bool = False,
                 lazy: bool = False, notes: Path | None = None, poll_seconds: float = 0.5):
        self.job_id = job_id
        self.chain = chain
        self.client = client
        self.lie = lie  # challenges honest work: for tests and demos of false challenges
        self.lazy = lazy  # commits without replaying: for tests and demos of a lazy verifier being caught
        self.notes = notes or Path(".pinpoint") / "audits"
        self.poll_seconds = poll_seconds

    def verify(self) -> Verdict | None:
        job = self.chain.job(self.job_id)
        if job["state"] not in (JobState.SUBMITTED, JobState.DISPUTED):  # others' disputes run side by side
            log.info("job %s is %s; nothing to verify", self.job_id, job["state"].name.lower())
            return None
        spec = self.client.spec(job["specHash"])
        check_spec_matches(spec, job)
        sample = self.sealed_sample()
        try:
            leaves, ours = self.check_in_time(spec, job, sample)
            salt = self.commit([ours[interval] for interval in sample]) if self.drawn() else None
            self.wait_for_challenges()
        except Unavailable as missing:
            # Too late for the audit now; what was published by the time challenges open still counts.
            log.warning("job %s: %s; checking again once challenges open", self.job_id, missing)
            salt = None
            self.wait_for_challenges()
            try:
                leaves, ours = self.check(spec, job, sample)
            except Unavailable as still_missing:
                return self.demand(still_missing, sample[0])
        hashes = [ours[interval] for interval in sample]
        mismatches = sorted(i for i in sample if self.leaf(spec, i + 1, ours[i]) != leaves.leaf_hash(i + 1))
        if salt is not None:  # reveal first: the reveal window is shorter than the challenge window
            self.reveal(salt, hashes, [[] if i in mismatches else proof_bytes(leaves.get_proof(i + 1)) for i in sample])
        # Whatever the sample, the start is checked: no step leads to it, so no replay would show it wrong.
        start = None if self.lazy else self.genesis(spec)
        wrong_start = start is not None and self.leaf(spec, 0, start) != leaves.leaf_hash(0)
        verdict = self.verdict(spec, sample, mismatches, wrong_start)
        try:
            if wrong_start:
                self.challenge_genesis(leaves, start)
            elif mismatches and not self.lazy:
                self.challenge(spec, mismatches[0], ours[mismatches[0]])
            elif not self.lazy:
                self.check_disclosed(spec, sample)
        except Unavailable as missing:
            return self.demand(missing, sample[0])
        self.client.report_verdict(self.job_id, verdict.interval, verdict.agrees, verdict.detail)
        metrics().verdicts.labels(verdict="agree" if verdict.agrees else "disagree").inc()
        log.info("job %s intervals %s: %s (%s)", self.job_id, sample, "agree" if verdict.agrees else "DISAGREE", verdict.detail,
                 extra={"event": "verdict", "job_id": self.job_id, "intervals": sample, "agrees": verdict.agrees})
        return verdict

    def check_in_time(self, spec: AnySpec, job: dict, sample: list[int]) -> tuple[StandardMerkleTree, dict[int, bytes]]:
        """`check`, asked again while the audit's commit window is open: the coordinator discloses the sample's
        starts once it has indexed the seal, a few blocks after it, and a verifier that gave up at once would
        leave honest work unaudited. Unavailable once the window has passed."""
        deadline = self.chain.audit.functions.commitDeadline(self.job_id).call() if self.chain.audit else 0
        pause = self.poll_seconds
        while True:
            try:
                return self.check(spec, job, sample)
            except Unavailable as missing:
                if self.chain.now() >= deadline:
                    raise
                log.info("job %s: %s; asking again until the commit window ends at %s", self.job_id, missing, deadline)
                time.sleep(pause)
                pause = min(2 * pause, 5.0)  # a withholding solver is asked less and less often

    def check(self, spec: AnySpec, job: dict, sample: list[int]) -> tuple[StandardMerkleTree, dict[int, bytes]]:
        """The published leaves (checked against the final root) and our end-state hash of each sampled
        interval (for a lying verifier: wrong ones)."""
        leaves = self.published_leaves(spec, job, sample)
        ours = self.recompute(spec, sample, leaves) if not self.lazy else self.guess(sample)
        if self.lie:
            ours = {interval: keccak(h) for interval, h in ours.items()}
        return leaves, ours

    # --- the sample ----------------------------------------------------------------------------------

    def sealed_sample(self, timeout: float = 120) -> list[int]:
        """The sampled intervals, sealing the seed first if nobody has (waits for the seed block)."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.chain.job(self.job_id)
            if job["sampleSealedAt"]:
                return self.chain.market.functions.sampledIntervals(self.job_id).call()
            if self.chain.w3.eth.block_number > job["sampleBlock"]:
                try:
                    self.chain.transact("Market", "sealSample", self.job_id)
                    continue
                except ChainError as exc:  # another verifier sealed it first
                    log.debug("job %s: %s", self.job_id, exc)
            if time.monotonic() > deadline:
                raise ChainError(f"job {self.job_id}: the sample could not be sealed in {timeout:.0f} s")
            log.info("job %s: waiting for block %s to seal the sample", self.job_id, job["sampleBlock"] + 1)
            time.sleep(self.poll_seconds)

    def drawn(self) -> bool:
        if self.chain.audit is None:
            return False
        drawn = self.chain.audit.functions.isDrawn(self.job_id, self.chain.address).call()
        log.info("job %s: %s for the audit committee", self.job_id, "drawn" if drawn else "not drawn")
        return drawn

    def reported(self) -> dict[int, dict]:
        return {c["index"]: c for c in self.client.job(self.job_id)["checkpoints"]}

    def published_leaves(self, spec: AnySpec, job: dict, sample: list[int]) -> StandardMerkleTree:
        """The tree of the leaf hashes the coordinator shows, checked against the on-chain final root."""
        reported = self.reported()
        missing = sorted(set(range(spec.checkpoint_count + 1)) - set(reported))
        if missing:
            raise Unavailable(missing[0], "the solver did not publish its leaf")
        tree = StandardMerkleTree.from_leaf_hashes([reported[i]["leaf"] for i in range(spec.checkpoint_count + 1)],
                                                  CHECKPOINT_LEAF_TYPES)
        if tree.root != job["finalRoot"]:
            # Some published leaf is not the committed one; the replay needs the sample's first start.
            raise Unavailable(min(sample), "the published leaves do not rebuild the committed final root")
        return tree

    def leaf(self, spec: AnySpec, index: int, state_hash: bytes) -> str:
        return checkpoint_leaf_hash(self.job_id, index, index * spec.checkpoint_interval, state_hash)

    # --- recomputing ---------------------------------------------------------------------------------

    def recompute(self, spec: AnySpec, sample: list[int], leaves: StandardMerkleTree) -> dict[int, bytes]:
        """Our end-state hash of every sampled interval. Consecutive intervals form one run, replayed
        from the run's first start checkpoint (the others are ends of sampled intervals: withheld)."""
        if isinstance(spec, InferenceSpec):  # inputs are independent: each sampled leaf from the spec alone
            try:
                return {i: expected_leaf_state_hash(spec, i + 1, self.client.download_artifact) for i in sample}
            except (CoordinatorError, InferenceInputError) as exc:
                # The submitter's own artifacts are unusable: nothing the solver could have served. No demand.
                raise ChainError(f"job {self.job_id}: cannot recompute the sampled inputs: {exc}") from None
        ours: dict[int, bytes] = {}
        starts = {run[0]: self.start_checkpoint(spec, run[0], leaves) for run in runs(sample)}  # all, before any replay
        for run in runs(sample):
            trainer = Trainer(spec)
            trainer.restore(starts[run[0]])
            for interval in run:
                trainer.train_until((interval + 1) * spec.checkpoint_interval)
                ours[interval] = trainer.snapshot().state_hash
        return ours

    def start_checkpoint(self, spec: JobSpec, index: int, leaves: StandardMerkleTree):
        """Checkpoint `index` from the artifact store: its bytes must hash to the state hash in its leaf."""
        reported = self.reported()[index]
        if reported["state_hash"] is None:
            raise Unavailable(index, "withheld, but it starts a sampled run")
        state_hash = bytes.fromhex(reported["state_hash"][2:])
        if self.leaf(spec, index, state_hash) != leaves.leaf_hash(index):
            raise Unavailable(index, "its reported state hash is not the one under the final root")
        blob = self.fetch(spec, index, reported["artifact"], state_hash)
        if blob is None:
            raise Unavailable(index, "its bytes cannot be fetched or do not hold the committed state")
        return load_checkpoint(blob, expected_state_hash=state_hash)

    def fetch(self, spec: AnySpec, index: int, artifact: str, state_hash: bytes) -> bytes | None:
        """Checkpoint `index`'s bytes: those the coordinator lists, else those the solver named on chain
        when the checkpoint was demanded; None if neither holds the committed state."""
        for candidate in (artifact, *self.served_on_chain(index)):
            try:
                blob = self.client.download_artifact(candidate)
            except CoordinatorError:
                continue
            if holds(spec, index * spec.checkpoint_interval, blob, state_hash):
                return blob
        return None

    def served_on_chain(self, index: int) -> list[str]:
        """Artifacts the solver named for checkpoint `index` in answered availability demands."""
        game = self.chain.game.functions
        served = []
        for dispute_id in game.heldBonds(self.job_id).call():  # the answered demands of this job
            dispute = self.chain.dispute(dispute_id)
            if dispute["index"] == index:
                served.append(dispute["preStateArtifact"])
        return served

    def check_disclosed(self, spec: AnySpec, sample: list[int]) -> None:
        """Once disclosed, the sampled ends and the result itself (the last checkpoint) must be fetchable
        and hold their committed states: they are what the submitter paid for."""
        reported = self.reported()
        for index in sorted({i + 1 for i in sample} | {spec.checkpoint_count}):
            entry = reported[index]
            if entry["state_hash"] is None:
                raise Unavailable(index, "still withheld after the commit window")
            if self.fetch(spec, index, entry["artifact"], bytes.fromhex(entry["state_hash"][2:])) is None:
                raise Unavailable(index, "its bytes cannot be fetched or do not hold the committed state")

    def guess(self, sample: list[int]) -> dict[int, bytes]:
        """The lazy verifier: whatever the coordinator shows for the sampled ends (withheld: nothing)."""
        shown = {c["index"]: c["state_hash"] for c in self.client.job(self.job_id)["checkpoints"]}
        return {i: bytes.fromhex(shown[i + 1][2:]) if shown.get(i + 1) else ZERO for i in sample}

    def verdict(self, spec: AnySpec, sample: list[int], mismatches: list[int], wrong_start: bool = False) -> Verdict:
        if self.lazy:
            return Verdict(sample[0], True, "(lazy verifier) approved without replaying")
        if wrong_start:
            return Verdict(0, False, "the initial state (checkpoint 0) is not the one the spec gives")
        inference = isinstance(spec, InferenceSpec)
        if mismatches:
            what = f"recomputed output of input {mismatches[0]}" if inference else f"replayed checkpoint {mismatches[0] + 1}"
            return Verdict(mismatches[0], False, f"{what} differs from the committed leaf")
        if inference:
            return Verdict(sample[0], True, f"recomputed inputs {sorted(sample)}: every output matches")
        return Verdict(sample[0], True, f"replayed intervals {sorted(sample)}: every end state matches")

    # --- audit: commit, disclosure, challenge, reveal ------------------------------------------------

    def _note_path(self) -> Path:
        return self.notes / f"{self.chain.address.lower()}-job{self.job_id}.json"

    def commit(self, hashes: list[bytes]) -> bytes | None:
        """Commit to `hashes` with the audit bond; returns the salt (None: no audit possible)."""
        audit = self.chain.audit
        path = self._note_path()
        if audit.functions.getEntry(self.job_id, self.chain.address).call()[0] != ZERO:
            if path.exists():  # committed by an earlier attempt of this task: it still reveals
                return bytes.fromhex(json.loads(path.read_text())["salt"])
            log.warning("job %s: committed before but the salt is lost; the bond is forfeited", self.job_id)
            return None
        if self.chain.now() > audit.functions.commitDeadline(self.job_id).call():
            log.info("job %s: the audit's commit window has passed; no commitment", self.job_id)
            return None
        salt = os.urandom(32)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"salt": salt.hex(), "hashes": [h.hex() for h in hashes]}))
        commitment = audit_commitment(self.job_id, self.chain.address, salt, hashes)
        try:
            self.chain.transact("Audit", "commit", self.job_id, commitment, value=audit.functions.auditBond().call())
        except ChainError as exc:  # e.g. CommitClosed: the replay took longer than the window
            log.warning("job %s: no audit commitment: %s", self.job_id, exc)
            return None
        metrics().audits_committed.inc()
        log.info("job %s: committed to %s recomputed hashes", self.job_id, len(hashes),
                 extra={"event": "audit_committed", "job_id": self.job_id, "hashes": len(hashes)})
        return salt

    def wait_for_challenges(self, slack: float = 60) -> None:
        """Until a block is past the audit's commit window: then the solver's hashes are disclosed, reveals
        and challenges open. Gives up (ChainError) `slack` seconds after the deadline by the wall clock."""
        deadline = self.chain.audit.functions.commitDeadline(self.job_id).call()
        give_up = time.monotonic() + max(0, deadline - self.chain.now()) + slack
        while self.chain.w3.eth.get_block("latest")["timestamp"] <= deadline:
            if time.monotonic() > give_up:
                raise ChainError(f"job {self.job_id}: no block past the commit window (ends {deadline}) arrived")
            log.info("job %s: waiting for the commit window to end at %s (disclosure, reveals, challenges)",
                     self.job_id, deadline)
            time.sleep(self.poll_seconds)

    def challenge(self, spec: AnySpec, interval: int, our_hash: bytes) -> None:
        """Open a dispute over checkpoint interval+1 with the solver's now disclosed hashes; the start of the
        interval must be fetchable (the bisection replays from it), else it is demanded first."""
        reported = self.reported()
        if any(reported[i]["state_hash"] is None for i in range(spec.checkpoint_count + 1)):
            raise Unavailable(interval + 1, "still withheld after the commit window")
        hashes = [bytes.fromhex(reported[i]["state_hash"][2:]) for i in range(spec.checkpoint_count + 1)]
        if not isinstance(spec, InferenceSpec) and self.fetch(spec, interval, reported[interval]["artifact"],
                                                              hashes[interval]) is None:
            raise Unavailable(interval, "the disputed interval's start cannot be fetched")
        if not program_is_specs(self.chain, self.job_id, spec):
            # Its step would be played over a program its spec does not run: we could lose an honest dispute. Not
            # approving is enough: unapproved work is not paid.
            log.warning("job %s: its registered program is not its spec's: not challenging", self.job_id)
            return
        try:
            open_challenge(self.chain, self.job_id, interval, hashes, spec.checkpoint_interval, our_hash)
        except ChainError as exc:  # e.g. another challenger was first, or the window closed
            log.warning("job %s: challenge failed: %s", self.job_id, exc)

    def genesis(self, spec: AnySpec) -> bytes | None:
        """The initial state the spec gives; None when the spec's own artifacts cannot be had (not the solver's
        doing: it fetched them before it bid)."""
        try:
            return genesis_state_hash(spec, self.client.download_artifact)
        except (CoordinatorError, ArtifactUnavailable, ArtifactHashMismatch, InitialWeightsInvalid,
                InferenceInputError) as exc:
            log.warning("job %s: cannot recompute the initial state: %s", self.job_id, exc)
            return None

    def challenge_genesis(self, leaves: StandardMerkleTree, our_hash: bytes) -> None:
        """Dispute the solver's initial state with ours; its state hash must be published to be proven."""
        reported = self.reported()[0]["state_hash"]
        if reported is None:
            raise Unavailable(0, "withheld, and the initial state is wrong")
        solver_hash = bytes.fromhex(reported[2:])
        if checkpoint_leaf_hash(self.job_id, 0, 0, solver_hash) != leaves.leaf_hash(0):
            raise Unavailable(0, "its reported state hash is not the one under the final root")
        try:
            challenge_genesis(self.chain, self.job_id, solver_hash, leaves.get_proof(0), our_hash)
        except ChainError as exc:  # e.g. the window closed
            log.warning("job %s: genesis challenge failed: %s", self.job_id, exc)

    def demand(self, missing: Unavailable, interval: int) -> Verdict:
        """Demand the missing checkpoint on chain (challenges are open); the verdict says why."""
        verdict = Verdict(interval, False, f"unverifiable: {missing}; demanded on chain")
        log.warning("job %s: %s", self.job_id, missing)
        try:
            demand_checkpoint(self.chain, self.job_id, missing.index)
        except ChainError as exc:  # another dispute is open, or the window closed: say so, lose nothing
            verdict = Verdict(interval, False, f"unverifiable: {missing}; could not demand it: {exc}")
            log.warning("job %s: %s", self.job_id, verdict.detail)
        self.client.report_verdict(self.job_id, verdict.interval, verdict.agrees, verdict.detail)
        metrics().verdicts.labels(verdict="unverifiable").inc()
        return verdict

    def reveal(self, salt: bytes, hashes: list[bytes], proofs: list[list[bytes]]) -> None:
        try:
            self.chain.transact("Audit", "reveal", self.job_id, salt, hashes, proofs)
            log.info("job %s: revealed the audit", self.job_id)
        except ChainError as exc:
            log.warning("job %s: reveal failed: %s", self.job_id, exc)


def runs(sample: list[int]) -> list[list[int]]:
    """Sampled intervals grouped into runs of consecutive ones, in ascending order."""
    groups: list[list[int]] = []
    for interval in sorted(sample):
        if groups and groups[-1][-1] == interval - 1:
            groups[-1].append(interval)
        else:
            groups.append([interval])
    return groups
