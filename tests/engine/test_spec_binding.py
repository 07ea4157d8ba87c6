"""State hashes bind the spec (docs/PROTOCOL.md): two training specs that differ only in `steps` compute
the same weights for their shared steps, yet share no state hash; one spec recomputed gives the same
hashes; a checkpoint of one spec is refused for another, by the loader, the trainer, the availability
check and the replay CLI.

Run: .venv/bin/python -m pytest -p no:ape_test tests/engine/test_spec_binding.py
"""

import subprocess
import sys

import pytest
import torch

from pinpoint.spec import example_mlp_spec
from worker.availability import stored_state_hash
from worker.engine.checkpoint import (
    CheckpointFormatError,
    CheckpointSpecMismatch,
    load_checkpoint,
    safetensors_bytes,
    save_checkpoint,
)
from worker.engine.replay import replay_to_step
from worker.engine.state import SPEC_ENTRY, embedded_spec_hash, state_hash
from worker.engine.training import Trainer

SHORT, LONG = 16, 24  # steps; checkpoint interval 4: checkpoints 0..4 are shared


def run(spec):
    checkpoints = []
    Trainer(spec).run(on_checkpoint=lambda checkpoint, loss: checkpoints.append(checkpoint))
    return checkpoints


@pytest.fixture(scope="module")
def runs():
    """(short spec, long spec, short checkpoints, long checkpoints): specs differing only in `steps`."""
    short, long = example_mlp_spec(steps=SHORT, checkpoint_interval=4), example_mlp_spec(steps=LONG, checkpoint_interval=4)
    assert short.model_dump(exclude={"steps"}) == long.model_dump(exclude={"steps"})
    assert short.spec_hash() != long.spec_hash()
    return short, long, run(short), run(long)


def test_specs_differing_only_in_steps_share_no_state_hash(runs):
    short, long, a, b = runs
    shared = SHORT // 4 + 1
    for x, y in zip(a, b[:shared], strict=True):
        assert x.step == y.step
        # the same computation: every entry but the spec's identity is bit-identical ...
        assert x.tensors.keys() == y.tensors.keys()
        assert all(torch.equal(x.tensors[k], y.tensors[k]) for k in x.tensors if k != SPEC_ENTRY)
        assert embedded_spec_hash(x.tensors) == short.spec_hash() and embedded_spec_hash(y.tensors) == long.spec_hash()
        # ... and yet the state hashes differ at every shared checkpoint, step 0 (initial weights) included
        assert x.state_hash != y.state_hash
    assert not {c.state_hash for c in a} & {c.state_hash for c in b}


def test_mid_interval_states_differ_too(runs):
    """The states a dispute bisects to (any step) and a referee's one-step result are bound as well."""
    short, long, a, b = runs
    for step in (1, 6, 13):
        start = step // 4
        x, y = replay_to_step(short, a[start], step), replay_to_step(long, b[start], step)
        assert x.index is None and x.step == y.step == step
        assert x.state_hash != y.state_hash
        assert x.state_hash == replay_to_step(short, a[start], step).state_hash  # deterministic


def test_the_same_spec_recomputed_gives_the_same_hashes(runs):
    short, _, a, _ = runs
    assert Trainer(short).run() == [c.state_hash for c in a]


def test_stored_bytes_hash_to_the_committed_hash(runs):
    """One rule on disk and in the leaves: the file stores `spec.hash` like any other entry."""
    short, _, a, _ = runs
    for checkpoint in a:
        blob = save_checkpoint(checkpoint)
        loaded = load_checkpoint(blob, expected_state_hash=checkpoint.state_hash, expected_spec_hash=short.spec_hash())
        assert loaded.spec_hash == short.spec_hash() and state_hash(loaded.tensors) == checkpoint.state_hash
        assert stored_state_hash(short, checkpoint.step, blob) == checkpoint.state_hash


def test_a_checkpoint_of_another_spec_is_refused(runs, tmp_path):
    short, long, a, _ = runs
    blob = save_checkpoint(a[2])
    with pytest.raises(CheckpointSpecMismatch, match=f"state of spec {short.spec_hash()}, not of this job's spec {long.spec_hash()}"):
        load_checkpoint(blob, expected_spec_hash=long.spec_hash())
    with pytest.raises(CheckpointSpecMismatch, match="not of this job's spec"):
        Trainer(long).restore(load_checkpoint(blob))
    assert stored_state_hash(long, a[2].step, blob) is None  # not available as the long job's checkpoint
    assert stored_state_hash(short, a[2].step, blob) == a[2].state_hash
    (tmp_path / "spec.json").write_bytes(long.canonical_json())
    (tmp_path / "ckpt.safetensors").write_bytes(blob)
    cli = subprocess.run([sys.executable, "-m", "worker.engine.replay", str(tmp_path / "spec.json"),
                          str(tmp_path / "ckpt.safetensors")], capture_output=True, text=True, check=False)
    assert cli.returncode != 0 and "CheckpointSpecMismatch" in cli.stderr


def test_a_checkpoint_without_or_with_a_forged_spec_entry_is_refused(runs):
    short, long, a, _ = runs
    checkpoint = a[1]
    metadata = {"format": "pinpoint.checkpoint/1", "spec_hash": short.spec_hash(), "index": "1",
                "step": str(checkpoint.step)}
    bare = {k: v for k, v in checkpoint.tensors.items() if k != SPEC_ENTRY}
    with pytest.raises(CheckpointFormatError, match="no 'spec.hash' entry"):
        load_checkpoint(safetensors_bytes(bare, {**metadata, "state_hash": "0x" + state_hash(bare).hex()}))
    relabelled = {**metadata, "spec_hash": long.spec_hash(), "state_hash": checkpoint.state_hash_hex}
    with pytest.raises(CheckpointFormatError, match="the state holds"):
        load_checkpoint(safetensors_bytes(checkpoint.tensors, relabelled))
