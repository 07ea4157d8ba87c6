"""The canonical state hash: documented byte layout, order independence, equal across code paths.

Run: .venv/bin/python -m pytest -p no:ape_test tests/engine/test_state.py
"""

import hashlib
import struct

import torch

from bench.hashing import canonical_buffer, digest_list_hash, realistic_state, run
from worker.engine.state import state_hash


def u64(n: int) -> bytes:
    return struct.pack("<Q", n)


def test_layout_matches_the_docstring():
    w = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    s = torch.tensor(7, dtype=torch.int64)
    expected = hashlib.sha256(
        u64(11) + b"cursor.step" + u64(5) + b"int64" + u64(0) + u64(8) + (7).to_bytes(8, "little")
        + u64(7) + b"model.w" + u64(7) + b"float32" + u64(2) + u64(2) + u64(3) + u64(24)
        + struct.pack("<6f", 0, 1, 2, 3, 4, 5)
    ).digest()
    assert state_hash({"model.w": w, "cursor.step": s}) == expected


def test_insertion_order_and_memory_layout_do_not_matter():
    a, b = torch.randn(3, 4), torch.randn(5)
    assert state_hash({"a": a, "b": b}) == state_hash({"b": b, "a": a})
    t = torch.randn(4, 3)
    assert state_hash({"t": t.t()}) == state_hash({"t": t.t().contiguous()})


def test_name_dtype_shape_and_value_all_matter():
    t = torch.zeros(2, 3)
    base = state_hash({"x": t})
    assert base != state_hash({"y": t})
    assert base != state_hash({"x": t.double()})
    assert base != state_hash({"x": t.reshape(3, 2)})
    assert base != state_hash({"x": t.reshape(6)})
    t2 = t.clone()
    t2[1, 2] = -0.0  # a single sign bit
    assert base != state_hash({"x": t2})


def test_state_hash_is_sha256_of_the_canonical_buffer():
    """What `python -m bench.hashing` times (no timed assertion here: machines are noisy)."""
    tensors = realistic_state(megabytes=2)
    assert len(tensors) > 100
    assert hashlib.sha256(canonical_buffer(tensors)).digest() == state_hash(tensors)


def reference_state_hash(tensors):
    """The docstring layout, written out independently and slowly (tobytes copies)."""
    out = b""
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous().resolve_conj().resolve_neg()
        raw = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()
        dtype = str(t.dtype).removeprefix("torch.").encode()
        out += u64(len(name.encode())) + name.encode() + u64(len(dtype)) + dtype + u64(t.dim())
        out += b"".join(u64(d) for d in t.shape) + u64(len(raw)) + raw
    return hashlib.sha256(out).digest()


def test_fast_and_fallback_paths_hash_the_same_bytes():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(4, 6, generator=g)
    odd = {
        "transposed": x.t(), "sliced": x[1:3], "strided": x[:, ::2], "bf16": x.bfloat16(),
        "requires_grad": x.clone().requires_grad_(), "conj": torch.randn(3, generator=g, dtype=torch.complex64).conj(),
        "empty": torch.zeros(0, 3), "scalar": torch.tensor(2, dtype=torch.int64), "ü.name": x[0],
        "bool": x > 0, "u8": torch.randint(0, 255, (7,), dtype=torch.uint8, generator=g),
    }
    for name, t in odd.items():
        assert state_hash({name: t}) == reference_state_hash({name: t}), name
        assert state_hash({name: t}) == state_hash({name: t.detach().clone().contiguous().resolve_conj()}), name
    assert state_hash(odd) == reference_state_hash(odd)


def test_real_checkpoints_match_the_reference(job_run):
    for checkpoint in job_run.checkpoints[:3]:
        assert checkpoint.state_hash == reference_state_hash(checkpoint.tensors)


def test_candidate_digest_list_hash_does_not_depend_on_threads():
    tensors = realistic_state(megabytes=1)
    assert digest_list_hash(tensors, 1) == digest_list_hash(tensors, 2) == digest_list_hash(tensors, 3)
    assert digest_list_hash(tensors, 1) != state_hash(tensors)  # a different definition, not adopted


def test_hashing_benchmark_runs():
    result = run(megabytes=1, repeats=1)
    assert set(result["megabytes_per_second"]) == {"plain_sha256_one_buffer", "state_hash", "digest_list_1_thread",
                                                   "digest_list_2_threads"}
    assert result["state_hash_vs_plain_sha256"] > 0
