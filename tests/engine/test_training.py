"""Determinism proven by recomputation: full reruns, replay in a separate process, profile pinning.

Run: .venv/bin/python -m pytest -p no:ape_test tests/engine/test_training.py
"""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pinpoint.merkle import CHECKPOINT_LEAF_TYPES, StandardMerkleTree, checkpoint_tree
from pinpoint.spec import example_mlp_spec, example_transformer_spec, parse_spec
from worker.engine.checkpoint import save_checkpoint
from worker.engine.replay import replay_interval, replay_to_step
from worker.engine.state import SPEC_ENTRY, state_hash
from worker.engine.training import ProfileMismatch, Trainer

REPO = Path(__file__).resolve().parents[2]


def test_run_emits_checkpoints_zero_to_n(job_run):
    spec = job_run.spec
    assert [c.index for c in job_run.checkpoints] == list(range(spec.checkpoint_count + 1))
    assert [c.step for c in job_run.checkpoints] == [i * spec.checkpoint_interval for i in range(len(job_run.checkpoints))]
    assert job_run.losses[0] is None and all(loss > 0 for loss in job_run.losses[1:])
    assert len({c.state_hash for c in job_run.checkpoints}) == len(job_run.checkpoints)


def test_two_full_runs_give_identical_hashes(job_run):
    again = Trainer(job_run.spec).run()
    assert again == [c.state_hash for c in job_run.checkpoints]


def test_replay_of_every_interval_matches(mlp_run):
    for k, start in enumerate(mlp_run.checkpoints[:-1]):
        assert replay_interval(mlp_run.spec, start).state_hash == mlp_run.checkpoints[k + 1].state_hash


def test_replay_in_a_separate_process_is_bit_identical(job_run, tmp_path):
    k = 1
    spec_path, start_path, end_path = tmp_path / "spec.json", tmp_path / "start.safetensors", tmp_path / "end"
    spec_path.write_bytes(job_run.spec.canonical_json())
    start_path.write_bytes(save_checkpoint(job_run.checkpoints[k]))
    out = subprocess.run(
        [sys.executable, "-m", "worker.engine.replay", str(spec_path), str(start_path), "--out", str(end_path)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == job_run.checkpoints[k + 1].state_hash_hex
    # The verifier's check against the committed root: the replayed hash proves as leaf k+1.
    spec, hashes = job_run.spec, [c.state_hash for c in job_run.checkpoints]
    tree = checkpoint_tree(7, hashes, spec.checkpoint_interval)
    leaf = (7, k + 1, (k + 1) * spec.checkpoint_interval, out.stdout.strip())
    assert StandardMerkleTree.verify(tree.root, CHECKPOINT_LEAF_TYPES, leaf, tree.get_proof(k + 1))


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_jobs_replay_too(momentum):
    sgd = {"name": "sgd", "lr": 0.05, "momentum": momentum}
    spec = parse_spec(example_mlp_spec(steps=16).model_dump(mode="json") | {"optimizer": sgd})
    checkpoints = []
    Trainer(spec).run(on_checkpoint=lambda c, loss: checkpoints.append(c))
    assert replay_interval(spec, checkpoints[1]).state_hash == checkpoints[2].state_hash


def test_mid_interval_replay_matches_straight_training(mlp_run):
    """Dispute bisection needs the state at any step inside an interval."""
    spec = mlp_run.spec
    trainer = Trainer(spec)
    trainer.train_until(spec.checkpoint_interval + 3)
    assert trainer.snapshot().index is None
    mid = replay_to_step(spec, mlp_run.checkpoints[1], spec.checkpoint_interval + 3)
    assert mid.state_hash == trainer.snapshot().state_hash


def test_restore_leaves_the_checkpoint_unchanged(mlp_run):
    start = mlp_run.checkpoints[2]
    before = {k: v.clone() for k, v in start.tensors.items()}
    replay_interval(mlp_run.spec, start)
    assert all(torch.equal(before[k], v) for k, v in start.tensors.items())


def test_different_seed_gives_different_hashes(mlp_run):
    other = Trainer(example_mlp_spec(seed=mlp_run.spec.seed + 1)).run()
    assert not set(other) & {c.state_hash for c in mlp_run.checkpoints}


def test_different_thread_count_gives_different_hashes(transformer_run):
    """CPU float reductions depend on the thread count, which is why the profile pins it. (The state
    hashes differ anyway, the spec being another: compare the computed state, without `spec.hash`.)"""
    two = []
    Trainer(example_transformer_spec(profile={"threads": 2}, steps=4)).run(lambda c, loss: two.append(c))

    def computed(checkpoint):
        return state_hash({k: v for k, v in checkpoint.tensors.items() if k != SPEC_ENTRY})

    assert two[0].state_hash != transformer_run.checkpoints[0].state_hash  # another spec: another hash
    assert computed(two[0]) == computed(transformer_run.checkpoints[0])  # same init: no reduction involved yet
    assert computed(two[1]) != computed(transformer_run.checkpoints[1])


def test_checkpoint_capture_can_be_turned_off(mlp_run):
    trainer = Trainer(mlp_run.spec, capture_checkpoints=False)
    calls = []
    assert trainer.run(on_checkpoint=lambda c, loss: calls.append(c)) == [] and calls == []
    assert trainer.interval_losses == mlp_run.losses[1:]


def test_wrong_torch_version_is_refused():
    with pytest.raises(ProfileMismatch, match="torch 2.12.0"):
        Trainer(example_mlp_spec(profile={"torch_version": "2.12.0"}))


@pytest.mark.skipif(torch.cuda.is_available(), reason="this host has CUDA")
def test_unavailable_device_is_refused():
    with pytest.raises(ProfileMismatch, match="cuda"):
        Trainer(example_mlp_spec(profile={"device": "cuda"}))


def test_replay_refuses_a_checkpoint_of_another_spec(mlp_run):
    with pytest.raises(ValueError, match="not of this job's spec"):  # CheckpointSpecMismatch
        replay_interval(example_mlp_spec(seed=99), mlp_run.checkpoints[1])
