"""Declared architectures: the engine builds what the spec declares, deterministically from the seed, with
exactly the parameter count pinpoint.spec computes without torch.

Run: .venv/bin/python -m pytest -p no:ape_test tests/engine/test_architectures.py
"""

import hashlib
import json

import numpy as np
import pytest
import torch

from pinpoint import inference as inf
from pinpoint.datasets import content_hash, dataset_spec, images_artifact, text_artifact
from pinpoint.resources import estimate_resources, model_parameters
from pinpoint.spec import (
    GPT2_SMALL,
    TEXT_CORPORA,
    CNNSpec,
    GaussianBlobsSpec,
    SpecError,
    _merge,
    example_cnn_spec,
    example_gpt_spec,
    example_inference_spec,
    example_transformer_spec,
    parse_spec,
)
from worker.engine.checkpoint import save_checkpoint
from worker.engine.datasets import materialize
from worker.engine.inference import InferenceEngine, InferenceInputError, raw
from worker.engine.models import build_model
from worker.engine.training import Trainer

GPT_SIZES = [
    {},
    {"tied_embeddings": False},
    {"mlp_ratio": 2, "layers": 3, "heads": 2},
    {"vocab_size": 1000, "context": 128, "embed_dim": 96, "heads": 3, "layers": 1, "mlp_ratio": 3},
]
CNN_SIZES = [
    {},
    {"widths": [3, 5, 7], "kernel_size": 5, "pool": False},
    {"channels": 3, "height": 8, "width": 8, "widths": [32, 64, 128], "kernel_size": 1},
]


def _torch_count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def assert_spec_lists_the_built_parameters(model, vocab_size=None):
    """The spec's parameter names and shapes (torch-free, what the coordinator checks weights and `trainable`
    against) are the built module's, in order, and they are its whole state."""
    built = build_model(model, vocab_size=vocab_size)
    assert model.parameter_shapes(vocab_size) == [(name, tuple(p.shape)) for name, p in built.named_parameters()]
    assert list(built.state_dict()) == [name for name, _ in model.parameter_shapes(vocab_size)]
    counted_at = 256 if vocab_size is not None else None  # a char_transformer is counted at its largest vocabulary
    assert model_parameters(model) == _torch_count(build_model(model, vocab_size=counted_at))


@pytest.mark.parametrize("overrides", GPT_SIZES, ids=str)
def test_gpt_parameters_areExact(overrides):
    assert_spec_lists_the_built_parameters(example_gpt_spec(model=overrides).model)


@pytest.mark.parametrize("overrides", CNN_SIZES, ids=str)
def test_cnn_parameters_areExact(overrides):
    model = CNNSpec.model_validate_json(json.dumps(example_cnn_spec().model.model_dump() | overrides))  # model alone
    assert_spec_lists_the_built_parameters(model)


def test_mlp_and_char_transformer_parameters_areExact_too():
    mlp = parse_spec(example_cnn_spec().model_dump(mode="json")
                     | {"model": {"name": "mlp", "input_dim": 16, "hidden_dim": 64, "depth": 3, "num_classes": 4}}).model
    assert_spec_lists_the_built_parameters(mlp)
    char = example_transformer_spec().model
    assert_spec_lists_the_built_parameters(char, vocab_size=60)  # counted at 256 characters, listed at the corpus'


def test_gpt2_small_is_124m_parameters():
    model = example_gpt_spec(model=GPT2_SMALL, batch_size=1).model
    torch.manual_seed(0)
    built = build_model(model)
    assert model_parameters(model) == _torch_count(built) == 124_439_808
    assert "head.weight" not in built.state_dict()  # tied: one matrix in the state, not two
    std = built.token_embedding.weight.std().item()
    assert 0.019 < std < 0.021  # GPT-2 initialization, not torch's default N(0, 1)


def test_same_seed_same_weights_other_seed_other_weights():
    model = example_gpt_spec().model

    def weights(seed):
        torch.manual_seed(seed)
        return build_model(model).state_dict()

    a, b, c = weights(3), weights(3), weights(4)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["token_embedding.weight"], c["token_embedding.weight"])


