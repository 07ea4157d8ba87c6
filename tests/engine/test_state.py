"""The canonical state hash: documented byte layout, order independence, speed.

Run: .venv/bin/python -m pytest -p no:ape_test tests/engine/test_state.py
"""

import hashlib
import struct
import time

import torch

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


def test_hashing_is_about_as_fast_as_plain_sha256():
    tensors = {f"model.layer{i}": torch.randn(1_000_000) for i in range(8)}  # 32 MB
    buffer = b"".join(t.numpy().tobytes() for t in tensors.values())

    def best(fn):
        times = []
        for _ in range(3):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    plain = best(lambda: hashlib.sha256(buffer).digest())
    ours = best(lambda: state_hash(tensors))
    assert ours < 1.5 * plain + 0.005, f"state_hash {ours:.4f}s vs sha256 {plain:.4f}s"
