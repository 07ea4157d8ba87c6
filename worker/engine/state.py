"""The canonical state hash: one sha256 over a name-sorted list of tensors (DESIGN.md, Commitments).

Byte layout fed to a single streaming sha256, for each entry in ascending order of name (Python str
order, i.e. by Unicode code point), all integers unsigned 64-bit little-endian (u64):

    u64 len(name_utf8)  name_utf8
    u64 len(dtype)      dtype          # ASCII torch dtype without "torch.", e.g. b"float32", b"int64", b"uint8"
    u64 ndim            u64 shape[0] ... u64 shape[ndim-1]
    u64 nbytes          data           # the tensor's elements, C-contiguous (row-major), little-endian

No separator or count is written between entries; the length prefixes make the encoding unambiguous.
The tensor bytes are hashed in place through a zero-copy memoryview of the CPU tensor's numpy view,
so hashing costs about as much as sha256 over one buffer of the same size.

    from worker.engine.state import state_hash
    digest = state_hash({"model.weight": w, "cursor.step": torch.tensor(3)})  # 32 bytes
"""

from __future__ import annotations

import hashlib
import struct
import sys

import torch

_U64 = struct.Struct("<Q")


def dtype_name(dtype: torch.dtype) -> str:
    """'float32' for torch.float32, and so on."""
    return str(dtype).removeprefix("torch.")


def tensor_bytes(t: torch.Tensor) -> memoryview:
    """Zero-copy byte view of a tensor's elements (copies only if it is on an accelerator or non-contiguous)."""
    t = t.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    t = t.contiguous()
    if t.dtype in (torch.bfloat16, torch.float8_e4m3fn, torch.float8_e5m2):
        t = t.view(torch.int16 if t.element_size() == 2 else torch.uint8)  # numpy lacks these dtypes
    arr = t.numpy()
    return memoryview(arr.reshape(-1).view("u1"))


def _entry_header(name: str, t: torch.Tensor, nbytes: int) -> bytes:
    name_b = name.encode("utf-8")
    dtype_b = dtype_name(t.dtype).encode("ascii")
    parts = [_U64.pack(len(name_b)), name_b, _U64.pack(len(dtype_b)), dtype_b, _U64.pack(t.dim())]
    parts += [_U64.pack(d) for d in t.shape]
    parts.append(_U64.pack(nbytes))
    return b"".join(parts)


def state_hash(tensors: dict[str, torch.Tensor]) -> bytes:
    """sha256 (32 bytes) of the canonical encoding described in this module's docstring."""
    if sys.byteorder != "little":
        raise RuntimeError("state_hash needs a little-endian host (the canonical layout is little-endian)")
    h = hashlib.sha256()
    for name in sorted(tensors):
        data = tensor_bytes(tensors[name])
        h.update(_entry_header(name, tensors[name], data.nbytes))
        h.update(data)
    return h.digest()
