"""The commitment fast paths agree with the reference implementations: safetensors bytes, snapshots,
incremental Merkle roots. (Their speed is measured by `make bench`, never asserted here.)

Run: .venv/bin/python -m pytest -p no:ape_test tests/engine/test_commitments.py
"""

import os

import pytest
import torch
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_save

from pinpoint.merkle import checkpoint_root, checkpoint_tree
from pinpoint.spec import example_mlp_spec
from worker.engine.checkpoint import (
    load_checkpoint,
    read_metadata,
    safetensors_bytes,
    save_checkpoint,
)
from worker.engine.state import state_hash
from worker.engine.training import RECOMMENDED_CHECKPOINT_INTERVAL, Trainer

DTYPES = [torch.bool, torch.uint8, torch.int8, torch.float8_e5m2, torch.float8_e4m3fn, torch.int16, torch.uint16,
          torch.float16, torch.bfloat16, torch.int32, torch.uint32, torch.float32, torch.complex64, torch.float64,
          torch.int64, torch.uint64]


def mixed_tensors():
    g = torch.Generator().manual_seed(3)
    tensors = {f"t{i:02d}.{d}".replace("torch.", ""): (torch.randn(3, 2, generator=g) * 4).to(d)
               for i, d in enumerate(DTYPES)}
    tensors |= {"zz.scalar": torch.tensor(1.5), "aa.empty": torch.zeros(0, 4), "ü.unicode": torch.arange(3)}
    return tensors


def as_bytes(t):
    return t.contiguous().view(torch.uint8) if t.dtype.itemsize == 1 else t  # float8: no torch.equal


def same(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(as_bytes(a), as_bytes(b))


def test_safetensors_bytes_equal_the_reference_writer():
    tensors = mixed_tensors()
    ours = safetensors_bytes(tensors, {"format": "x"})  # one metadata key: the reference's order is then fixed
    assert ours == safetensors_save(tensors, metadata={"format": "x"})
    assert safetensors_bytes(tensors) == safetensors_save(tensors)
    loaded = safetensors_load(ours)
    assert loaded.keys() == tensors.keys() and all(same(loaded[k], tensors[k]) for k in tensors)


def test_non_contiguous_and_unsupported_tensors():
    x = torch.randn(4, 5)
    assert safetensors_bytes({"t": x.t()}) == safetensors_save({"t": x.t().contiguous()})
    with pytest.raises(ValueError, match="dtypes"):
        safetensors_bytes({"c": torch.zeros(2, dtype=torch.complex128)})


def test_checkpoint_bytes_are_deterministic_and_load(mlp_run):
    checkpoint = mlp_run.checkpoints[3]
    blob = save_checkpoint(checkpoint)
    assert blob == save_checkpoint(checkpoint)  # safetensors.save orders metadata keys at random
    assert list(read_metadata(blob)) == sorted(read_metadata(blob))
    assert int.from_bytes(blob[:8], "little") % 8 == 0  # header padded to 8 bytes: aligned tensor data
    loaded = load_checkpoint(blob, expected_state_hash=checkpoint.state_hash)
    assert all(same(loaded.tensors[k], v) for k, v in checkpoint.tensors.items())


def test_snapshot_is_a_contiguous_copy_that_training_does_not_touch():
    trainer = Trainer(example_mlp_spec(steps=16))
    trainer.train_until(8)
    snap = trainer.snapshot()
    live = {f"model.{k}": v for k, v in trainer.model.state_dict().items()}
    for name, t in snap.tensors.items():
        assert t.is_contiguous() and t.device.type == "cpu" and not t.requires_grad
        if name in live:
            assert t.untyped_storage().data_ptr() != live[name].untyped_storage().data_ptr()
    before = {k: v.clone() for k, v in snap.tensors.items()}
    trainer.train_until(16)
    assert all(torch.equal(before[k], v) for k, v in snap.tensors.items())
    assert state_hash(snap.tensors) == snap.state_hash


@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 33])
def test_incremental_checkpoint_root_equals_the_tree(n):
    hashes = [os.urandom(32) for _ in range(n)]
    cache: list[bytes] = []
    for k in range(1, n + 1):
        assert checkpoint_root(9, hashes[:k], 64, cache) == checkpoint_tree(9, hashes[:k], 64).root
    assert len(cache) == n
    hex_hashes = ["0x" + h.hex() for h in hashes]
    assert checkpoint_root(2**200, hex_hashes, 3) == checkpoint_tree(2**200, hashes, 3).root


def test_checkpoint_root_rejects_bad_input():
    with pytest.raises(ValueError):
        checkpoint_root(1, [], 64)
    with pytest.raises(ValueError):
        checkpoint_root(1, [b"\x00" * 32], 0)
    with pytest.raises(ValueError):
        checkpoint_root(1, [b"\x00" * 31], 64)
    with pytest.raises(ValueError):
        checkpoint_root(1, [b"\x00" * 32], 64, [b"a" * 32, b"b" * 32])


def test_recommended_interval_divides_the_benchmark_jobs():
    assert RECOMMENDED_CHECKPOINT_INTERVAL == 64
    assert 2048 % RECOMMENDED_CHECKPOINT_INTERVAL == 0 and 768 % RECOMMENDED_CHECKPOINT_INTERVAL == 0