def test_gpt_is_causal_and_shapes():
    model = example_gpt_spec().model
    torch.manual_seed(0)
    net = build_model(model)
    idx = torch.randint(0, model.vocab_size, (2, model.context))
    out = net(idx)
    assert out.shape == (2, model.context, model.vocab_size)
    changed = idx.clone()
    changed[:, -1] = (changed[:, -1] + 1) % model.vocab_size  # only the last token differs
    assert torch.equal(net(changed)[:, :-1], out[:, :-1])
    with pytest.raises(ValueError, match="exceeds context"):
        net(torch.zeros(1, model.context + 1, dtype=torch.int64))


def test_cnn_takes_flat_shaped_and_uint8_images():
    model = CNNSpec(name="cnn", channels=3, height=8, width=8, widths=(4, 4), num_classes=3)
    torch.manual_seed(0)
    net = build_model(model)
    pixels = torch.randint(0, 256, (5, 3, 8, 8), dtype=torch.uint8)
    shaped = net(pixels.float() / 255)
    assert shaped.shape == (5, model.num_classes)
    assert torch.equal(net(pixels), shaped)
    assert torch.equal(net((pixels.float() / 255).reshape(5, -1)), shaped)


def test_shipped_corpus_facts_match_the_engine():
    """pinpoint.spec checks a gpt's vocab_size and context against TEXT_CORPORA without reading the file."""
    spec = example_gpt_spec()
    data = materialize(spec.dataset)
    assert TEXT_CORPORA[spec.dataset.corpus] == (data.vocab_size, len(data.tokens))


def test_a_cnn_learns_synthetic_images():
    """3 x 8 x 8 'images' from gaussian_blobs (hash recomputed here): the loss falls."""
    blobs = {"name": "gaussian_blobs", "samples": 256, "features": 192, "classes": 4, "seed": 11}
    sha256 = content_hash(GaussianBlobsSpec(**blobs, sha256="0" * 64))
    spec = example_cnn_spec(model={"channels": 3, "height": 8, "width": 8, "widths": [8, 16]},
                            dataset=blobs | {"sha256": sha256}, steps=32, checkpoint_interval=8)
    trainer = Trainer(spec, capture_checkpoints=False)
    trainer.run()
    assert trainer.interval_losses[-1] < trainer.interval_losses[0]


def _saved_activation_bytes(model, x, y) -> int:
    """Bytes autograd keeps for the backward pass of one batch (parameters excluded), storages counted once."""
    saved = {}

    def keep(t):
        saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    torch.manual_seed(0)
    net = build_model(model)
    with torch.autograd.graph.saved_tensors_hooks(keep, lambda t: t):
        logits = net(x)
        torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
    params = {p.untyped_storage().data_ptr() for p in net.parameters()}
    return sum(n for ptr, n in saved.items() if ptr not in params)


@pytest.mark.parametrize("name", ["gpt", "cnn"])
def test_activation_estimate_bounds_what_autograd_keeps(name):
    """pinpoint.spec's memory estimate covers the activations torch actually saves, within a small factor."""
    batch = 4
    if name == "gpt":
        spec = example_gpt_spec(model={"vocab_size": 1000, "context": 256, "embed_dim": 128, "heads": 8, "layers": 2},
                                batch_size=batch)
        x = torch.randint(0, 1000, (batch, 256))
        y = x
    else:
        model = CNNSpec(name="cnn", channels=3, height=16, width=16, widths=(32, 64, 128), num_classes=10)
        spec = example_cnn_spec().model_copy(update={"model": model, "batch_size": batch})  # the model is what counts
        x, y = torch.randn(batch, 3, 16, 16), torch.randint(0, 10, (batch,))
    estimate = estimate_resources(spec)
    activations = estimate.memory_bytes - 4 * estimate.parameters * (2 * 3 + 1)  # AdamW: state x 2 + gradients
    measured = _saved_activation_bytes(spec.model, x, y)
    assert measured <= activations <= 4 * measured, (measured, activations)


def _on_artifact(example, blob: bytes, **facts_and_overrides):
    """`example()` trained on the uploaded artifact `blob` (its dataset entry replaced, not deep-merged)."""
    facts = {k: facts_and_overrides.pop(k) for k in ("vocab_size", "classes") if k in facts_and_overrides}
    raw = _merge(example().model_dump(mode="json"), facts_and_overrides) | {"dataset": dataset_spec(blob, **facts)}
    return parse_spec(raw)


