"""Datasets by content hash: materialize a spec's dataset as tensors and check its sha256.

The bytes and their hashes are defined in pinpoint/datasets.py (no torch: the coordinator checks specs with
it); here they become tensors. Text tokens are indices into the sorted list of the text's distinct characters.

An uploaded dataset (`artifact`) is fetched by its content hash, hash-checked, read strictly (safetensors,
nothing executed) and checked against the spec, token ids and labels included. Its bytes come from
`fetch` (e.g. CoordinatorClient.download_artifact, which checks the hash too) or from the process's
artifact source (worker/engine/artifacts.py).

    from worker.engine.datasets import materialize
    data = materialize(spec.dataset)   # raises DatasetHashMismatch if spec.dataset.sha256 differs
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch

from pinpoint.datasets import check_artifact_header, corpus_bytes, gaussian_blobs
from pinpoint.spec import (
    ArtifactDatasetSpec,
    DatasetSpec,
    GaussianBlobsSpec,
    SpecError,
    TextCorpusSpec,
)
from pinpoint.tensors import SafetensorsError, read_safetensors
from worker.engine.artifacts import (
    ArtifactHashMismatch,
    ArtifactUnavailable,
    Fetch,
    artifact_bytes,
)
from worker.engine.state import state_hash


class DatasetHashMismatch(ValueError):
    """The materialized dataset's content hash is not the one the spec names: refuse to train."""


class DatasetInvalid(ValueError):
    """An uploaded dataset is not what its spec declares (layout, dtype, shape, token ids, labels): refuse."""


@dataclass(frozen=True)
class Dataset:
    """A materialized dataset. Classification sets fill `features`/`labels`; text fills `tokens`/`vocab`."""

    sha256: str
    features: torch.Tensor | None = None  # (N, F) float32
    labels: torch.Tensor | None = None  # (N,) int64
    tokens: torch.Tensor | None = None  # (L,) int64
    vocab: str | None = None  # the sorted distinct characters; token i is vocab[i]
    token_ids: int | None = None  # vocabulary size of a token artifact (its ids are in [0, token_ids))
    images: torch.Tensor | None = None  # (N, H, W) or (N, C, H, W) uint8, as uploaded; `features` flattens them

    @property
    def vocab_size(self) -> int:
        if self.token_ids is not None:
            return self.token_ids
        if self.vocab is None:
            raise ValueError("not a text dataset")
        return len(self.vocab)

    def decode(self, tokens: list[int]) -> str:
        """Characters of the given token ids (byte-level token artifacts: UTF-8, undecodable bytes replaced)."""
        if self.vocab is None:
            return bytes(tokens).decode("utf-8", errors="replace")
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


def _tensor(raw) -> torch.Tensor:
    """A torch tensor (own memory) of a strict reader's RawTensor."""
    array = np.frombuffer(raw.data, dtype=np.dtype(raw.dtype).newbyteorder("<")).reshape(raw.shape)
    if raw.dtype == "uint16":
        return torch.from_numpy(array.astype(np.int64))
    return torch.from_numpy(array.copy())


def _artifact(spec: ArtifactDatasetSpec, fetch: Fetch | None) -> Dataset:
    digest = "0x" + spec.sha256
    try:
        blob = artifact_bytes(digest, "dataset", fetch)
    except ArtifactHashMismatch as exc:
        raise DatasetHashMismatch(str(exc)) from None
    except ArtifactUnavailable as exc:
        raise DatasetInvalid(str(exc)) from None
    actual = spec.sha256
    try:
        raw, _ = read_safetensors(blob)
        check_artifact_header(spec, {name: (t.dtype, t.shape) for name, t in raw.items()})
    except (SafetensorsError, SpecError) as exc:
        raise DatasetInvalid(f"dataset artifact {digest}: {exc}") from None
    if spec.layout == "tokens":
        tokens = _tensor(raw["tokens"])  # (L,) int64
        low, high = int(tokens.min()), int(tokens.max())
        if low < 0 or high >= spec.vocab_size:
            raise DatasetInvalid(f"dataset artifact {digest}: token ids span [{low}, {high}], outside "
                                 f"[0, vocab_size={spec.vocab_size})")
        return Dataset(sha256=actual, tokens=tokens, token_ids=spec.vocab_size)
    labels = _tensor(raw["labels"])  # (N,) int64
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= spec.classes:
        raise DatasetInvalid(f"dataset artifact {digest}: labels span [{low}, {high}], outside [0, classes={spec.classes})")
    if spec.layout == "features":
        return Dataset(sha256=actual, features=_tensor(raw["features"]), labels=labels)
    images = _tensor(raw["images"])  # (N, [C,] H, W) uint8
    features = images.reshape(len(images), -1).to(torch.float32) / 255.0  # (N, C*H*W) in [0, 1]
    return Dataset(sha256=actual, features=features, labels=labels, images=images)


def materialize(spec: DatasetSpec, fetch: Fetch | None = None) -> Dataset:
    """Build (or, for an uploaded dataset, fetch with `fetch` or the artifact source, and check) the dataset,
    and check its content hash against `spec.sha256`."""
    data = _artifact(spec, fetch) if isinstance(spec, ArtifactDatasetSpec) else _build(spec)
    if data.sha256 != spec.sha256:
        raise DatasetHashMismatch(
            f"dataset '{spec.name}' hashes to {data.sha256}, but the spec says {spec.sha256}: refusing to train"
        )
    return data
