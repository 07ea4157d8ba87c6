"""What checkpoint bytes hold: the one check behind availability demands, shared by the referee that
answers them, the solver that serves them and the verifier that decides whether to open one.

Bytes are "available" for a leaf when they parse (safetensors only, nothing executed) as that leaf's
checkpoint and hash to its state hash: for training, a checkpoint of the job's spec (its embedded
`spec.hash`, worker/engine/state.py) at the leaf's step; for an inference job, leaf 0 is the weights and
leaf k the output artifact of input k-1, each hash bound to the spec hash (pinpoint/inference.py).
"""

from __future__ import annotations

from pinpoint.inference import model_leaf_hash, read_output_artifact
from pinpoint.spec import AnySpec, InferenceSpec
from pinpoint.tensors import SafetensorsError, read_safetensors, state_hash
from worker.engine.checkpoint import (
    CheckpointFormatError,
    CheckpointHashMismatch,
    load_checkpoint,
)


def stored_state_hash(spec: AnySpec, step: int, blob: bytes) -> bytes | None:
    """The state hash `blob` holds as the checkpoint at `step` of a job with `spec`, or None if it is not
    that checkpoint (unparseable, inconsistent, another step or input, or a state of another spec)."""
    try:
        if isinstance(spec, InferenceSpec):
            if step == 0:
                return model_leaf_hash(spec.spec_hash(), state_hash(read_safetensors(blob)[0]))
            record = read_output_artifact(blob, spec.spec_hash())
            return record.state_hash if record.index == step - 1 else None
        checkpoint = load_checkpoint(blob, expected_spec_hash=spec.spec_hash())
        return checkpoint.state_hash if checkpoint.step == step else None
    except (SafetensorsError, CheckpointFormatError, CheckpointHashMismatch, KeyError, ValueError):
        return None


def holds(spec: AnySpec, step: int, blob: bytes, expected: bytes) -> bool:
    """Whether `blob` is the checkpoint at `step` with state hash `expected`."""
    return stored_state_hash(spec, step, blob) == expected
