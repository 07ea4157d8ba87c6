"""Fine-tuning: a job starts from a weights artifact (a previous job's final checkpoint, or plain weights) and
trains only the parameters its spec names; the rest stay exactly as loaded, take no optimizer state, and
everything replays bit for bit without fetching the weights again."""

import hashlib

import pytest
import torch

from pinpoint.resources import check_resources, estimate_resources
from pinpoint.spec import SpecError, example_gpt_spec, example_mlp_spec
from pinpoint.tensors import safetensors_file
from worker.engine.artifacts import ArtifactHashMismatch, set_artifact_source
from worker.engine.checkpoint import save_checkpoint
from worker.engine.replay import replay_interval
from worker.engine.training import InitialWeightsInvalid, Trainer

from .conftest import run_job

HEAD = "net.4.*"  # the MLP's output layer (net.0 and net.2 are its hidden layers)


class Store:
    """Artifacts by content hash, counting fetches (the worker's source is the coordinator's download)."""

    def __init__(self):
        self.blobs, self.fetches = {}, 0

    def put(self, blob: bytes) -> str:
        digest = hashlib.sha256(blob).hexdigest()
        self.blobs["0x" + digest] = blob
        return digest

    def fetch(self, digest: str) -> bytes:
        self.fetches += 1
        return self.blobs[digest]


@pytest.fixture
def store():
    store = Store()
    set_artifact_source(store.fetch)
    yield store
    set_artifact_source(None)


@pytest.fixture(scope="module")
def pretrained():
    """A finished job's final checkpoint: the starting point of the fine-tuning jobs below."""
    return run_job(example_mlp_spec(steps=16, checkpoint_interval=8)).checkpoints[-1]


def model_tensors(checkpoint) -> dict[str, torch.Tensor]:
    return {name: t for name, t in checkpoint.tensors.items() if name.startswith("model.")}


def test_fineTuning_fromAFinalCheckpoint_trainsOnlyWhatTheSpecNames(store, pretrained):
    spec = example_mlp_spec(seed=99, init={"sha256": store.put(save_checkpoint(pretrained))}, trainable=[HEAD])
    run = run_job(spec)
    start, end = model_tensors(run.checkpoints[0]), model_tensors(run.checkpoints[-1])
    loaded = model_tensors(pretrained)
    # Checkpoint 0 holds the loaded weights, not the seed's draw.
    assert all(torch.equal(start[name], loaded[name]) for name in loaded)
    for name in loaded:
        frozen = not name.startswith("model.net.4.")
        assert torch.equal(end[name], loaded[name]) == frozen, name
    # Optimizer state only for the head's weight and bias (AdamW: step, exp_avg, exp_avg_sq each).
    optimizer_entries = sorted(name for name in run.checkpoints[-1].tensors if name.startswith("optim."))
    assert optimizer_entries == sorted(f"optim.{i}.{key}" for i in (0, 1) for key in ("exp_avg", "exp_avg_sq", "step"))
    assert run.checkpoints[-1].tensors["optim.0.exp_avg"].shape == loaded["model.net.4.weight"].shape
    # Fine-tuned from the same weights with the same spec: the same bits (and another spec hash than from scratch).
    assert [c.state_hash for c in run_job(spec).checkpoints] == [c.state_hash for c in run.checkpoints]
    assert spec.spec_hash() != example_mlp_spec(seed=99).spec_hash()


def test_replay_ofAFineTuningJob_matches_withoutFetchingTheWeights(store, pretrained):
    spec = example_mlp_spec(init={"sha256": store.put(save_checkpoint(pretrained))}, trainable=["net.2.*", HEAD])
    run = run_job(spec)
    assert store.fetches == 1  # once, before the first step
    set_artifact_source(None)  # a verifier replaying from a checkpoint never needs the starting weights
    for start, end in zip(run.checkpoints, run.checkpoints[1:]):
        assert replay_interval(spec, start).state_hash == end.state_hash


def test_plainWeights_trainEveryParameter_whenTrainableIsAbsent(store, pretrained):
    """Weights made by `pinpoint-job weights` (model.* entries only) start a job that trains everything."""
    weights = {name: t for name, t in pretrained.tensors.items() if name.startswith("model.")}
    blob = safetensors_file([(name, "float32", tuple(t.shape), t.numpy().tobytes()) for name, t in sorted(weights.items())])
    run = run_job(example_mlp_spec(init={"sha256": store.put(blob)}))
    assert all(not torch.equal(model_tensors(run.checkpoints[-1])[name], t) for name, t in weights.items())
    assert len([name for name in run.checkpoints[-1].tensors if name.startswith("optim.")]) == 3 * len(weights)


def test_weightsThatDoNotFitTheModel_areRefused_beforeAnyStep(store, pretrained):
    wider = example_mlp_spec(model={"hidden_dim": 65}, init={"sha256": store.put(save_checkpoint(pretrained))})
    with pytest.raises(InitialWeightsInvalid, match=r"model.net.0.weight is float32 \[64, 16\]; model 'mlp' needs float32 \[65, 16\]"):
        Trainer(wider).train_until(1)
    partial = safetensors_file([("model.net.0.weight", "float32", (64, 16), bytes(4 * 64 * 16))])
    with pytest.raises(InitialWeightsInvalid, match="lack 5 parameter"):
        Trainer(example_mlp_spec(init={"sha256": store.put(partial)})).initial_checkpoint()
    store.blobs["0x" + "ab" * 32] = save_checkpoint(pretrained)  # bytes that are not what the hash names
    with pytest.raises(ArtifactHashMismatch, match="refusing"):
        Trainer(example_mlp_spec(init={"sha256": "ab" * 32})).initial_checkpoint()


def test_spec_trainable_mustNameParameters_andShrinksTheCheckpoint():
    with pytest.raises(SpecError, match=r"trainable: 'blocks\.9\.\*' matches no parameter of model 'mlp'"):
        example_mlp_spec(trainable=["blocks.9.*"])
    with pytest.raises(SpecError, match="trainable"):
        example_mlp_spec(trainable=["net.0.weight; rm -rf"])  # globs over names, nothing else
    gpt = example_gpt_spec(model={"layers": 4})
    head_only = example_gpt_spec(model={"layers": 4}, trainable=["blocks.3.*", "ln_f.*"])
    full, tuned = estimate_resources(gpt), estimate_resources(head_only)
    assert tuned.parameters == full.parameters
    assert tuned.checkpoint_bytes < 0.5 * full.checkpoint_bytes  # AdamW moments for one block of four
    check_resources(head_only)
    # Absent sections leave the canonical form (and so every earlier spec's hash) unchanged.
    assert b"init" not in gpt.canonical_json() and b"trainable" not in gpt.canonical_json()
    assert b'"trainable":["blocks.3.*","ln_f.*"]' in head_only.canonical_json()
