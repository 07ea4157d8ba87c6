"""Datasets by content hash: materialize a spec's dataset as tensors and check its sha256.

The bytes and their hashes are defined in pinpoint/datasets.py (no torch: the coordinator checks specs with
it); here they become tensors. Text tokens are indices into the sorted list of the text's distinct characters.

    from worker.engine.datasets import materialize
    data = materialize(spec.dataset)   # raises DatasetHashMismatch if spec.dataset.sha256 differs
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch

from pinpoint.datasets import corpus_bytes, gaussian_blobs
from pinpoint.spec import DatasetSpec, GaussianBlobsSpec, TextCorpusSpec
from worker.engine.state import state_hash


class DatasetHashMismatch(ValueError):
    """The materialized dataset's content hash is not the one the spec names: refuse to train."""


@dataclass(frozen=True)
class Dataset:
    """A materialized dataset. Classification sets fill `features`/`labels`; text fills `tokens`/`vocab`."""

    sha256: str
    features: torch.Tensor | None = None  # (N, F) float32
    labels: torch.Tensor | None = None  # (N,) int64
    tokens: torch.Tensor | None = None  # (L,) int64
    vocab: str | None = None  # the sorted distinct characters; token i is vocab[i]

    @property
    def vocab_size(self) -> int:
        if self.vocab is None:
            raise ValueError("not a text dataset")
        return len(self.vocab)

    def decode(self, tokens: list[int]) -> str:
        """Characters of the given token ids."""
        return "".join(self.vocab[i] for i in tokens)


def _gaussian_blobs(spec: GaussianBlobsSpec) -> tuple[torch.Tensor, torch.Tensor]:
    features, labels = gaussian_blobs(spec)
    return torch.from_numpy(features), torch.from_numpy(labels)


def dataset_sha256(spec: DatasetSpec) -> str:
    """Content hash (64 hex digits) of the dataset the spec describes, ignoring the spec's own sha256."""
    return _build(spec).sha256


def _build(spec: DatasetSpec) -> Dataset:
    if isinstance(spec, GaussianBlobsSpec):
        features, labels = _gaussian_blobs(spec)
        digest = state_hash({"features": features, "labels": labels}).hex()
        return Dataset(sha256=digest, features=features, labels=labels)
    if isinstance(spec, TextCorpusSpec):
        raw = corpus_bytes(spec.corpus)
        text = raw.decode("utf-8")
        vocab = "".join(sorted(set(text)))
        index = {ch: i for i, ch in enumerate(vocab)}
        tokens = torch.tensor([index[ch] for ch in text], dtype=torch.int64)  # (L,)
        return Dataset(sha256=hashlib.sha256(raw).hexdigest(), tokens=tokens, vocab=vocab)
    raise TypeError(f"unknown dataset spec {type(spec).__name__}")


def materialize(spec: DatasetSpec) -> Dataset:
    """Build the dataset and check its content hash against `spec.sha256`."""
    data = _build(spec)
    if data.sha256 != spec.sha256:
        raise DatasetHashMismatch(
            f"dataset '{spec.name}' hashes to {data.sha256}, but the spec says {spec.sha256}: refusing to train"
        )
    return data
