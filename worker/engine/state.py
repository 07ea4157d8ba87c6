"""The canonical state hash: one sha256 over a name-sorted list of tensors (DESIGN.md, Commitments).

Byte layout fed to a single streaming sha256, for each entry in ascending order of name (Python str
order, i.e. by Unicode code point), all integers unsigned 64-bit little-endian (u64):

    u64 len(name_utf8)  name_utf8
    u64 len(dtype)      dtype          # ASCII torch dtype without "torch.", e.g. b"float32", b"int64", b"uint8"
    u64 ndim            u64 shape[0] ... u64 shape[ndim-1]
    u64 nbytes          data           # the tensor's elements, C-contiguous (row-major), little-endian

No separator or count is written between entries; the length prefixes make the encoding unambiguous.
The tensor bytes are hashed in place through a zero-copy buffer view of the CPU tensor (numpy), and the
entry headers are cached by (name, dtype, shape), so hashing costs about as much as sha256 over one
buffer of the same size (`python -m bench.hashing` measures the ratio).

Why one stream and not per-entry digests hashed on several threads: sha256 is sequential per stream, so
using a second core needs a different definition (e.g. sha256 over the per-entry digests). bench/hashing.py
measures it: on a shared 2-core machine its 2-thread gain over 64 MB was erratic (0.9x-1.2x of plain
sha256), while the single stream runs at 0.88x-1.02x of plain sha256 over one buffer; the engine's
checkpoints are well under 1 MB (about 0.2 ms of hashing), so the definition stays one stream.

State hashes bind the spec. Every training state the protocol commits to (checkpoint 0, every interval
end, every mid-interval state a dispute bisects to, the referee's one-step result, a verifier's replay)
holds the entry `spec.hash` (SPEC_ENTRY): a uint8 tensor of shape (32,), the 32 bytes of the job's spec
hash (sha256 of the spec's canonical JSON, pinpoint/spec.py). It is an ordinary entry, hashed like any
other (it sorts after `rng.*`), and the checkpoint file stores it, so the bytes on disk still hash to the
committed hash by this one rule and loading can refuse a checkpoint of another spec. Two specs that differ
in any field (e.g. only `steps`) therefore never share a state hash, even where their computation is the
same, and one job's disclosed hashes reveal nothing about another's (docs/PROTOCOL.md, "State hashes bind
the spec"). The same layout also hashes things that are not training states, without the entry
(dataset contents; inference weights, inputs and outputs, whose leaves bind the spec hash by prefixing
it: pinpoint/inference.py).

A state with the entry `spec.state_tree` (STATE_TREE_ENTRY: the reproducible profile's) is hashed otherwise: the
positional Merkle root (pinpoint/step_game.py) over one leaf per entry in the same name order, keccak256(the entry's
header above || the element root of its bytes read as float32 words, pinpoint/tensor_merkle.py). One entry, or one
element of one entry, can then be proven against the state hash on chain (contracts/OperatorGame.sol).

    from worker.engine.state import state_hash
    digest = state_hash({"model.weight": w, "cursor.step": torch.tensor(3)})  # 32 bytes
"""

from __future__ import annotations

import hashlib
import math
import sys
from functools import lru_cache

import torch

from pinpoint.tensors import STATE_TREE_ENTRY, entry_leaf, spec_hash_bytes, state_tree_root
from pinpoint.tensors import entry_header as encode_entry_header

_NO_NUMPY = {torch.bfloat16: torch.int16, torch.float8_e4m3fn: torch.uint8, torch.float8_e5m2: torch.uint8}
"""Dtypes numpy lacks, hashed through a same-size integer view of the same bytes."""


def dtype_name(dtype: torch.dtype) -> str:
    """'float32' for torch.float32, and so on."""
    return str(dtype).removeprefix("torch.")


def tensor_bytes(t: torch.Tensor) -> memoryview:
    """Zero-copy byte view of a tensor's elements (copies only if it is on an accelerator or non-contiguous)."""
    t = t.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    t = t.contiguous().resolve_conj().resolve_neg()
    if t.dtype in _NO_NUMPY:
        t = t.view(_NO_NUMPY[t.dtype])  # numpy lacks these dtypes
    arr = t.numpy()
    return memoryview(arr.reshape(-1).view("u1"))


def hashable_view(t: torch.Tensor):
    """A C-contiguous buffer over the tensor's bytes: the tensor's own numpy view when it is a plain dense
    contiguous CPU tensor (the common case, no copy), else `tensor_bytes`. Same bytes either way."""
    try:
        arr = t.numpy()  # raises for accelerator tensors, requires_grad, conj/neg bits, dtypes numpy lacks
    except (RuntimeError, TypeError):
        return tensor_bytes(t)
    return arr if arr.flags.c_contiguous else tensor_bytes(t)


@lru_cache(maxsize=8192)
def _header(name: str, dtype: torch.dtype, shape: tuple[int, ...] | torch.Size) -> bytes:
    return encode_entry_header(name, dtype_name(dtype), tuple(shape), dtype.itemsize * math.prod(shape))


def entry_header(name: str, t: torch.Tensor) -> bytes:
    """The bytes hashed before the tensor's data: name, dtype, shape and byte count (see module docstring)."""
    return _header(name, t.dtype, t.shape)


SPEC_ENTRY = "spec.hash"
"""The state entry that binds a training state to its job's spec: uint8, shape (32,), the spec hash."""


def spec_entry(spec_hash: str | bytes) -> torch.Tensor:
    """The `spec.hash` tensor of a spec hash (a fresh uint8 tensor of shape (32,))."""
    return torch.frombuffer(bytearray(spec_hash_bytes(spec_hash)), dtype=torch.uint8).clone()


def embedded_spec_hash(tensors: dict[str, torch.Tensor]) -> str | None:
    """The spec hash ('0x' + hex) a state's `spec.hash` entry holds; None if it has no well-formed one."""
    t = tensors.get(SPEC_ENTRY)
    if t is None or t.dtype != torch.uint8 or tuple(t.shape) != (32,):
        return None
    return "0x" + bytes(tensor_bytes(t)).hex()


def state_hash(tensors: dict[str, torch.Tensor]) -> bytes:
    """sha256 (32 bytes) of the canonical encoding described in this module's docstring."""
    if sys.byteorder != "little":
        raise RuntimeError("state_hash needs a little-endian host (the canonical layout is little-endian)")
    if STATE_TREE_ENTRY in tensors:  # the reproducible profile's: a Merkle tree of the entries
        return state_tree_root([entry_leaf(_header(name, t.dtype, t.shape), tensor_bytes(t))
                                for name, t in sorted(tensors.items())])
    h = hashlib.sha256()
    update = h.update
    for name in sorted(tensors):  # hashable_view and entry_header inlined: ~2 us per entry in all
        t = tensors[name]
        update(_header(name, t.dtype, t.shape))  # torch.Size hashes and compares as a tuple
        try:
            data = t.numpy()
        except (RuntimeError, TypeError):
            data = tensor_bytes(t)
        else:
            if not data.flags.c_contiguous:
                data = tensor_bytes(t)
        update(data)
    return h.digest()
