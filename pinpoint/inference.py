"""Inference commitments without torch: read safetensors, hash inputs and outputs, check output proofs.

The coordinator and the submitter's client use this module, so it must not import torch (a test checks).

An inference job is a job with checkpointCount = N inputs and checkpointInterval = 1 on chain; its leaves
are the usual checkpoint leaves (jobId, index, step = index, stateHash) (pinpoint/merkle.py):
- leaf 0: stateHash = the canonical state hash of the weights artifact (every tensor in it), which binds
  the model that was run;
- leaf k (1..N), for input k-1: stateHash = sha256(inputHash || outputHash), where inputHash is the
  canonical hash of the single entry "input" (row k-1 of the `inputs` tensor) and outputHash that of the
  single entry "output" (the model's output for that row alone, batch dimension dropped).
"Canonical hash" is worker/engine/state.py's layout: per entry, name, dtype, shape and raw little-endian
bytes, each length-prefixed; a test checks that the two implementations agree.

Each leaf k >= 1 is reported with an artifact of its own ("pinpoint.inference-output/1": the entries
"input" and "output"), so that the coordinator can withhold a sampled leaf's output while it is under
audit exactly as it withholds a training checkpoint (backend/disclosure.py).

    tensors, metadata = read_safetensors(blob)                    # strict; never unpickles anything
    leaf = leaf_state_hash(input_hash(row), output_hash(output))
    verify_output(job_id, final_root_from_chain, expected_input_hash, entry)   # raises OutputProofError
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import struct
import sys
from dataclasses import dataclass
from typing import Any

from pinpoint.merkle import CHECKPOINT_LEAF_TYPES, StandardMerkleTree, checkpoint_leaf

OUTPUT_FORMAT = "pinpoint.inference-output/1"
INPUTS_TENSOR = "inputs"
MAX_HEADER_BYTES = 100 * 1024 * 1024  # the limit safetensors itself enforces

_U64 = struct.Struct("<Q")

SAFETENSORS_DTYPES: dict[str, tuple[str, int]] = {
    # safetensors dtype -> (canonical dtype name as worker/engine/state.py writes it, bytes per element)
    "BOOL": ("bool", 1), "U8": ("uint8", 1), "I8": ("int8", 1), "F8_E5M2": ("float8_e5m2", 1),
    "F8_E4M3": ("float8_e4m3fn", 1), "I16": ("int16", 2), "U16": ("uint16", 2), "F16": ("float16", 2),
    "BF16": ("bfloat16", 2), "I32": ("int32", 4), "U32": ("uint32", 4), "F32": ("float32", 4),
    "C64": ("complex64", 8), "F64": ("float64", 8), "I64": ("int64", 8), "U64": ("uint64", 8),
}
_SAFETENSORS_NAME = {canonical: name for name, (canonical, _) in SAFETENSORS_DTYPES.items()}
_STRUCT_CODES = {"bool": "?", "uint8": "B", "int8": "b", "int16": "h", "uint16": "H", "float16": "e",
                 "int32": "i", "uint32": "I", "float32": "f", "float64": "d", "int64": "q", "uint64": "Q"}


class SafetensorsError(ValueError):
    """The bytes are not a well-formed safetensors file."""


class OutputProofError(ValueError):
    """An output does not check out against the on-chain root; `index` names the input (0-based)."""

    def __init__(self, index: int | None, why: str):
        self.index = index
        super().__init__(f"output {index}: {why}" if index is not None else why)


@dataclass(frozen=True)
class RawTensor:
    """A tensor as bytes: canonical dtype name (e.g. 'float32'), shape, and C-order little-endian data."""

    dtype: str
    shape: tuple[int, ...]
    data: bytes | memoryview

    @property
    def itemsize(self) -> int:
        return SAFETENSORS_DTYPES[_SAFETENSORS_NAME[self.dtype]][1]

    def row(self, index: int) -> RawTensor:
        """Row `index` of the first dimension (the batch dimension), as a tensor of shape shape[1:]."""
        if not self.shape:
            raise IndexError("a scalar has no rows")
        if not 0 <= index < self.shape[0]:
            raise IndexError(f"row {index} out of range for {self.shape[0]} rows")
        size = math.prod(self.shape[1:]) * self.itemsize
        return RawTensor(self.dtype, self.shape[1:], self.data[index * size:(index + 1) * size])

    def values(self) -> Any:
        """The elements as nested Python lists (JSON-safe: non-finite floats become 'nan', 'inf', '-inf');
        None for dtypes Python's struct module cannot decode (bfloat16, float8, complex)."""
        code = _STRUCT_CODES.get(self.dtype)
        if code is None:
            return None
        flat = [_json_safe(v) for v in struct.unpack(f"<{len(self.data) // self.itemsize}{code}", self.data)]
        for dim in reversed(self.shape[1:]):
            flat = [flat[i:i + dim] for i in range(0, len(flat), dim)] if dim else []
        return flat[0] if not self.shape else flat

    def to_json(self) -> dict:
        return {"dtype": self.dtype, "shape": list(self.shape), "data": base64.b64encode(bytes(self.data)).decode()}

    @classmethod
    def from_json(cls, obj: dict) -> RawTensor:
        """Inverse of `to_json`, checking that the data has the size its dtype and shape say."""
        try:
            dtype, shape, data = obj["dtype"], tuple(obj["shape"]), base64.b64decode(obj["data"], validate=True)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a tensor (dtype, shape, base64 data): {exc}") from None
        if dtype not in _SAFETENSORS_NAME or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise ValueError(f"bad dtype {dtype!r} or shape {list(shape)}")
        tensor = cls(dtype, shape, data)
        if len(data) != math.prod(shape) * tensor.itemsize:
            raise ValueError(f"{len(data)} bytes of data for a {dtype} tensor of shape {list(shape)}")
        return tensor


