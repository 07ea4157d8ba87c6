"""The CUDA execution profile, on a GPU host: the same spec gives the same bits run to run, a replay from any
checkpoint matches, the GPU's RNG state is part of the state, and a fine-tuning job runs there too.

Skipped where torch sees no GPU (this project's CI is CPU-only): a GPU host runs `make test-gpu` (or these
tests with its CUDA build of torch). Nothing here is faked on a CPU."""

import hashlib

import pytest
import torch

from pinpoint.spec import example_gpt_spec, example_mlp_spec
from worker.engine.artifacts import set_artifact_source
from worker.engine.checkpoint import save_checkpoint
from worker.engine.replay import replay_interval

from .conftest import run_job

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="needs a CUDA GPU and a CUDA build of torch (run `make test-gpu` on a GPU host)")
CUDA = {"device": "cuda", "torch_version": torch.__version__}


@pytest.mark.parametrize("example", [example_mlp_spec, example_gpt_spec], ids=["mlp", "gpt"])
def test_cudaProfile_isBitwiseReproducible_andReplays(example):
    spec = example(profile=CUDA)
    first, second = run_job(spec), run_job(spec)
    assert [c.state_hash for c in first.checkpoints] == [c.state_hash for c in second.checkpoints]
    assert "rng.cuda" in first.checkpoints[0].tensors
    for start, end in zip(first.checkpoints, first.checkpoints[1:]):
        assert replay_interval(spec, start).state_hash == end.state_hash


def test_cudaProfile_differsFromTheCpuProfile_inItsSpecHash():
    assert example_mlp_spec(profile=CUDA).spec_hash() != example_mlp_spec().spec_hash()


def test_fineTuning_onCuda_keepsFrozenWeights():
    pretrained = run_job(example_mlp_spec(profile=CUDA, steps=8)).checkpoints[-1]
    blob = save_checkpoint(pretrained)
    set_artifact_source(lambda digest: blob)
    try:
        run = run_job(example_mlp_spec(profile=CUDA, init={"sha256": hashlib.sha256(blob).hexdigest()},
                                       trainable=["net.4.*"]))
    finally:
        set_artifact_source(None)
    end = run.checkpoints[-1].tensors
    assert torch.equal(end["model.net.0.weight"], pretrained.tensors["model.net.0.weight"])
    assert not torch.equal(end["model.net.4.weight"], pretrained.tensors["model.net.4.weight"])
