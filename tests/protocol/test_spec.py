"""Job spec validation, canonical JSON and spec hash.

Run: .venv/bin/python -m pytest -p no:ape_test tests/protocol/test_spec.py
"""

import hashlib
import json
import subprocess
import sys

import pytest
from pydantic import ValidationError

from pinpoint.spec import (
    SpecError,
    TINY_POEMS_SHA256,
    example_mlp_spec,
    example_transformer_spec,
    parse_spec,
)

TEXT_DATASET = {"name": "text_corpus", "corpus": "tiny_poems", "sha256": TINY_POEMS_SHA256}

BAD_MLP_OVERRIDES = [
    ({"steps": 0}, "steps:"),
    ({"steps": 2_000_000, "checkpoint_interval": 1}, "steps:"),
    ({"steps": 63}, "checkpoint_interval: steps (63) must be a positive multiple"),
    ({"checkpoint_interval": 0}, "checkpoint_interval:"),
    ({"steps": "64"}, "steps:"),
    ({"steps": True}, "steps:"),
    ({"batch_size": 0}, "batch_size:"),
    ({"seed": -1}, "seed:"),
    ({"version": "pinpoint.job/2"}, "version:"),
    ({"kind": "predict"}, "kind: must be one of"),
    ({"bogus": 1}, "bogus: Extra inputs are not permitted"),
    ({"model": {"hidden_dim": 0}}, "model.hidden_dim:"),
    ({"model": {"hidden_dim": 70000}}, "model.hidden_dim:"),
    ({"model": {"depth": 1.5}}, "model.depth:"),
    ({"model": {"name": "resnet"}}, "model:"),
    ({"model": {"input_dim": 8}}, "model.input_dim: must equal dataset.features (16)"),
    ({"model": {"num_classes": 3}}, "model.num_classes: must equal dataset.classes (4)"),
    ({"dataset": {"sha256": "abc"}}, "dataset.sha256:"),
    ({"dataset": {"sha256": "0x" + "a" * 64}}, "dataset.sha256:"),
    ({"dataset": {"samples": 0}}, "dataset.samples:"),
    ({"optimizer": {"lr": 0}}, "optimizer.lr:"),
    ({"optimizer": {"lr": 11.0}}, "optimizer.lr:"),
    ({"optimizer": {"lr": "fast"}}, "optimizer.lr:"),
    ({"optimizer": {"betas": [0.9, 1.0]}}, "optimizer.betas.1:"),
    ({"optimizer": {"betas": [0.9]}}, "optimizer.betas.1: Field required"),
    ({"optimizer": {"eps": 0}}, "optimizer.eps:"),
    ({"optimizer": {"name": "adam"}}, "optimizer:"),
    ({"optimizer": {"name": "sgd", "lr": 0.1, "momentum": 1.0}}, "optimizer.momentum:"),
    ({"optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9}}, "optimizer.betas: Extra inputs"),
    ({"profile": {"threads": 0}}, "profile.threads:"),
    ({"profile": {"dtype": "float16"}}, "profile.dtype:"),
    ({"profile": {"device": "tpu"}}, "profile.device:"),
    ({"profile": {"torch_version": ""}}, "profile.torch_version:"),
    ({"profile": {"deterministic": "yes"}}, "profile.deterministic:"),
]


@pytest.mark.parametrize(("overrides", "expected"), BAD_MLP_OVERRIDES, ids=lambda v: str(v)[:40])
def test_bad_input_names_the_field(overrides, expected):
    with pytest.raises(SpecError) as info:
        example_mlp_spec(**overrides)
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems
    assert expected in str(info.value)


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"model": {"heads": 5}}, "model: embed_dim (32) must be divisible by heads (5)"),
    ({"model": {"context": 0}}, "model.context:"),
    ({"dataset": {"corpus": "war_and_peace"}}, "dataset.corpus:"),
    ({"dataset": {"name": "gaussian_blobs", "samples": 8, "features": 2, "classes": 2, "seed": 1,
                  "corpus": None}}, "dataset.corpus: Extra inputs"),
])
def test_bad_transformer_input_names_the_field(overrides, expected):
    with pytest.raises(SpecError) as info:
        example_transformer_spec(**overrides)
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems


def test_mlp_needs_gaussian_blobs():
    raw = example_mlp_spec().model_dump(mode="json") | {"dataset": TEXT_DATASET}
    with pytest.raises(SpecError, match="dataset.name: model 'mlp' needs dataset 'gaussian_blobs'"):
        parse_spec(raw)


def test_transformer_needs_text_corpus():
    blobs = example_mlp_spec().dataset.model_dump()
    raw = example_transformer_spec().model_dump(mode="json") | {"dataset": blobs}
    with pytest.raises(SpecError, match="dataset.name: model 'char_transformer' needs dataset 'text_corpus'"):
        parse_spec(raw)


def test_every_problem_is_listed():
    with pytest.raises(SpecError) as info:
        example_mlp_spec(steps=0, batch_size=0, profile={"threads": 0})
    paths = {p.split(":")[0] for p in info.value.problems}
    assert {"steps", "batch_size", "profile.threads"} <= paths


def test_missing_field_and_bad_json():
    raw = example_mlp_spec().model_dump(mode="json")
    del raw["profile"]
    with pytest.raises(SpecError, match="profile: Field required"):
        parse_spec(raw)
    with pytest.raises(SpecError, match="Invalid JSON"):
        parse_spec(b"{not json")
    with pytest.raises(SpecError, match="valid dictionary|object"):
        parse_spec("[1, 2]")
    with pytest.raises(SpecError, match="expected JSON bytes, str or dict"):
        parse_spec(42)  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="not JSON-serializable"):
        parse_spec(raw | {"seed": float("nan")})


