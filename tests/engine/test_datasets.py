"""Datasets by content hash.

Run: .venv/bin/python -m pytest -p no:ape_test tests/engine/test_datasets.py
"""

import hashlib

import pytest

from pinpoint.datasets import DATA_DIR, check_dataset, content_hash
from pinpoint.spec import (
    EXAMPLE_BLOBS_SHA256,
    TINY_POEMS_SHA256,
    GaussianBlobsSpec,
    SpecError,
    example_mlp_spec,
    example_transformer_spec,
)
from worker.engine.datasets import (
    DatasetHashMismatch,
    _gaussian_blobs,
    dataset_sha256,
    materialize,
)
from worker.engine.state import state_hash
from worker.engine.training import Trainer


def test_example_constants_match_the_engine():
    assert dataset_sha256(example_mlp_spec().dataset) == EXAMPLE_BLOBS_SHA256
    assert dataset_sha256(example_transformer_spec().dataset) == TINY_POEMS_SHA256
    assert hashlib.sha256((DATA_DIR / "tiny_poems.txt").read_bytes()).hexdigest() == TINY_POEMS_SHA256


def test_blobs_are_generated_from_the_seed():
    spec = example_mlp_spec().dataset
    a, b = materialize(spec), materialize(spec)
    assert a.features.equal(b.features) and a.labels.equal(b.labels)
    assert a.features.shape == (512, 16) and set(a.labels.tolist()) == {0, 1, 2, 3}
    assert dataset_sha256(spec.model_copy(update={"seed": 8})) != spec.sha256


def test_text_corpus_vocabulary_is_sorted():
    data = materialize(example_transformer_spec().dataset)
    assert list(data.vocab) == sorted(set(data.vocab))
    assert 3000 <= len(data.tokens) <= 8192
    assert data.decode(data.tokens[:9].tolist()) == "Sonnet 18"


@pytest.mark.parametrize("make", [example_mlp_spec, example_transformer_spec])
def test_dataset_hash_mismatch_refuses_to_train(make):
    spec = make(dataset={"sha256": "0" * 64})
    with pytest.raises(DatasetHashMismatch, match="refusing to train"):
        Trainer(spec)


@pytest.mark.parametrize("samples, features, classes, seed", [(512, 16, 4, 7), (33, 5, 3, 0), (1000, 64, 10, 2**40)])
def test_coordinatorsTorchFreeHash_isTheEnginesStateHash(samples, features, classes, seed):
    """The coordinator checks a spec's dataset hash without torch (pinpoint/datasets.py); recomputed here
    through the engine's own tensors and state hash, the two agree."""
    spec = GaussianBlobsSpec(name="gaussian_blobs", samples=samples, features=features, classes=classes, seed=seed,
                             sha256="0" * 64)
    features_t, labels_t = _gaussian_blobs(spec)
    assert content_hash(spec) == state_hash({"features": features_t, "labels": labels_t}).hex()
    check_dataset(spec.model_copy(update={"sha256": content_hash(spec)}))
    with pytest.raises(SpecError, match="dataset.sha256"):
        check_dataset(spec.model_copy(update={"sha256": "ab" * 32}))
    with pytest.raises(SpecError, match="dataset.samples"):
        check_dataset(spec.model_copy(update={"samples": 1 << 20, "features": 2}))
