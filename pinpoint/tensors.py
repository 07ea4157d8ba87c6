"""Tensors as bytes, without torch: safetensors read strictly and written canonically, and the canonical
state hash (layout: worker/engine/state.py's docstring). The coordinator and clients use this module, so it
must not import torch (a test checks); the engine builds on it for the parts that are only bytes.

    tensors, metadata = read_safetensors(blob)      # strict; only JSON is parsed, nothing is executed
    blob = write_safetensors({"x": float32_tensor([[1.0, 2.0]])})
    digest = state_hash(tensors)                    # == worker.engine.state.state_hash of the same tensors
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


def _parse_header(text: bytes, data_len: int) -> tuple[dict[str, tuple[str, tuple[int, ...], int, int]], dict[str, str]]:
    """Check a safetensors JSON header against a data section of `data_len` bytes: entries by name as
    (canonical dtype, shape, begin, end), and the `__metadata__` map. Every check `read_safetensors` makes."""
    try:
        header = json.loads(text, object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise SafetensorsError(f"bad safetensors header: {exc!r}"[:300]) from None
    if not isinstance(header, dict):
        raise SafetensorsError("the safetensors header is not a JSON object")
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise SafetensorsError("__metadata__ must map strings to strings")
    entries, spans = {}, []
    for name, entry in header.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise SafetensorsError(f"tensor {name!r}: needs exactly dtype, shape and data_offsets")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in SAFETENSORS_DTYPES:
            raise SafetensorsError(f"tensor {name!r}: unknown dtype {dtype!r}")
        if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
            raise SafetensorsError(f"tensor {name!r}: bad shape {shape!r}")
        if (not isinstance(offsets, list) or len(offsets) != 2 or not all(type(o) is int for o in offsets)
                or not 0 <= offsets[0] <= offsets[1] <= data_len):
            raise SafetensorsError(f"tensor {name!r}: bad data_offsets {offsets!r}")
        canonical, itemsize = SAFETENSORS_DTYPES[dtype]
        if offsets[1] - offsets[0] != math.prod(shape) * itemsize:
            raise SafetensorsError(f"tensor {name!r}: {offsets[1] - offsets[0]} bytes for {dtype} {shape}")
        entries[name] = (canonical, tuple(shape), offsets[0], offsets[1])
        spans.append((offsets[0], offsets[1]))
    end = 0
    for begin, stop in sorted(spans):
        if begin != end:
            raise SafetensorsError("tensor data overlaps or leaves a gap")
        end = stop
    if end != data_len:
        raise SafetensorsError(f"tensor data covers {end} of {data_len} bytes")
    return entries, dict(metadata)


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
    data = view[8 + size:]
    entries, metadata = _parse_header(bytes(view[8:8 + size]), len(data))
    tensors = {name: RawTensor(dtype, shape, data[begin:end]) for name, (dtype, shape, begin, end) in entries.items()}
    return tensors, metadata


def read_safetensors_header(path) -> tuple[dict[str, tuple[str, tuple[int, ...]]], dict[str, str]]:
    """The tensors' (canonical dtype, shape) by name and the `__metadata__` of a safetensors file on disk,
    reading only its header (never the data) with every check `read_safetensors` makes."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        total = f.tell()
        f.seek(0)
        prefix = f.read(8)
        if len(prefix) < 8:
            raise SafetensorsError("too short to be a safetensors file")
        (size,) = _U64.unpack(prefix)
        if size > MAX_HEADER_BYTES or size > total - 8:
            raise SafetensorsError(f"header length {size} exceeds the file or the {MAX_HEADER_BYTES}-byte limit")
        text = f.read(size)
    entries, metadata = _parse_header(text, total - 8 - size)
    return {name: (dtype, shape) for name, (dtype, shape, _, _) in entries.items()}, metadata


