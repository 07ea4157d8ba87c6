"""Inference jobs on a worker host: the solver's run, and the one-leaf recomputation verifiers and
referees share.

An inference job is a job with one leaf per input and checkpoint interval 1 (pinpoint/inference.py), so
the training machinery applies unchanged: a sampled "interval" i is input i (leaf i+1); a challenge of
leaf k that accepts leaf k-1 is already one step apart, so the dispute goes straight to the solver
serving its pre-state (for inference: the spec's weights artifact) and a referee recomputing leaf k.
Inputs do not depend on each other, so recomputing one needs only the spec and its two artifacts. Every
leaf hash is bound to the spec hash (pinpoint/inference.py), so two jobs share leaves only when their
specs are identical.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from pinpoint import inference as commitments
from pinpoint.chain import ChainError
from pinpoint.merkle import checkpoint_root
from pinpoint.spec import InferenceSpec
from worker.engine.inference import InferenceEngine
from worker.metrics import metrics

if TYPE_CHECKING:
    from worker.solver import SolverRun

log = logging.getLogger(__name__)
Download = Callable[[str], bytes]
"""Fetches an artifact by '0x' + sha256 and checks its hash (CoordinatorClient.download_artifact)."""


def weights_artifact(spec: InferenceSpec) -> str:
    return "0x" + spec.weights.sha256


def load_engine(engine: InferenceEngine, download: Download) -> InferenceEngine:
    """Download the spec's weights and inputs (hash-checked twice: by the client and by the engine)."""
    return engine.load(download(weights_artifact(engine.spec)), download("0x" + engine.spec.inputs.sha256))


PROGRESS_POSTS = 16
"""Progress roots per inference job: a heartbeat on chain, not one transaction per input."""

_ENGINES: OrderedDict[str, InferenceEngine] = OrderedDict()


def honest_engine(spec: InferenceSpec, download: Download) -> InferenceEngine:
    """A loaded honest engine for `spec`, cached by spec hash (artifacts are content-addressed, so a cached
    engine can never be stale): a verifier recomputes several leaves of one job."""
    key = spec.spec_hash()
    if key not in _ENGINES:
        _ENGINES[key] = load_engine(InferenceEngine(spec), download)
        while len(_ENGINES) > 2:
            _ENGINES.popitem(last=False)
    _ENGINES.move_to_end(key)
    return _ENGINES[key]


def expected_leaf_state_hash(spec: InferenceSpec, index: int, download: Download) -> bytes:
    """The honest state hash of leaf `index` (1..N: input index-1 with its output; 0: the model), from the
    spec and its artifacts alone: what a verifier compares and a referee posts."""
    return honest_engine(spec, download).leaf_state_hash(index)


def referee_step(spec: InferenceSpec, request: dict, download: Download, unavailable: bytes) -> bytes:
    """A referee's answer for a disputed inference leaf: the request's step s is the agreed leaf, so the
    disputed one is s+1 (input s). The pre-state the solver must serve is the model itself: the spec's
    weights artifact; anything else counts against the solver, as a wrong served state does in training."""
    if request["preStateArtifact"].lower() != weights_artifact(spec):
        log.info("served %s, not the spec's weights %s", request["preStateArtifact"], weights_artifact(spec))
        return unavailable
    if not 0 <= request["step"] < spec.inputs.count:
        return unavailable
    return expected_leaf_state_hash(spec, request["step"] + 1, download)


def run_inference(run: SolverRun, job: dict, spec: InferenceSpec, engine: InferenceEngine) -> str:
    """The solver's inference run: every input alone, each output uploaded and reported as leaf k, a
    progress root every `stride` inputs, then the final root. Leaf 0 is the model, reported with the
    weights artifact.

    A retried task recomputes everything (deterministic, so the same hashes) and re-reports (the
    coordinator accepts identical reports again); it posts progress only beyond what the chain has."""
    job_id, client, chain = run.job_id, run.client, run.chain
    load_engine(engine, client.download_artifact)
    hashes = [engine.leaf_state_hash(0)]  # the model's leaf: the weights' state hash bound to the spec
    leaf_cache: list[bytes] = []
    client.report_checkpoint(job_id, 0, 0, "0x" + hashes[0].hex(), weights_artifact(spec), None)
    done = job["checkpointsDone"]
    stride = -(-spec.inputs.count // PROGRESS_POSTS)
    for leaf in range(1, spec.inputs.count + 1):
        row, output = engine.record(leaf - 1)
        artifact = client.upload_artifact(commitments.output_artifact(engine.spec_hash, leaf - 1, row, output))
        state = engine.input_leaf_hash(row, output)
        client.report_checkpoint(job_id, leaf, leaf, "0x" + state.hex(), artifact, None)
        hashes.append(state)
        if leaf % stride == 0 and leaf < spec.inputs.count:  # the last root is the final root: submitResult
            root = checkpoint_root(job_id, hashes, 1, leaf_cache)
            if leaf > done:
                chain.transact("Market", "postProgress", job_id, leaf, root)
                metrics().checkpoints_committed.inc()
            elif leaf == done and root != job["progressRoot"]:
                raise ChainError(f"job {job_id}: recomputed leaves do not match the committed progress root")
        log.info("job %s: input %s/%s -> leaf 0x%s", job_id, leaf, spec.inputs.count, state.hex())
    final_root = checkpoint_root(job_id, hashes, 1, leaf_cache)
    chain.transact("Market", "submitResult", job_id, final_root)
    log.info("job %s: submitted the final root %s over %s outputs", job_id, final_root, spec.inputs.count,
             extra={"event": "result_submitted", "job_id": job_id, "final_root": final_root, "outputs": spec.inputs.count})
    return final_root
