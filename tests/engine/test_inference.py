"""Deterministic inference (worker/engine/inference.py): every leaf recomputes to the same hash, alone, in
any order and in another process; a training job's final checkpoint is a model; bad artifacts are refused."""

import hashlib
import pickle
import subprocess
import sys

import pytest
import torch
from safetensors.torch import save as st_save

from pinpoint import inference as inf
from pinpoint import tensors as ts
from pinpoint.spec import example_inference_spec, example_mlp_spec
from tests.engine.conftest import run_job
from worker.cheats import Cheat, make_trainer
from worker.engine.checkpoint import save_checkpoint
from worker.engine.inference import InferenceEngine, InferenceInputError

COUNT = 6


def sha(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


@pytest.fixture(scope="module")
def artifacts():
    """(spec, weights, inputs): the example MLP job's final checkpoint run on six inputs."""
    final = run_job(example_mlp_spec()).checkpoints[-1]
    weights = save_checkpoint(final)
    gen = torch.Generator().manual_seed(5)
    inputs = inf.inputs_artifact(ts.float32_tensor(torch.randn(COUNT, 16, generator=gen).tolist()))
    return example_inference_spec(sha(weights), sha(inputs), COUNT), weights, inputs, final


def engine(artifacts, cheat=None):
    spec, weights, inputs, _ = artifacts
    return make_trainer(spec, cheat).load(weights, inputs)


def test_leaf0_isTheTrainingJobsFinalStateHash_boundToTheSpec(artifacts):
    spec, *_ = artifacts
    assert engine(artifacts).model_state_hash == artifacts[3].state_hash
    assert engine(artifacts).leaf_state_hash(0) == inf.model_leaf_hash(spec.spec_hash(), artifacts[3].state_hash)


def test_specsDifferingOnlyInTheInputsCount_shareNoLeaf(artifacts):
    """The same model on the same first rows: without the spec in the leaves, leaves 0..COUNT-1 of the
    shorter job would be those of the longer one, disclosed when that one is audited or disputed."""
    spec, weights, inputs, _ = artifacts
    rows = inf.read_inputs(inputs, COUNT)
    fewer = inf.inputs_artifact(ts.RawTensor(rows.dtype, (COUNT - 1, *rows.shape[1:]),
                                             bytes(rows.data[:(COUNT - 1) * len(rows.row(0).data)])))
    short_spec = example_inference_spec("0x" + spec.weights.sha256, sha(fewer), COUNT - 1)
    assert short_spec.model_dump(exclude={"inputs"}) == spec.model_dump(exclude={"inputs"})
    long_engine, short_engine = engine(artifacts), InferenceEngine(short_spec).load(weights, fewer)
    for k in range(1, COUNT):  # the same computation: the same input and output bytes
        assert torch.equal(short_engine.output(k - 1), long_engine.output(k - 1))
    long_leaves = {long_engine.leaf_state_hash(k) for k in range(COUNT + 1)}
    short_leaves = {short_engine.leaf_state_hash(k) for k in range(COUNT)}
    assert not long_leaves & short_leaves


def test_everyLeaf_recomputesIdentically_aloneAndInAnyOrder(artifacts):
    forward = [engine(artifacts).leaf_state_hash(k) for k in range(COUNT + 1)]
    backward = engine(artifacts)
    assert [backward.leaf_state_hash(k) for k in reversed(range(COUNT + 1))] == forward[::-1]
    assert len(set(forward)) == COUNT + 1  # distinct inputs, distinct leaves: the hashes carry information
    for k in (1, COUNT):  # one leaf, recomputed by a fresh engine, is the same as in the full run
        assert engine(artifacts).leaf_state_hash(k) == forward[k]


def test_leafHash_isTheHashOfTheOutputArtifactsContent(artifacts):
    e = engine(artifacts)
    row, out = e.record(2)
    spec = artifacts[0].spec_hash()
    record = inf.read_output_artifact(inf.output_artifact(spec, 2, row, out), spec)
    assert record.state_hash == e.leaf_state_hash(3)
    assert torch.equal(torch.tensor(record.output.values()), e.output(2))  # batch of one = the same bytes


def test_anotherProcess_computesTheSameLeaves(artifacts, tmp_path):
    spec, weights, inputs, _ = artifacts
    (tmp_path / "spec.json").write_bytes(spec.canonical_json())
    (tmp_path / "w.safetensors").write_bytes(weights)
    (tmp_path / "i.safetensors").write_bytes(inputs)
    out = subprocess.run([sys.executable, "-m", "worker.engine.inference", *(str(tmp_path / f) for f in
                          ("spec.json", "w.safetensors", "i.safetensors"))], check=True, capture_output=True, text=True).stdout
    ours = engine(artifacts)
    assert out.split("\n")[:-1] == [f"{k} 0x{ours.leaf_state_hash(k).hex()}" for k in range(COUNT + 1)]


def test_cheatingEngine_changesOnlyItsInput(artifacts):
    honest, cheat = engine(artifacts), engine(artifacts, Cheat("perturb_output", 3))
    changed = [k for k in range(COUNT + 1) if honest.leaf_state_hash(k) != cheat.leaf_state_hash(k)]
    assert changed == [4]  # input 3 is leaf 4


def test_badArtifacts_areRefused_sayingWhy(artifacts):
    spec, weights, inputs, _ = artifacts

    def load(spec_=spec, weights_=weights, inputs_=inputs):
        return InferenceEngine(spec_).load(weights_, inputs_)

    def spec_for(w, i, count=COUNT):
        return example_inference_spec(sha(w), sha(i), count)

    with pytest.raises(InferenceInputError, match="weights artifact hashes to"):
        load(weights_=weights + b" ")
    pickled = pickle.dumps({"model.x": torch.zeros(1)})  # never unpickled: refused as not safetensors
    with pytest.raises(InferenceInputError, match="not safetensors"):
        load(spec_for(pickled, inputs), pickled)
    other_arch = st_save({"model.net.0.weight": torch.zeros(3, 3)})
    with pytest.raises(InferenceInputError, match="do not fit model mlp"):
        load(spec_for(other_arch, inputs), other_arch)
    no_model = st_save({"optimizer.x": torch.zeros(1)})
    with pytest.raises(InferenceInputError, match="no model"):
        load(spec_for(no_model, inputs), no_model)
    narrow = inf.inputs_artifact(ts.float32_tensor([[1.0] * 15] * COUNT))
    with pytest.raises(InferenceInputError, match=r"float32 of shape \(count, 16\)"):
        load(spec_for(weights, narrow), weights, narrow)
    with pytest.raises(InferenceInputError, match=f"{COUNT} rows, the spec says {COUNT + 1}"):
        load(spec_for(weights, inputs, COUNT + 1))
    integer = st_save({"inputs": torch.zeros(COUNT, 16, dtype=torch.int64)})
    with pytest.raises(InferenceInputError, match="mlp inputs must be float32"):
        load(spec_for(weights, integer), weights, integer)
