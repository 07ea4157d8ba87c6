"""Inference commitments without torch (pinpoint/inference.py): strict safetensors, hashes that agree with
the engine's, and output proofs a client checks against the on-chain root, refusing every forgery."""

import json
import re
import struct
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from pinpoint import inference as inf
from pinpoint import tensors as ts
from pinpoint.merkle import StandardMerkleTree, checkpoint_tree
from pinpoint.spec import (
    MAX_INPUTS,
    InferenceSpec,
    SpecError,
    example_inference_spec,
    example_mlp_spec,
    parse_spec,
)
from worker.engine.state import state_hash as engine_state_hash

W, I = "a" * 64, "b" * 64
JOB = 7
SPEC_HASH = example_inference_spec("0x" + W, I, 5).spec_hash()  # the job the committed leaves belong to
OTHER_SPEC_HASH = example_inference_spec("0x" + W, I, 6).spec_hash()  # the same but for the inputs count


def test_module_does_not_import_torch():
    code = ("import sys, pinpoint.inference, pinpoint.spec, pinpoint.tensors; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------- safetensors


def test_written_files_read_back_here_and_in_safetensors():
    tensors = {"b": ts.float32_tensor([[1.0, 2.0], [3.0, -4.5]]), "a": ts.RawTensor("int64", (3,), struct.pack("<3q", 1, -2, 3))}
    blob = ts.write_safetensors(tensors, {"format": "x"})
    assert blob == ts.write_safetensors(dict(reversed(tensors.items())), {"format": "x"})  # same input, same bytes
    read, metadata = ts.read_safetensors(blob)
    assert metadata == {"format": "x"} and {k: bytes(v.data) for k, v in read.items()} == {k: v.data for k, v in tensors.items()}
    loaded = st_load(blob)
    assert loaded["b"].tolist() == [[1.0, 2.0], [3.0, -4.5]] and loaded["a"].tolist() == [1, -2, 3]
    theirs = st_save({"x": torch.arange(6, dtype=torch.float64).reshape(2, 3)})
    assert ts.read_safetensors(theirs)[0]["x"].values() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]


def header(obj, data=b"") -> bytes:
    text = json.dumps(obj).encode()
    return struct.pack("<Q", len(text)) + text + data