def test_examples_are_valid_and_count_checkpoints():
    mlp, lm = example_mlp_spec(), example_transformer_spec()
    assert (mlp.steps, mlp.checkpoint_interval, mlp.checkpoint_count) == (64, 8, 8)
    assert lm.checkpoint_count == 4
    assert example_mlp_spec(profile={"threads": 2}).profile.threads == 2


def test_spec_is_frozen():
    spec = example_mlp_spec()
    with pytest.raises(ValidationError):
        spec.steps = 8  # type: ignore[misc]


def _reversed_keys(value):
    if isinstance(value, dict):
        return {k: _reversed_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reversed_keys(v) for v in value]
    return value


def test_canonical_hash_is_stable_and_order_independent():
    spec = example_mlp_spec()
    as_dict = spec.model_dump(mode="json")
    pretty = json.dumps(_reversed_keys(as_dict), indent=4)
    assert parse_spec(pretty).spec_hash() == spec.spec_hash()
    assert parse_spec(spec.canonical_json()).canonical_json() == spec.canonical_json()
    assert parse_spec(as_dict) == spec
    canonical = spec.canonical_json()
    assert b" " not in canonical and b"\n" not in canonical
    assert list(json.loads(canonical)) == sorted(json.loads(canonical))
    assert spec.spec_hash().startswith("0x") and len(spec.spec_hash()) == 66


def test_defaults_are_part_of_the_hash():
    raw = example_mlp_spec().model_dump(mode="json")
    del raw["profile"]["deterministic"]
    assert parse_spec(raw).spec_hash() == example_mlp_spec().spec_hash()


def test_every_field_changes_the_hash():
    base = example_mlp_spec().spec_hash()
    variants = [{"seed": 1}, {"steps": 72}, {"profile": {"threads": 2}}, {"optimizer": {"lr": 0.02}},
                {"model": {"hidden_dim": 65}}, {"checkpoint_interval": 4}, {"batch_size": 31}]
    hashes = {example_mlp_spec(**v).spec_hash() for v in variants}
    assert base not in hashes and len(hashes) == len(variants)


def test_golden_spec_hash():
    """The canonical form is a protocol constant: this literal spec must always hash the same."""
    raw = {
        "version": "pinpoint.job/1", "kind": "train",
        "model": {"name": "mlp", "input_dim": 2, "hidden_dim": 4, "depth": 1, "num_classes": 2},
        "dataset": {"name": "gaussian_blobs", "samples": 8, "features": 2, "classes": 2, "seed": 0,
                    "sha256": "ab" * 32},
        "optimizer": {"name": "sgd", "lr": 0.5, "momentum": 0},
        "steps": 4, "batch_size": 2, "seed": 0, "checkpoint_interval": 2,
        "profile": {"torch_version": "2.13.0+cpu", "device": "cpu", "dtype": "float32", "threads": 1},
    }
    spec = parse_spec(raw)
    assert spec.canonical_json() == (
        b'{"batch_size":2,"checkpoint_interval":2,"dataset":{"classes":2,"features":2,"name":"gaussian_blobs",'
        b'"samples":8,"seed":0,"sha256":"' + b"ab" * 32 + b'"},"kind":"train","model":{"depth":1,"hidden_dim":4,'
        b'"input_dim":2,"name":"mlp","num_classes":2},"optimizer":{"lr":0.5,"momentum":0.0,"name":"sgd"},'
        b'"profile":{"deterministic":true,"device":"cpu","dtype":"float32","threads":1,'
        b'"torch_version":"2.13.0+cpu"},"seed":0,"steps":4,"version":"pinpoint.job/1"}'
    )
    assert spec.spec_hash() == "0x" + hashlib.sha256(spec.canonical_json()).hexdigest()


def test_protocol_library_does_not_import_torch():
    code = ("import sys, pinpoint.spec, pinpoint.merkle; pinpoint.spec.example_mlp_spec(); "
            "assert 'torch' not in sys.modules, 'pinpoint imported torch'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_namedInputs_listEveryArtifactASpecNeeds_inAFixedOrder():
    """What a solver fetches before it bids and what the coordinator keeps while a job is live: the uploaded
    dataset, the starting weights, and a later swarm round's start, inner checkpoint and updates."""
    from pinpoint.spec import ArtifactDatasetSpec, WeightsRef, example_inference_spec, named_inputs, swarm_round_spec

    a, b, c, d, e = (x * 32 for x in ("aa", "bb", "cc", "dd", "ee"))
    data = ArtifactDatasetSpec(name="artifact", sha256=a, layout="features", dtype="float32", shape=(256, 16), classes=4)
    base = example_mlp_spec().model_copy(update={"dataset": data, "init": WeightsRef(sha256=b)})
    assert named_inputs(base) == [("dataset", a), ("weights", b)]
    assert named_inputs(swarm_round_spec(base, 2, 0, 0)) == named_inputs(base)
    share = swarm_round_spec(base, 2, 1, 1, c, [d, e], e)  # a later round starts from the outer step, not `init`
    assert named_inputs(share) == [("dataset", a), ("checkpoint", c), ("checkpoint", e), ("update", d), ("update", e)]
    assert named_inputs(example_mlp_spec()) == []  # synthetic data, weights from the seed
    assert named_inputs(example_inference_spec(a, b, 4)) == [("weights", a), ("inputs", b)]
