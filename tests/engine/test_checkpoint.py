"""Checkpoint serialization: safetensors round trip, tamper rejection, no pickle.

Run: .venv/bin/python -m pytest -p no:ape_test tests/engine/test_checkpoint.py
"""

import pickle
import re
from pathlib import Path

import pytest
import torch

from worker.engine.checkpoint import (
    CheckpointFormatError,
    CheckpointHashMismatch,
    load_checkpoint,
    read_metadata,
    save_checkpoint,
)
from worker.engine.replay import replay_interval

REPO = Path(__file__).resolve().parents[2]


def test_round_trip_keeps_the_state_hash(job_run):
    checkpoint = job_run.checkpoints[2]
    blob = save_checkpoint(checkpoint)
    loaded = load_checkpoint(blob, expected_state_hash=checkpoint.state_hash_hex)
    assert (loaded.index, loaded.step, loaded.state_hash) == (2, 2 * job_run.spec.checkpoint_interval,
                                                              checkpoint.state_hash)
    assert loaded.spec_hash == job_run.spec.spec_hash()
    assert loaded.tensors.keys() == checkpoint.tensors.keys()
    assert all(torch.equal(loaded.tensors[k], v) for k, v in checkpoint.tensors.items())
    metadata = read_metadata(blob)
    assert metadata["state_hash"] == checkpoint.state_hash_hex and metadata["step"] == str(checkpoint.step)


def test_checkpoint_holds_model_optimizer_rng_and_cursor(mlp_run):
    names = mlp_run.checkpoints[1].tensors.keys()
    assert {"rng.cpu", "cursor.step", "model.net.0.weight", "optim.0.exp_avg", "optim.0.step"} <= set(names)
    assert not any(n.startswith("optim.") for n in mlp_run.checkpoints[0].tensors)  # fresh optimizer


def test_tampered_tensor_bytes_are_rejected(mlp_run):
    blob = bytearray(save_checkpoint(mlp_run.checkpoints[3]))
    blob[-100] ^= 0x01  # one bit of tensor data
    with pytest.raises(CheckpointHashMismatch):
        load_checkpoint(bytes(blob))


def test_tampered_metadata_hash_is_rejected(mlp_run):
    checkpoint = mlp_run.checkpoints[3]
    blob = save_checkpoint(checkpoint)
    other = mlp_run.checkpoints[4].state_hash_hex
    forged = blob.replace(checkpoint.state_hash_hex.encode(), other.encode())
    with pytest.raises(CheckpointHashMismatch):
        load_checkpoint(forged)


def test_unexpected_hash_is_rejected(mlp_run):
    blob = save_checkpoint(mlp_run.checkpoints[3])
    with pytest.raises(CheckpointHashMismatch, match="expected"):
        load_checkpoint(blob, expected_state_hash=mlp_run.checkpoints[4].state_hash)


def test_garbage_is_rejected():
    for blob in (b"", b"\x05\x00\x00\x00\x00\x00\x00\x00{bad}", pickle.dumps({"a": 1})):
        with pytest.raises(CheckpointFormatError):
            load_checkpoint(blob)


def test_no_pickle_anywhere(mlp_run, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("pickle / torch.load used")

    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(torch, "save", forbidden)
    loaded = load_checkpoint(save_checkpoint(mlp_run.checkpoints[1]))
    assert replay_interval(mlp_run.spec, loaded).state_hash == mlp_run.checkpoints[2].state_hash

    pattern = re.compile(r"import pickle|pickle\.|torch\.load\(|torch\.save\(|import marshal")
    sources = [*(REPO / "worker" / "engine").rglob("*.py"), *(REPO / "pinpoint").glob("spec.py"),
               *(REPO / "pinpoint").glob("merkle.py")]
    offenders = [str(p) for p in sources if pattern.search(p.read_text())]
    assert not offenders
