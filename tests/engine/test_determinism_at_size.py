"""Determinism at size: the replay guarantees, recomputed on models of a few million parameters (a 4.8M
GPT, a 1.6M CNN), not only on the tiny examples: two full runs agree hash for hash, a replayed interval (in
this process and in a fresh one, as a verifier runs it) and a mid-interval replay land on the same state.

Run: .venv/bin/python -m pytest -p no:ape_test tests/engine/test_determinism_at_size.py
"""

import subprocess
import sys
from pathlib import Path

import pytest

from pinpoint.datasets import content_hash
from pinpoint.resources import model_parameters
from pinpoint.spec import (
    GaussianBlobsSpec,
    example_cnn_spec,
    example_gpt_spec,
)
from worker.engine.checkpoint import save_checkpoint
from worker.engine.replay import replay_interval, replay_to_step
from worker.engine.training import Trainer

from .conftest import run_job

REPO = Path(__file__).resolve().parents[2]

IMAGES = {"name": "gaussian_blobs", "samples": 512, "features": 3 * 16 * 16, "classes": 10, "seed": 5}


def gpt_spec():
    """4,820,992 parameters: 6 blocks of width 256 over a 256-token vocabulary (the corpus uses 60)."""
    return example_gpt_spec(model={"vocab_size": 256, "context": 64, "embed_dim": 256, "heads": 4, "layers": 6},
                            steps=6, checkpoint_interval=2, batch_size=4, seed=9)


def cnn_spec():
    """1,556,106 parameters: 3 x 16 x 16 synthetic images (gaussian_blobs, hash recomputed), four blocks."""
    sha256 = content_hash(GaussianBlobsSpec(**IMAGES, sha256="0" * 64))
    return example_cnn_spec(model={"channels": 3, "height": 16, "width": 16, "widths": [64, 128, 256, 512],
                                   "num_classes": 10},
                            dataset=IMAGES | {"sha256": sha256}, steps=6, checkpoint_interval=2, batch_size=16)


@pytest.fixture(scope="module", params=["gpt", "cnn"])
def big_run(request):
    spec = {"gpt": gpt_spec, "cnn": cnn_spec}[request.param]()
    assert model_parameters(spec.model) > 1_500_000
    return run_job(spec)


def test_sizes_are_what_the_docstrings_say():
    assert model_parameters(gpt_spec().model) == 4_820_992
    assert model_parameters(cnn_spec().model) == 1_556_106


def test_two_full_runs_agree_at_size(big_run):
    assert Trainer(big_run.spec).run() == [c.state_hash for c in big_run.checkpoints]
    assert len({c.state_hash for c in big_run.checkpoints}) == len(big_run.checkpoints)


def test_replayed_intervals_match_at_size(big_run):
    spec, checkpoints = big_run.spec, big_run.checkpoints
    for k in (0, len(checkpoints) - 2):
        assert replay_interval(spec, checkpoints[k]).state_hash == checkpoints[k + 1].state_hash
    trainer = Trainer(spec)  # mid-interval, as dispute bisection needs
    trainer.train_until(spec.checkpoint_interval + 1)
    assert replay_to_step(spec, checkpoints[1], spec.checkpoint_interval + 1).state_hash == trainer.snapshot().state_hash


def test_replay_in_a_fresh_process_at_size(big_run, tmp_path):
    spec_path, start_path = tmp_path / "spec.json", tmp_path / "start.safetensors"
    spec_path.write_bytes(big_run.spec.canonical_json())
    start_path.write_bytes(save_checkpoint(big_run.checkpoints[1]))
    out = subprocess.run([sys.executable, "-m", "worker.engine.replay", str(spec_path), str(start_path)],
                         cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == big_run.checkpoints[2].state_hash_hex
