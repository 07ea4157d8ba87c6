"""Declared architectures in the spec (gpt, cnn): validation against the dataset, exact parameter counts and
resource estimates without torch, and limits that name themselves.

Run: .venv/bin/python -m pytest -p no:ape_test tests/protocol/test_spec_models.py
"""

import subprocess
import sys

import pytest

from pinpoint.cli.job import main as cli_main
from pinpoint.resources import (
    SpecLimits,
    check_resources,
    estimate_resources,
    model_parameters,
)
from pinpoint.spec import (
    GPT2_SMALL,
    SpecError,
    example_cnn_spec,
    example_gpt_spec,
    example_mlp_spec,
    example_transformer_spec,
    parse_spec,
)

SGD = {"name": "sgd", "lr": 0.1, "momentum": 0.0}


def _problems(**overrides) -> list[str]:
    make = overrides.pop("make")
    with pytest.raises(SpecError) as info:
        make(**overrides)
    return info.value.problems


@pytest.mark.parametrize(("make", "overrides", "expected"), [
    (example_gpt_spec, {"model": {"heads": 5}}, "model: embed_dim (64) must be divisible by heads (5)"),
    (example_gpt_spec, {"model": {"vocab_size": 59}},
     "model.vocab_size: corpus 'tiny_poems' has a vocabulary of 60 tokens; vocab_size (59) must be at least that"),
    (example_gpt_spec, {"model": {"context": 4009}}, "model.context: must be shorter than corpus 'tiny_poems'"),
    (example_gpt_spec, {"model": {"vocab_size": 1}}, "model.vocab_size:"),
    (example_gpt_spec, {"model": {"mlp_ratio": 0}}, "model.mlp_ratio:"),
    (example_gpt_spec, {"model": {"tied_embeddings": "yes"}}, "model.tied_embeddings:"),
    (example_gpt_spec, {"model": {"layers": 257}}, "model.layers:"),
    (example_gpt_spec, {"model": {"dropout": 0.1}}, "model.dropout: Extra inputs"),
    (example_gpt_spec, {"dataset": example_mlp_spec().dataset.model_dump() | {"corpus": None}},
     "dataset.corpus: Extra inputs"),
    (example_cnn_spec, {"model": {"kernel_size": 4}}, "model: kernel_size (4) must be odd"),
    (example_cnn_spec, {"model": {"widths": [8, 8, 8]}},
     "model: 3 pooled blocks halve the image 3 times: height and width must be at least 8, got 4 x 4"),
    (example_cnn_spec, {"model": {"widths": []}}, "model.widths:"),
    (example_cnn_spec, {"model": {"widths": [0]}}, "model.widths.0:"),
    (example_cnn_spec, {"model": {"channels": 2}},
     "model.channels: channels x height x width (2 x 4 x 4 = 32) must equal dataset.features (16)"),
    (example_cnn_spec, {"model": {"num_classes": 3}}, "model.num_classes: must equal dataset.classes (4), got 3"),
], ids=lambda v: getattr(v, "__name__", str(v)[:50]))  # no memory addresses: both xdist workers agree
def test_bad_architecture_names_the_field(make, overrides, expected):
    problems = _problems(make=make, **overrides)
    assert any(p.startswith(expected) for p in problems), problems


def test_models_need_matching_data():
    blobs = example_mlp_spec().dataset.model_dump()
    text = example_transformer_spec().dataset.model_dump()
    with pytest.raises(SpecError, match="dataset.name: model 'gpt' needs a token stream"):
        parse_spec(example_gpt_spec().model_dump(mode="json") | {"dataset": blobs})
    with pytest.raises(SpecError, match="dataset.name: model 'cnn' needs images"):
        parse_spec(example_cnn_spec().model_dump(mode="json") | {"dataset": text})


def test_examples_and_defaults():
    gpt, cnn = example_gpt_spec(), example_cnn_spec()
    assert (gpt.model.mlp_ratio, gpt.model.tied_embeddings, cnn.model.kernel_size, cnn.model.pool) == (4, True, 3, True)
    assert gpt.checkpoint_count == cnn.checkpoint_count == 4
    # defaults are part of the canonical JSON, so omitting them names the same job
    raw = gpt.model_dump(mode="json")
    del raw["model"]["mlp_ratio"], raw["model"]["tied_embeddings"]
    assert example_gpt_spec(**raw).spec_hash() == gpt.spec_hash()
    assert example_gpt_spec(model={"tied_embeddings": False}).spec_hash() != gpt.spec_hash()


