"""The built-in datasets' bytes and content hashes, without torch: the coordinator checks a spec's dataset
hash with this before anyone bids, and the engine (worker/engine/datasets.py) trains on the same arrays.

- `gaussian_blobs`: generated from its seed with a platform-independent generator (sha256 in counter mode
  for uniform bits, then only IEEE add/multiply, so every machine gets the same bytes). Class c has a center
  drawn uniformly in [-3, 3)^features; an example is its center plus noise that is the sum of four uniforms
  in [-0.5, 0.5) times 2.5 (an Irwin-Hall approximation of a Gaussian, std ~1.44); labels cycle
  0..classes-1. Content hash = the state hash (worker/engine/state.py) of {"features": float32
  (samples, features), "labels": int64 (samples,)}.
- `text_corpus`: a UTF-8 text shipped in `worker/engine/data/`. Content hash = sha256 of the file bytes.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import numpy as np

from pinpoint.spec import DatasetSpec, GaussianBlobsSpec, SpecError, TextCorpusSpec
from pinpoint.tensors import entry_header

DATA_DIR = Path(__file__).resolve().parent.parent / "worker" / "engine" / "data"
NOISE_SCALE = 2.5  # blob noise std ~1.44 around centers in [-3, 3): separable, but not trivially
MAX_CHECKED_VALUES = 1 << 20
"""Largest synthetic dataset (samples x features) the coordinator regenerates to check a spec's hash
(about 0.6 s of one core); larger ones are refused: bring the data as an artifact."""


def _uniform(seed: int, stream: str, count: int) -> np.ndarray:
    """`count` float64 uniforms in [0, 1) from sha256(seed, stream, counter), 53 bits each."""
    blocks = -(-count // 4)
    prefix = f"pinpoint.blobs/1:{seed}:{stream}:".encode()
    raw = b"".join(hashlib.sha256(prefix + i.to_bytes(8, "little")).digest() for i in range(blocks))
    bits = np.frombuffer(raw, dtype="<u8")[:count]
    return (bits >> np.uint64(11)).astype(np.float64) * (2.0**-53)


def gaussian_blobs(spec: GaussianBlobsSpec) -> tuple[np.ndarray, np.ndarray]:
    """(features float32 (N, F), labels int64 (N,))."""
    n, f, k = spec.samples, spec.features, spec.classes
    centers = _uniform(spec.seed, "centers", k * f).reshape(k, f) * 6.0 - 3.0  # (K, F)
    u = _uniform(spec.seed, "noise", 4 * n * f).reshape(4, n, f)
    noise = (((u[0] - 0.5) + (u[1] - 0.5)) + ((u[2] - 0.5) + (u[3] - 0.5))) * NOISE_SCALE  # (N, F), fixed order
    labels = np.arange(n, dtype=np.int64) % k  # (N,)
    features = (centers[labels] + noise).astype(np.float32)  # (N, F)
    return features, labels


def arrays_hash(arrays: dict[str, np.ndarray]) -> str:
    """The state hash (64 hex digits) of little-endian, C-contiguous numpy arrays, by the engine's rule."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(entry_header(name, str(a.dtype), a.shape, a.nbytes))
        h.update(a.data)
    return h.hexdigest()


def corpus_bytes(corpus: str) -> bytes:
    """Raw bytes of a shipped corpus file."""
    return (DATA_DIR / f"{corpus}.txt").read_bytes()


@lru_cache(maxsize=256)
def content_hash(spec: DatasetSpec) -> str:
    """Content hash (64 hex digits) of the dataset the spec describes, ignoring the spec's own sha256."""
    if isinstance(spec, GaussianBlobsSpec):
        features, labels = gaussian_blobs(spec)
        return arrays_hash({"features": features, "labels": labels})
    if isinstance(spec, TextCorpusSpec):
        return hashlib.sha256(corpus_bytes(spec.corpus)).hexdigest()
    raise TypeError(f"unknown dataset spec {type(spec).__name__}")


def check_dataset(spec: DatasetSpec) -> None:
    """SpecError unless the dataset the spec names is the one its parameters make (and small enough to check)."""
    if isinstance(spec, GaussianBlobsSpec) and spec.samples * spec.features > MAX_CHECKED_VALUES:
        too_big = (f"dataset.samples: {spec.samples} x {spec.features} features is more than the "
                   f"{MAX_CHECKED_VALUES:,} values a synthetic dataset may have; bring larger data as an artifact")
        raise SpecError([too_big])
    actual = content_hash(spec.model_copy(update={"sha256": "0" * 64}))
    if actual != spec.sha256:
        raise SpecError([f"dataset.sha256: the dataset these parameters make hashes to {actual}, not {spec.sha256}"])