def safetensors_file(entries: list[tuple[str, str, tuple[int, ...], Any]], metadata: dict[str, str] | None = None) -> bytes:
    """The safetensors file of `entries` (name, canonical dtype, shape, buffer) in the order given, with
    `metadata` keys sorted: u64 header length, JSON header padded with spaces to a multiple of 8, data.
    The one writer of the format: worker/engine/checkpoint.py passes torch buffers (no copy until here)."""
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = {k: metadata[k] for k in sorted(metadata)}
    offset = 0
    for name, dtype, shape, data in entries:
        end = offset + memoryview(data).nbytes
        header[name] = {"dtype": _SAFETENSORS_NAME[dtype], "shape": list(shape), "data_offsets": [offset, end]}
        offset = end
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return b"".join([_U64.pack(len(text)), text, *(data for *_, data in entries)])


def write_safetensors(tensors: dict[str, RawTensor], metadata: dict[str, str] | None = None) -> bytes:
    """A safetensors file holding `tensors` (in name order) and `metadata`: same input, same bytes.
    Readable by `safetensors.torch.load` and by `read_safetensors`."""
    return safetensors_file([(name, t.dtype, t.shape, t.data) for name, t in sorted(tensors.items())], metadata)


def float32_tensor(rows: list[list[float]]) -> RawTensor:
    """A (len(rows), len(rows[0])) float32 tensor from Python floats (e.g. a batch of MLP inputs)."""
    width = len(rows[0]) if rows else 0
    if any(len(r) != width for r in rows):
        raise ValueError("every row needs the same length")
    data = b"".join(struct.pack(f"<{width}f", *r) for r in rows)
    return RawTensor("float32", (len(rows), width), data)


# ---------------------------------------------------------------- the canonical state hash

def spec_hash_bytes(spec_hash: str | bytes) -> bytes:
    """The 32 bytes of a spec hash given as '0x' + 64 hex digits (spec.spec_hash()) or as bytes."""
    raw = bytes.fromhex(spec_hash.removeprefix("0x")) if isinstance(spec_hash, str) else bytes(spec_hash)
    if len(raw) != 32:
        raise ValueError(f"a spec hash is 32 bytes, got {len(raw)}")
    return raw



def entry_header(name: str, dtype: str, shape: tuple[int, ...], nbytes: int) -> bytes:
    """The bytes the state hash reads before an entry's data: u64-length-prefixed name and dtype, ndim,
    each dimension, and the data's byte count (all u64 little-endian). worker/engine/state.py uses it too."""
    name_b, dtype_b = name.encode("utf-8"), dtype.encode("ascii")
    parts = [_U64.pack(len(name_b)), name_b, _U64.pack(len(dtype_b)), dtype_b, _U64.pack(len(shape))]
    parts += [_U64.pack(d) for d in shape]
    parts.append(_U64.pack(nbytes))
    return b"".join(parts)


STATE_TREE_ENTRY = "spec.state_tree"
"""The entry (uint8, shape (1,), value 1) of a state hashed as a tree of its entries: the reproducible profile's,
whose pre- and post-state the on-chain operator game opens entry by entry (docs/PROTOCOL.md, "Operator game")."""


def entry_leaf(header: bytes, data: bytes | memoryview) -> bytes:
    """A tree-hashed state's leaf of one entry: keccak256(entry header || element root of its bytes), the bytes read
    as float32 words (zero-padded to whole words; pinpoint/tensor_merkle.py)."""
    import numpy as np
    from eth_utils import keccak

    from pinpoint.tensor_merkle import element_root

    raw = bytes(data)
    return keccak(header + element_root(np.frombuffer(raw + bytes(-len(raw) % 4), "<f4")))


def state_tree_root(leaves: list[bytes]) -> bytes:
    """The state hash of a tree-hashed state: the positional Merkle root over its entries' leaves in name order."""
    from pinpoint.step_game import MerkleTree

    return MerkleTree(leaves).root


def state_hash(tensors: dict[str, RawTensor]) -> bytes:
    """The canonical state hash (worker/engine/state.py's layout) of named tensors given as bytes."""
    if sys.byteorder != "little":  # the data is little-endian already; the layout is defined for it
        raise RuntimeError("state hashes are defined on little-endian hosts")
    if STATE_TREE_ENTRY in tensors:
        return state_tree_root([entry_leaf(entry_header(name, t.dtype, t.shape, len(t.data)), t.data)
                                for name, t in sorted(tensors.items())])
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name]
        h.update(entry_header(name, t.dtype, t.shape, len(t.data)))
        h.update(t.data)
    return h.digest()
