"""Checkpoints: the whole training state as named tensors, its state hash, and safetensors bytes.

Tensor names (everything needed to continue training, DESIGN.md Commitments):
    model.<state_dict key>       parameters and persistent buffers
    optim.<param_index>.<key>    optimizer state per parameter (e.g. exp_avg, exp_avg_sq, step)
    rng.cpu                      torch CPU generator state (uint8); rng.cuda on CUDA hosts
    cursor.step                  int64 scalar: optimizer steps taken (the data cursor: batches depend
                                 only on (seed, step))
    spec.hash                    uint8 (32,): the job's spec hash, so that the state hash binds the spec
                                 (worker/engine/state.py); a checkpoint of one spec is refused for another

Serialized as safetensors (never pickle); the metadata carries format, spec hash, index, step and the
state hash; `load_checkpoint` recomputes the hash from the tensors and checks that the embedded
`spec.hash` is the one the metadata names (and the caller's, when given). The bytes are written here
(`safetensors_bytes`) rather than by `safetensors.torch.save`, which spends most of its time on per-tensor
Python checks and orders the metadata keys at random; the layout is the same (tensors by dtype, largest
first as safetensors ranks them, then by name; header padded with spaces to 8 bytes), with metadata keys
sorted so the same checkpoint always gives the same bytes. They are read back by `safetensors.torch.load`.

    blob = save_checkpoint(checkpoint)
    checkpoint = load_checkpoint(blob, expected_state_hash=leaf_hash, expected_spec_hash=spec.spec_hash())
    # raises CheckpointHashMismatch, or CheckpointSpecMismatch for a checkpoint of another spec
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass

import torch
from safetensors.torch import load as safetensors_load

from pinpoint.tensors import safetensors_file
from worker.engine.state import (
    SPEC_ENTRY,
    dtype_name,
    embedded_spec_hash,
    hashable_view,
    spec_hash_bytes,
    state_hash,
)

FORMAT = "pinpoint.checkpoint/1"

_SAFETENSORS_DTYPES = {  # torch dtype -> (safetensors name, rank); higher rank first in the data section
    torch.bool: ("BOOL", 0), torch.uint8: ("U8", 1), torch.int8: ("I8", 2), torch.float8_e5m2: ("F8_E5M2", 3),
    torch.float8_e4m3fn: ("F8_E4M3", 4), torch.int16: ("I16", 5), torch.uint16: ("U16", 6),
    torch.float16: ("F16", 7), torch.bfloat16: ("BF16", 8), torch.int32: ("I32", 9), torch.uint32: ("U32", 10),
    torch.float32: ("F32", 11), torch.complex64: ("C64", 12), torch.float64: ("F64", 13),
    torch.int64: ("I64", 14), torch.uint64: ("U64", 15),
}


class CheckpointHashMismatch(ValueError):
    """The checkpoint's tensors do not hash to the state hash it claims or the caller expects."""


class CheckpointFormatError(ValueError):
    """The bytes are not a pinpoint checkpoint."""


class CheckpointSpecMismatch(CheckpointFormatError):
    """The checkpoint is a state of another job spec than the one it is loaded for."""


def check_spec(checkpoint_spec_hash: str, expected_spec_hash: str | bytes) -> None:
    """Raise CheckpointSpecMismatch unless the checkpoint's spec hash is `expected_spec_hash`."""
    expected = "0x" + spec_hash_bytes(expected_spec_hash).hex()
    if checkpoint_spec_hash.lower() != expected:
        raise CheckpointSpecMismatch(f"the checkpoint is a state of spec {checkpoint_spec_hash or '(none)'}, "
                                     f"not of this job's spec {expected}")


@dataclass(frozen=True)
class Checkpoint:
    """Training state at `step`. `index` is step // checkpoint_interval on interval boundaries, else None
    (mid-interval states appear when a dispute bisects the steps of one interval)."""

    index: int | None
    step: int
    tensors: dict[str, torch.Tensor]
    state_hash: bytes  # 32 bytes
    spec_hash: str = ""

    @property
    def state_hash_hex(self) -> str:
        """'0x' + hex: the bytes32 form used in Merkle leaves."""
        return "0x" + self.state_hash.hex()


def make_checkpoint(index: int | None, step: int, tensors: dict[str, torch.Tensor], spec_hash: str = "") -> Checkpoint:
    """Wrap tensors (already snapshotted, with their `spec.hash` entry) into a Checkpoint, computing the
    state hash; `spec_hash`, when given, must be the embedded one."""
    embedded = embedded_spec_hash(tensors)
    if embedded is None:
        raise ValueError(f"a training state needs its {SPEC_ENTRY!r} entry (uint8, 32 bytes): "
                         "the state hash binds the spec")
    if spec_hash:
        check_spec(embedded, spec_hash)
    return Checkpoint(index=index, step=step, tensors=tensors, state_hash=state_hash(tensors), spec_hash=embedded)