def _json_safe(v):
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


# ---------------------------------------------------------------- safetensors


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise SafetensorsError("duplicate key in the safetensors header")
    return dict(pairs)


def read_safetensors(blob: bytes) -> tuple[dict[str, RawTensor], dict[str, str]]:
    """Parse a safetensors file strictly: tensors by name (views into `blob`) and the `__metadata__` map.

    Refuses unknown dtypes, sizes that do not match dtype x shape, offsets that overlap, leave gaps or do
    not cover the data section exactly, and duplicate keys. Only JSON is parsed; nothing is executed."""
    view = memoryview(blob)
    if len(view) < 8:
        raise SafetensorsError("too short to be a safetensors file")
    (size,) = _U64.unpack(view[:8])
    if size > MAX_HEADER_BYTES or size > len(view) - 8:
        raise SafetensorsError(f"header length {size} exceeds the file or the {MAX_HEADER_BYTES}-byte limit")
    try:
        header = json.loads(bytes(view[8:8 + size]), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SafetensorsError(f"bad safetensors header: {exc}") from None
    if not isinstance(header, dict):
        raise SafetensorsError("the safetensors header is not a JSON object")
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise SafetensorsError("__metadata__ must map strings to strings")
    data = view[8 + size:]
    tensors, spans = {}, []
    for name, entry in header.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise SafetensorsError(f"tensor {name!r}: needs exactly dtype, shape and data_offsets")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in SAFETENSORS_DTYPES:
            raise SafetensorsError(f"tensor {name!r}: unknown dtype {dtype!r}")
        if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
            raise SafetensorsError(f"tensor {name!r}: bad shape {shape!r}")
        if (not isinstance(offsets, list) or len(offsets) != 2 or not all(type(o) is int for o in offsets)
                or not 0 <= offsets[0] <= offsets[1] <= len(data)):
            raise SafetensorsError(f"tensor {name!r}: bad data_offsets {offsets!r}")
        canonical, itemsize = SAFETENSORS_DTYPES[dtype]
        if offsets[1] - offsets[0] != math.prod(shape) * itemsize:
            raise SafetensorsError(f"tensor {name!r}: {offsets[1] - offsets[0]} bytes for {dtype} {shape}")
        tensors[name] = RawTensor(canonical, tuple(shape), data[offsets[0]:offsets[1]])
        spans.append((offsets[0], offsets[1]))
    end = 0
    for begin, stop in sorted(spans):
        if begin != end:
            raise SafetensorsError("tensor data overlaps or leaves a gap")
        end = stop
    if end != len(data):
        raise SafetensorsError(f"tensor data covers {end} of {len(data)} bytes")
    return tensors, dict(metadata)


def write_safetensors(tensors: dict[str, RawTensor], metadata: dict[str, str] | None = None) -> bytes:
    """A safetensors file holding `tensors` (in name order) and `metadata` (keys sorted): same input,
    same bytes. Readable by `safetensors.torch.load` and by `read_safetensors`."""
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = {k: metadata[k] for k in sorted(metadata)}
    offset, buffers = 0, []
    for name in sorted(tensors):
        t = tensors[name]
        header[name] = {"dtype": _SAFETENSORS_NAME[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(t.data)]}
        buffers.append(bytes(t.data))
        offset += len(t.data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return b"".join([_U64.pack(len(text)), text, *buffers])


def float32_tensor(rows: list[list[float]]) -> RawTensor:
    """A (len(rows), len(rows[0])) float32 tensor from Python floats (e.g. a batch of MLP inputs)."""
    width = len(rows[0]) if rows else 0
    if any(len(r) != width for r in rows):
        raise ValueError("every row needs the same length")
    data = b"".join(struct.pack(f"<{width}f", *r) for r in rows)
    return RawTensor("float32", (len(rows), width), data)


def inputs_artifact(inputs: RawTensor) -> bytes:
    """The bytes of an inputs artifact (one tensor `inputs`, one row per input)."""
    return write_safetensors({INPUTS_TENSOR: inputs})


def read_inputs(blob: bytes, count: int | None = None) -> RawTensor:
    """The `inputs` tensor of an inputs artifact, checking it has `count` rows when given."""
    tensors, _ = read_safetensors(blob)
    if set(tensors) != {INPUTS_TENSOR}:
        raise SafetensorsError(f"an inputs artifact holds exactly one tensor {INPUTS_TENSOR!r}, found {sorted(tensors)}")
    inputs = tensors[INPUTS_TENSOR]
    if not inputs.shape:
        raise SafetensorsError("inputs must have a batch dimension (one row per input), got a scalar")
    if count is not None and inputs.shape[0] != count:
        raise SafetensorsError(f"the inputs artifact has {inputs.shape[0]} rows, the spec says {count} inputs")
    return inputs


# ---------------------------------------------------------------- hashes


def _entry_header(name: str, t: RawTensor) -> bytes:
    name_b, dtype_b = name.encode("utf-8"), t.dtype.encode("ascii")
    parts = [_U64.pack(len(name_b)), name_b, _U64.pack(len(dtype_b)), dtype_b, _U64.pack(len(t.shape))]
    parts += [_U64.pack(d) for d in t.shape]
    parts.append(_U64.pack(len(t.data)))
    return b"".join(parts)


def state_hash(tensors: dict[str, RawTensor]) -> bytes:
    """The canonical state hash (worker/engine/state.py's layout) of named tensors given as bytes."""
    if sys.byteorder != "little":  # the data is little-endian already; the layout is defined for it
        raise RuntimeError("state hashes are defined on little-endian hosts")
    h = hashlib.sha256()
    for name in sorted(tensors):
        h.update(_entry_header(name, tensors[name]))
        h.update(tensors[name].data)
    return h.digest()


def input_hash(row: RawTensor) -> bytes:
    return state_hash({"input": row})


def output_hash(output: RawTensor) -> bytes:
    return state_hash({"output": output})


def leaf_state_hash(input_digest: bytes, output_digest: bytes) -> bytes:
    """The state hash in leaf k >= 1: sha256(inputHash || outputHash)."""
    if len(input_digest) != 32 or len(output_digest) != 32:
        raise ValueError("input and output hashes are 32 bytes")
    return hashlib.sha256(input_digest + output_digest).digest()


def weights_state_hash(blob: bytes) -> bytes:
    """Leaf 0's state hash: the canonical state hash over every tensor of the weights artifact."""
    return state_hash(read_safetensors(blob)[0])


def output_artifact(index: int, row: RawTensor, output: RawTensor) -> bytes:
    """The artifact reported with leaf index+1: the input row and its output."""
    digests = (input_hash(row), output_hash(output))
    metadata = {"format": OUTPUT_FORMAT, "index": str(index), "input_hash": "0x" + digests[0].hex(),
                "output_hash": "0x" + digests[1].hex(), "state_hash": "0x" + leaf_state_hash(*digests).hex()}
    return write_safetensors({"input": row, "output": output}, metadata)


@dataclass(frozen=True)
class OutputRecord:
    """One input's committed output, read from its artifact."""

    index: int
    input: RawTensor
    output: RawTensor
    input_hash: bytes
    output_hash: bytes

    @property
    def state_hash(self) -> bytes:
        return leaf_state_hash(self.input_hash, self.output_hash)


def read_output_artifact(blob: bytes) -> OutputRecord:
    """Parse an output artifact and recompute its hashes (the metadata is not trusted)."""
    tensors, metadata = read_safetensors(blob)
    if metadata.get("format") != OUTPUT_FORMAT or set(tensors) != {"input", "output"}:
        raise SafetensorsError(f"not a {OUTPUT_FORMAT} artifact")
    try:
        index = int(metadata["index"])
    except (KeyError, ValueError):
        raise SafetensorsError("output artifact without a valid index") from None
    row, output = tensors["input"], tensors["output"]
    return OutputRecord(index, row, output, input_hash(row), output_hash(output))


# ---------------------------------------------------------------- checking an output against the chain


def verify_output(job_id: int, final_root: str, expected_input_hash: bytes, entry: dict) -> RawTensor:
    """Check one entry of GET /jobs/{id}/outputs against the job's on-chain final root; return its output.

    Trusts nothing in `entry` but what it proves: the output hash is recomputed from the returned bytes,
    the input hash is the caller's own (from the inputs artifact named by the spec), the displayed values
    must be the ones the bytes hold, and the leaf (jobId, k, k, sha256(in || out)) must be proven by
    `proof` against `final_root`. Raises OutputProofError naming the input."""
    index = entry.get("index")
    if not isinstance(index, int) or index < 0:
        raise OutputProofError(None, f"entry without a valid index: {index!r}")
    try:
        output = RawTensor.from_json(entry["output"])
    except (KeyError, ValueError) as exc:
        raise OutputProofError(index, f"malformed output: {exc}") from None
    digest = output_hash(output)
    if entry.get("output_hash") != "0x" + digest.hex():
        raise OutputProofError(index, "the output bytes do not hash to the output hash the coordinator claims")
    if entry.get("input_hash") != "0x" + expected_input_hash.hex():
        raise OutputProofError(index, "the coordinator names another input than the one in the inputs artifact")
    if "values" in entry and entry["values"] != output.values():
        raise OutputProofError(index, "the output values shown are not the ones in the output bytes")
    leaf = checkpoint_leaf(job_id, index + 1, index + 1, leaf_state_hash(expected_input_hash, digest))
    if not StandardMerkleTree.verify(final_root, CHECKPOINT_LEAF_TYPES, leaf, entry.get("proof") or []):
        raise OutputProofError(index, "the Merkle proof does not verify against the on-chain final root")
    return output


@dataclass(frozen=True)
class CheckedOutput:
    """One input's output as a client sees it: proven against the chain, withheld for now, or refused."""

    index: int
    output: RawTensor | None
    problem: str | None = None  # None: proven; else why there is no proven output

    @property
    def proven(self) -> bool:
        return self.output is not None


def checked_outputs(client, spec, job_id: int, final_root: str, page: int = 100) -> list[CheckedOutput]:
    """Every output of inference job `job_id`, each checked against `final_root` read from the chain by the
    caller. `client` is a pinpoint.client.CoordinatorClient and `spec` the job's InferenceSpec, both
    hash-checked by the client; the input hashes come from the inputs artifact itself."""
    inputs = read_inputs(client.download_artifact("0x" + spec.inputs.sha256), spec.inputs.count)
    results = []
    for offset in range(0, spec.inputs.count, page):
        for entry in client.outputs(job_id, offset, page)["outputs"]:
            index = entry["index"]
            if entry.get("withheld"):
                results.append(CheckedOutput(index, None, "withheld while verifiers audit it"))
            elif entry.get("error"):
                results.append(CheckedOutput(index, None, f"coordinator: {entry['error']}"))
            else:
                try:
                    output = verify_output(job_id, final_root, input_hash(inputs.row(index)), entry)
                    results.append(CheckedOutput(index, output))
                except (OutputProofError, IndexError) as exc:
                    results.append(CheckedOutput(index if isinstance(index, int) else -1, None, str(exc)))
    if sorted(r.index for r in results) != list(range(spec.inputs.count)):
        raise OutputProofError(None, f"the coordinator returned outputs for other inputs than 0..{spec.inputs.count - 1}")
    return results
