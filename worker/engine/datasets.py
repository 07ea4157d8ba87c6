"""Datasets by content hash: materialize a spec's dataset as tensors and check its sha256.

- `gaussian_blobs`: generated from its seed with a platform-independent generator (sha256 in counter
  mode for uniform bits, then only IEEE add/multiply, so every machine gets the same bytes). Class c has a
  center drawn uniformly in [-3, 3)^features; an example is its center plus noise that is the sum of four
  uniforms in [-0.5, 0.5) times 2.5 (an Irwin-Hall approximation of a Gaussian, std ~1.44); labels cycle 0..classes-1.
  Content hash = `state_hash({"features": float32 (samples, features), "labels": int64 (samples,)})`.
- `text_corpus`: a UTF-8 text shipped in `worker/engine/data/`. Content hash = sha256 of the file bytes
  (`sha256sum` agrees). Tokens are indices into the sorted list of the text's distinct characters.

    from worker.engine.datasets import materialize
    data = materialize(spec.dataset)   # raises DatasetHashMismatch if spec.dataset.sha256 differs
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pinpoint.spec import DatasetSpec, GaussianBlobsSpec, TextCorpusSpec
from worker.engine.state import state_hash

DATA_DIR = Path(__file__).with_name("data")
NOISE_SCALE = 2.5  # blob noise std ~1.44 around centers in [-3, 3): separable, but not trivially


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


def _uniform(seed: int, stream: str, count: int) -> np.ndarray:
    """`count` float64 uniforms in [0, 1) from sha256(seed, stream, counter), 53 bits each."""
    blocks = -(-count // 4)
    prefix = f"pinpoint.blobs/1:{seed}:{stream}:".encode()
    raw = b"".join(hashlib.sha256(prefix + i.to_bytes(8, "little")).digest() for i in range(blocks))
    bits = np.frombuffer(raw, dtype="<u8")[:count]
    return (bits >> np.uint64(11)).astype(np.float64) * (2.0**-53)


def _gaussian_blobs(spec: GaussianBlobsSpec) -> tuple[torch.Tensor, torch.Tensor]:
    n, f, k = spec.samples, spec.features, spec.classes
    centers = _uniform(spec.seed, "centers", k * f).reshape(k, f) * 6.0 - 3.0  # (K, F)
    u = _uniform(spec.seed, "noise", 4 * n * f).reshape(4, n, f)
    noise = (((u[0] - 0.5) + (u[1] - 0.5)) + ((u[2] - 0.5) + (u[3] - 0.5))) * NOISE_SCALE  # (N, F), fixed order
    labels = np.arange(n, dtype=np.int64) % k  # (N,)
    features = (centers[labels] + noise).astype(np.float32)  # (N, F)
    return torch.from_numpy(features), torch.from_numpy(labels)


def corpus_bytes(corpus: str) -> bytes:
    """Raw bytes of a shipped corpus file."""
    return (DATA_DIR / f"{corpus}.txt").read_bytes()


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