def save_checkpoint(checkpoint: Checkpoint) -> bytes:
    """safetensors bytes with metadata {format, spec_hash, index, step, state_hash}."""
    metadata = {
        "format": FORMAT,
        "spec_hash": checkpoint.spec_hash,
        "index": "" if checkpoint.index is None else str(checkpoint.index),
        "step": str(checkpoint.step),
        "state_hash": checkpoint.state_hash_hex,
    }
    return safetensors_bytes(checkpoint.tensors, metadata)


def safetensors_bytes(tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> bytes:
    """The safetensors file for `tensors` (one copy of the data, straight from the tensors' buffers):
    u64 header length, JSON header padded with spaces to a multiple of 8, then the data."""
    unsupported = {str(t.dtype) for t in tensors.values() if t.dtype not in _SAFETENSORS_DTYPES}
    if unsupported:
        raise ValueError(f"safetensors cannot hold dtypes {sorted(unsupported)}")
    order = sorted(tensors, key=lambda name: (-_SAFETENSORS_DTYPES[tensors[name].dtype][1], name))
    entries = [(name, dtype_name(tensors[name].dtype), tuple(tensors[name].shape), hashable_view(tensors[name]))
               for name in order]
    return safetensors_file(entries, metadata)


def read_metadata(blob: bytes) -> dict[str, str]:
    """The safetensors header's `__metadata__` map (JSON; no tensor data is parsed)."""
    if len(blob) < 8:
        raise CheckpointFormatError("too short to be a safetensors file")
    (size,) = struct.unpack("<Q", blob[:8])
    if size > len(blob) - 8:
        raise CheckpointFormatError("safetensors header length exceeds the data")
    try:
        header = json.loads(blob[8 : 8 + size])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointFormatError(f"bad safetensors header: {exc}") from None
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(metadata, dict):
        raise CheckpointFormatError("no __metadata__ in the safetensors header")
    return metadata


def load_checkpoint(blob: bytes, expected_state_hash: bytes | str | None = None,
                    expected_spec_hash: str | bytes | None = None) -> Checkpoint:
    """Parse checkpoint bytes and recompute the state hash; raise CheckpointHashMismatch when it differs
    from the hash in the metadata or from `expected_state_hash` (bytes, or '0x' hex from a Merkle leaf),
    CheckpointFormatError when the embedded `spec.hash` is missing or not the metadata's, and
    CheckpointSpecMismatch when it is not `expected_spec_hash` (the job the caller loads it for)."""
    metadata = read_metadata(blob)
    if metadata.get("format") != FORMAT:
        raise CheckpointFormatError(f"format is {metadata.get('format')!r}, expected {FORMAT!r}")
    try:
        tensors = safetensors_load(blob)
    except Exception as exc:  # safetensors raises its own SafetensorError
        raise CheckpointFormatError(f"bad safetensors data: {exc}") from None
    embedded = embedded_spec_hash(tensors)
    if embedded is None:
        raise CheckpointFormatError(f"no {SPEC_ENTRY!r} entry (uint8, 32 bytes): not a state bound to a spec")
    if metadata.get("spec_hash", "").lower() != embedded:
        raise CheckpointFormatError(f"the metadata names spec {metadata.get('spec_hash')!r}, "
                                    f"the state holds {embedded}")
    if expected_spec_hash is not None:
        check_spec(embedded, expected_spec_hash)
    actual = state_hash(tensors)
    claimed = bytes.fromhex(metadata.get("state_hash", "").removeprefix("0x"))
    if actual != claimed:
        raise CheckpointHashMismatch(f"tensors hash to 0x{actual.hex()}, metadata claims 0x{claimed.hex()}")
    if expected_state_hash is not None:
        expected = (bytes.fromhex(expected_state_hash.removeprefix("0x"))
                    if isinstance(expected_state_hash, str) else bytes(expected_state_hash))
        if actual != expected:
            raise CheckpointHashMismatch(f"tensors hash to 0x{actual.hex()}, expected 0x{expected.hex()}")
    step = int(metadata["step"])
    if "cursor.step" not in tensors or int(tensors["cursor.step"]) != step:
        raise CheckpointFormatError(f"cursor.step does not match the metadata step {step}")
    index = int(metadata["index"]) if metadata.get("index") else None
    return Checkpoint(index=index, step=step, tensors=tensors, state_hash=actual, spec_hash=embedded)