@pytest.mark.parametrize(("blob", "why"), [
    (b"\x01\x00", "too short"),
    (struct.pack("<Q", 10**9) + b"{}", "exceeds"),
    (struct.pack("<Q", 3) + b"{x}", "bad safetensors header"),
    (struct.pack("<Q", 2) + b"[]", "not a JSON object"),
    (struct.pack("<Q", 64) + b'{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"a":{}}    ', "duplicate key"),
    (header({"a": {"dtype": "F128", "shape": [1], "data_offsets": [0, 16]}}, bytes(16)), "unknown dtype"),
    (header({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, bytes(4)), "4 bytes for F32 [2]"),
    (header({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, bytes(4)), "bad shape"),
    (header({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 8]}}, bytes(4)), "bad data_offsets"),
    (header({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
             "b": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, bytes(4)), "overlaps or leaves a gap"),
    (header({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, bytes(8)), "covers 4 of 8 bytes"),
    (header({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "code": "x"}}, bytes(4)), "needs exactly"),
    (header({"__metadata__": {"k": 1}}), "__metadata__ must map strings to strings"),
])
def test_malformedSafetensors_areRefused_sayingWhy(blob, why):
    with pytest.raises(ts.SafetensorsError, match=re.escape(why)):
        ts.read_safetensors(blob)


def test_readInputs_checksTheTensorAndTheCount():
    assert inf.read_inputs(inf.inputs_artifact(ts.float32_tensor([[1.0]] * 3)), 3).shape == (3, 1)
    with pytest.raises(ts.SafetensorsError, match="3 rows, the spec says 4"):
        inf.read_inputs(inf.inputs_artifact(ts.float32_tensor([[1.0]] * 3)), 4)
    with pytest.raises(ts.SafetensorsError, match="exactly one tensor 'inputs'"):
        inf.read_inputs(ts.write_safetensors({"x": ts.float32_tensor([[1.0]])}))
    with pytest.raises(ts.SafetensorsError, match="batch dimension"):
        inf.read_inputs(ts.write_safetensors({"inputs": ts.RawTensor("float32", (), bytes(4))}))


# ---------------------------------------------------------------- hashes agree with the engine's


@pytest.mark.parametrize("tensor", [
    torch.randn(3, 5), torch.arange(7, dtype=torch.int64), torch.tensor(2.5, dtype=torch.float64),
    torch.tensor([True, False]), torch.randn(2, 2).to(torch.bfloat16), torch.zeros(0, 4),
], ids=["f32", "i64", "scalar", "bool", "bf16", "empty"])
def test_stateHash_matchesTheEngine(tensor):
    blob = st_save({"output": tensor.contiguous()})
    assert ts.state_hash(ts.read_safetensors(blob)[0]) == engine_state_hash({"output": tensor})
    assert inf.output_hash(ts.read_safetensors(blob)[0]["output"]) == engine_state_hash({"output": tensor})


def test_outputArtifact_recomputesItsHashes_ignoringItsMetadata():
    row, out = ts.float32_tensor([[1.0, 2.0]]).row(0), ts.float32_tensor([[0.5, -0.5, 3.0]]).row(0)
    record = inf.read_output_artifact(inf.output_artifact(SPEC_HASH, 4, row, out), SPEC_HASH)
    assert (record.index, record.input_hash, record.output_hash) == (4, inf.input_hash(row), inf.output_hash(out))
    assert record.state_hash == inf.leaf_state_hash(SPEC_HASH, inf.input_hash(row), inf.output_hash(out))
    # read as a leaf of another job (whatever the metadata says), the same bytes hash to another leaf
    assert inf.read_output_artifact(inf.output_artifact(SPEC_HASH, 4, row, out), OTHER_SPEC_HASH).state_hash \
        == inf.leaf_state_hash(OTHER_SPEC_HASH, inf.input_hash(row), inf.output_hash(out)) != record.state_hash
    forged = ts.write_safetensors({"input": row, "output": out}, {"format": inf.OUTPUT_FORMAT, "index": "4",
                                                                   "output_hash": "0x" + "00" * 32})
    assert inf.read_output_artifact(forged, SPEC_HASH).output_hash == inf.output_hash(out)
    with pytest.raises(ts.SafetensorsError, match="not a pinpoint.inference-output/1"):
        inf.read_output_artifact(ts.write_safetensors({"output": out}), SPEC_HASH)


# ---------------------------------------------------------------- output proofs


@pytest.fixture
def committed():
    """A committed inference job of 5 inputs: (final root, input rows, entries as the coordinator serves them)."""
    inputs = ts.float32_tensor([[float(i), 1.0] for i in range(5)])
    outputs = [ts.float32_tensor([[i * 0.5, -1.0, 2.0]]).row(0) for i in range(5)]
    hashes = [b"\x11" * 32] + [inf.leaf_state_hash(SPEC_HASH, inf.input_hash(inputs.row(i)), inf.output_hash(o))
                             for i, o in enumerate(outputs)]
    tree = checkpoint_tree(JOB, hashes, 1)
    entries = [{"index": i, "input_hash": "0x" + inf.input_hash(inputs.row(i)).hex(),
                "output_hash": "0x" + inf.output_hash(o).hex(), "output": o.to_json(), "values": o.values(),
                "proof": tree.get_proof(i + 1)} for i, o in enumerate(outputs)]
    return tree.root, inputs, entries


def test_everyHonestOutput_verifiesAgainstTheRoot(committed):
    root, inputs, entries = committed
    for entry in entries:
        out = inf.verify_output(JOB, SPEC_HASH, root, inf.input_hash(inputs.row(entry["index"])), entry)
        assert out.values() == entry["values"]


def _tamper_output(e):
    e["output"] = ts.float32_tensor([[9.0, -1.0, 2.0]]).row(0).to_json()


def _consistent_forgery(e):  # new bytes with their own hash and values: only the proof can catch it
    forged = ts.float32_tensor([[9.0, -1.0, 2.0]]).row(0)
    e.update(output=forged.to_json(), output_hash="0x" + inf.output_hash(forged).hex(), values=forged.values())


@pytest.mark.parametrize(("tamper", "why"), [
    (_tamper_output, "do not hash to the output hash"),
    (_consistent_forgery, "Merkle proof does not verify"),
    (lambda e: e.update(values=[0, 0, 0]), "values shown are not the ones"),
    (lambda e: e.update(input_hash="0x" + "00" * 32), "another input"),
    (lambda e: e.update(proof=e["proof"][:-1]), "Merkle proof does not verify"),
    (lambda e: e.update(proof=[]), "Merkle proof does not verify"),
    (lambda e: e.update(index=3), "Merkle proof does not verify"),
    (lambda e: e["output"].update(data="!!"), "malformed output"),
    (lambda e: e["output"].update(shape=[4]), "12 bytes of data for a float32 tensor of shape"),
    (lambda e: e.update(index=-1), "without a valid index"),
])
def test_forgedOutputs_areRefused_namingTheInput(committed, tamper, why):
    root, inputs, entries = committed
    entry = json.loads(json.dumps(entries[2]))
    tamper(entry)
    with pytest.raises(inf.OutputProofError, match=re.escape(why)):
        inf.verify_output(JOB, SPEC_HASH, root, inf.input_hash(inputs.row(2)), entry)


def test_aProofForAnotherJob_orRoot_doesNotVerify(committed):
    root, inputs, entries = committed
    with pytest.raises(inf.OutputProofError, match="Merkle proof"):
        inf.verify_output(JOB + 1, SPEC_HASH, root, inf.input_hash(inputs.row(1)), entries[1])
    other = StandardMerkleTree.from_leaf_hashes(["0x" + "22" * 32, "0x" + "33" * 32], ["uint256"]).root
    with pytest.raises(inf.OutputProofError, match="Merkle proof"):
        inf.verify_output(JOB, SPEC_HASH, other, inf.input_hash(inputs.row(1)), entries[1])


def test_leavesBindTheSpec_anOutputOfAnotherSpec_doesNotVerify(committed):
    """The same input and output make another leaf under another spec (here: only the inputs count
    differs), so one job's leaves never stand for another's."""
    root, inputs, entries = committed
    with pytest.raises(inf.OutputProofError, match="Merkle proof"):
        inf.verify_output(JOB, OTHER_SPEC_HASH, root, inf.input_hash(inputs.row(1)), entries[1])
    digests = (inf.input_hash(inputs.row(1)), bytes.fromhex(entries[1]["output_hash"][2:]))
    assert inf.leaf_state_hash(SPEC_HASH, *digests) != inf.leaf_state_hash(OTHER_SPEC_HASH, *digests)
    assert inf.model_leaf_hash(SPEC_HASH, b"\x11" * 32) != inf.model_leaf_hash(OTHER_SPEC_HASH, b"\x11" * 32)
    with pytest.raises(ValueError, match="32 bytes"):
        inf.leaf_state_hash("0x1234", *digests)


# ---------------------------------------------------------------- the spec


def test_inferenceSpec_parses_andMapsToOneLeafPerInput():
    spec = example_inference_spec("0x" + W, I, 32)
    assert isinstance(spec, InferenceSpec) and spec.weights.sha256 == W
    assert (spec.checkpoint_count, spec.checkpoint_interval) == (32, 1)
    again = parse_spec(spec.canonical_json())
    assert again == spec and again.spec_hash() == spec.spec_hash()
    assert spec.spec_hash() != example_inference_spec(W, I, 31).spec_hash() != example_mlp_spec().spec_hash()


@pytest.mark.parametrize(("overrides", "why"), [
    ({"inputs": {"count": 0}}, "inputs.count:"),
    ({"inputs": {"count": MAX_INPUTS + 1}}, "inputs.count:"),
    ({"inputs": {"sha256": W}}, "inputs.sha256: the inputs artifact cannot be the weights"),
    ({"weights": {"sha256": "0x" + W}}, "weights.sha256: "),
    ({"weights": {"sha256": "abc"}}, "weights.sha256: "),
    ({"dataset": {"name": "gaussian_blobs"}}, "dataset: Extra inputs"),
    ({"profile": {"threads": 0}}, "profile.threads:"),
])
def test_badInferenceSpecs_nameTheField(overrides, why):
    base = json.loads(example_inference_spec(W, I, 4).canonical_json())
    for key, value in overrides.items():
        base[key] = {**base[key], **value} if isinstance(base.get(key), dict) else value
    with pytest.raises(SpecError) as info:
        parse_spec(base)
    assert why in str(info.value), str(info.value)