def test_gpt_trains_on_an_uploaded_token_stream():
    """Byte-level tokens (vocab 256) as an artifact: validated against vocab_size, trained twice alike."""
    blob = text_artifact(b"".join(b"line %d: the quick brown fox\n" % i for i in range(200)))
    with pytest.raises(SpecError, match="model.vocab_size: the token artifact has a vocabulary of 256 tokens"):
        _on_artifact(example_gpt_spec, blob, vocab_size=256, model={"vocab_size": 128})
    spec = _on_artifact(example_gpt_spec, blob, vocab_size=256, model={"vocab_size": 256}, steps=8)
    data = materialize(spec.dataset, {"0x" + spec.dataset.sha256: blob}.__getitem__)
    first, second = Trainer(spec, dataset=data), Trainer(spec, dataset=data)
    assert first.run() == second.run()
    assert first.interval_losses[-1] < first.interval_losses[0]


def test_cnn_trains_on_uploaded_images():
    """uint8 (N, 3, 8, 8) images as an artifact (made here from a fixed generator): checked, trained alike twice."""
    rng = np.random.default_rng(0)
    labels = np.arange(256, dtype=np.int64) % 4
    images = np.clip(rng.normal(64 + 40 * labels[:, None, None, None], 30, (256, 3, 8, 8)), 0, 255).astype(np.uint8)
    blob = images_artifact(images, labels)
    cnn = {"channels": 3, "height": 8, "width": 8, "widths": [8, 16]}
    with pytest.raises(SpecError, match=r"model.channels: images of \(channels, height, width\) \(3, 8, 8\)"):
        _on_artifact(example_cnn_spec, blob, classes=4, model=cnn | {"height": 16, "width": 16})
    spec = _on_artifact(example_cnn_spec, blob, classes=4, model=cnn)
    data = materialize(spec.dataset, {"0x" + spec.dataset.sha256: blob}.__getitem__)
    first, second = Trainer(spec, dataset=data), Trainer(spec, dataset=data)
    assert first.run() == second.run()
    assert first.interval_losses[-1] < first.interval_losses[0]


@pytest.mark.parametrize("arch", ["gpt", "cnn"])
def test_inference_runs_a_trained_gpt_or_cnn(arch, gpt_run, cnn_run):
    """A training job's final checkpoint as an inference job's weights: outputs are the model's, recomputed
    alike by a second engine; inputs of the wrong shape are refused."""
    run = gpt_run if arch == "gpt" else cnn_run
    weights = save_checkpoint(run.checkpoints[-1])
    gen = torch.Generator().manual_seed(3)
    if arch == "gpt":
        rows = torch.randint(0, run.spec.model.vocab_size, (3, 16), generator=gen)  # (count, T) token ids
        wrong = torch.zeros(3, run.spec.model.context + 1, dtype=torch.int64)
    else:
        rows = torch.randint(0, 256, (3, 1, 4, 4), generator=gen).to(torch.uint8)  # (count, C, H, W) pixels
        wrong = torch.zeros(3, 1, 4, 5)
    inputs = inf.inputs_artifact(raw(rows))
    spec = example_inference_spec(hashlib.sha256(weights).hexdigest(), hashlib.sha256(inputs).hexdigest(), 3,
                                  model=arch)
    first, second = InferenceEngine(spec).load(weights, inputs), InferenceEngine(spec).load(weights, inputs)
    trained = build_model(spec.model)
    trained.load_state_dict({k.removeprefix("model."): v for k, v in run.checkpoints[-1].tensors.items()
                             if k.startswith("model.")})
    with torch.no_grad():
        expected = trained(rows[:1])[0]
    assert torch.equal(first.output(0), expected)
    assert [first.leaf_state_hash(k) for k in range(4)] == [second.leaf_state_hash(k) for k in range(4)]
    bad = inf.inputs_artifact(raw(wrong))
    bad_spec = example_inference_spec(hashlib.sha256(weights).hexdigest(), hashlib.sha256(bad).hexdigest(), 3,
                                      model=arch)
    with pytest.raises(InferenceInputError, match=f"{arch} inputs must be"):
        InferenceEngine(bad_spec).load(weights, bad)