def test_parameter_counts_by_formula():
    """Exact counts (tests/engine/test_architectures.py checks them against torch); GPT-2 small by hand."""
    d, v, t, layers = 768, 50257, 1024, 12
    gpt2 = layers * (12 * d * d + 13 * d) + v * d + t * d + 2 * d
    assert model_parameters(example_gpt_spec(model=GPT2_SMALL).model) == gpt2 == 124_439_808
    untied = example_gpt_spec(model=GPT2_SMALL | {"tied_embeddings": False}).model
    assert model_parameters(untied) == gpt2 + v * d
    assert model_parameters(example_cnn_spec().model) == (1 * 8 * 9 + 8) + (8 * 16 * 9 + 16) + (16 * 4 + 4)


def test_gpt2_small_fits_the_default_host():
    """A 124M decoder passes the parameter and memory limits; with AdamW its checkpoints (weights and two
    moments, 1.4 GiB) pass the default one-artifact limit of 4 GiB (chunked uploads), and a lower limit is
    named in the error; with plain SGD (weights only) the whole spec passes the defaults."""
    adamw = example_gpt_spec(model=GPT2_SMALL, batch_size=4, steps=64, checkpoint_interval=16)
    r = estimate_resources(adamw)
    assert r.parameters == 124_439_808 and r.memory_bytes < SpecLimits().memory_bytes
    assert r.checkpoint_bytes == 4 * 3 * r.parameters
    check_resources(adamw)
    with pytest.raises(SpecError) as info:
        check_resources(adamw, SpecLimits(checkpoint_bytes=1 << 30))
    expected = "model: one checkpoint (weights and optimizer state) is about 1,424 MiB; the limit (one artifact) is 1,024 MiB"
    assert info.value.problems == [expected]
    sgd = parse_spec(adamw.model_dump(mode="json") | {"optimizer": SGD})
    assert check_resources(sgd).checkpoint_bytes == 4 * r.parameters


def test_a_terabyte_model_never_reaches_the_market():
    huge = example_gpt_spec(model={"vocab_size": 1 << 20, "context": 4000, "embed_dim": 32768, "heads": 256,
                                   "layers": 256}, batch_size=64)
    r = estimate_resources(huge)
    assert r.parameters > 3 * 10**12 and r.memory_bytes > 1 << 40
    with pytest.raises(SpecError) as info:
        check_resources(huge)
    text = "\n".join(info.value.problems)
    assert "parameters; this coordinator's hosts take at most 200,000,000" in text
    assert "GiB of memory" in text and "the limit is 24.0 GiB" in text


def test_memory_limit_alone_names_itself():
    """Few parameters, but long contexts and a big batch: the attention maps alone pass 24 GiB."""
    spec = example_gpt_spec(model={"context": 4000, "embed_dim": 64, "heads": 16, "layers": 8}, batch_size=64)
    with pytest.raises(SpecError) as info:
        check_resources(spec)
    assert len(info.value.problems) == 1 and info.value.problems[0].startswith("model: needs about ")
    assert "the limit is 24.0 GiB" in info.value.problems[0]
    big_images = example_cnn_spec(model={"widths": [4096, 4096]}, batch_size=65536)
    with pytest.raises(SpecError, match="GiB of memory"):
        check_resources(big_images)


def test_new_examples_stay_torch_free():
    code = ("import sys, pinpoint.spec as s, pinpoint.resources as r; r.estimate_resources(s.example_gpt_spec(model=s.GPT2_SMALL)); "
            "s.example_cnn_spec(); "
            "assert 'torch' not in sys.modules, 'pinpoint.spec or pinpoint.resources imported torch'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.parametrize("arch", ["gpt", "cnn"])
def test_cli_prints_the_examples(arch, capsys):
    assert cli_main(["example", arch]) == 0
    assert parse_spec(capsys.readouterr().out).model.name == arch
    assert cli_main(["example", "inference", "--weights", "0x" + "a" * 64, "--inputs", "0x" + "b" * 64,
                     "--count", "2", "--arch", arch]) == 0
    assert parse_spec(capsys.readouterr().out).model.name == arch
