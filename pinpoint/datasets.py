"""The built-in datasets' bytes and content hashes, without torch: the coordinator checks a spec's dataset
hash with this before anyone bids, and the engine (worker/engine/datasets.py) trains on the same arrays.

- `gaussian_blobs`: generated from its seed with a platform-independent generator (sha256 in counter mode
  for uniform bits, then only IEEE add/multiply, so every machine gets the same bytes). Class c has a center
  drawn uniformly in [-3, 3)^features; an example is its center plus noise that is the sum of four uniforms
  in [-0.5, 0.5) times 2.5 (an Irwin-Hall approximation of a Gaussian, std ~1.44); labels cycle
  0..classes-1. Content hash = the state hash (worker/engine/state.py) of {"features": float32
  (samples, features), "labels": int64 (samples,)}.
- `text_corpus`: a UTF-8 text shipped in `worker/engine/data/`. Content hash = sha256 of the file bytes.
- `artifact`: your data, an uploaded safetensors file (pinpoint.spec.ArtifactDatasetSpec has the layouts).
  Content hash = sha256 of the file bytes. At POST /jobs the coordinator reads only the file's header
  (`check_artifact_header`); the builders below make such files: `text_artifact` (byte-level tokens, vocab
  256, no download), `features_artifact`, `images_artifact`, and `stdlib_corpus` (real text nobody here wrote:
  the running Python's own standard library sources), each deterministic (same input, same bytes).
"""

from __future__ import annotations

import hashlib
import platform
import sysconfig
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np

from pinpoint.spec import (
    ARTIFACT_LAYOUTS,
    ArtifactDatasetSpec,
    DatasetSpec,
    GaussianBlobsSpec,
    SpecError,
    TextCorpusSpec,
)
from pinpoint.tensors import (
    SafetensorsError,
    entry_header,
    read_safetensors_header,
    safetensors_file,
)

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


def check_dataset(spec: DatasetSpec, artifact_path: Callable[[str], Path | None] | None = None) -> None:
    """SpecError unless the dataset the spec names is the one its parameters make (and small enough to check);
    for an uploaded artifact, unless `artifact_path("0x" + sha256)` (None: never uploaded) is a safetensors file
    whose header matches the spec (only the header is read)."""
    if isinstance(spec, ArtifactDatasetSpec):
        path = artifact_path("0x" + spec.sha256) if artifact_path is not None else None
        if path is None:
            raise SpecError([f"dataset.sha256: artifact 0x{spec.sha256} was never uploaded; upload it first"])
        try:
            tensors, _ = read_safetensors_header(path)
        except SafetensorsError as exc:
            raise SpecError([f"dataset.sha256: artifact 0x{spec.sha256} is not a safetensors file: {exc}"]) from None
        check_artifact_header(spec, tensors)
        return
    if isinstance(spec, GaussianBlobsSpec) and spec.samples * spec.features > MAX_CHECKED_VALUES:
        too_big = (f"dataset.samples: {spec.samples} x {spec.features} features is more than the "
                   f"{MAX_CHECKED_VALUES:,} values a synthetic dataset may have; bring larger data as an artifact")
        raise SpecError([too_big])
    actual = content_hash(spec.model_copy(update={"sha256": "0" * 64}))
    if actual != spec.sha256:
        raise SpecError([f"dataset.sha256: the dataset these parameters make hashes to {actual}, not {spec.sha256}"])


# ---------------------------------------------------------------- uploaded datasets (artifacts)


def artifact_tensors(spec: ArtifactDatasetSpec) -> dict[str, tuple[str, tuple[int, ...]]]:
    """The tensors (canonical dtype, shape) by name that an artifact of this spec holds, exactly."""
    main, _, _ = ARTIFACT_LAYOUTS[spec.layout]
    tensors = {main: (spec.dtype, tuple(spec.shape))}
    if spec.layout != "tokens":
        tensors["labels"] = ("int64", (spec.shape[0],))
    return tensors


def check_artifact_header(spec: ArtifactDatasetSpec, tensors: dict[str, tuple[str, tuple[int, ...]]]) -> None:
    """SpecError naming the field unless the file's tensors (from its header) are what the spec declares."""
    expected, problems = artifact_tensors(spec), []
    main = ARTIFACT_LAYOUTS[spec.layout][0]
    if main not in tensors:
        layouts = [name for name, (tensor, _, _) in ARTIFACT_LAYOUTS.items() if tensor in tensors]
        guess = f" (it looks like layout '{layouts[0]}')" if layouts else ""
        holds = sorted(tensors) or "no tensors"
        raise SpecError([f"dataset.layout: layout '{spec.layout}' needs a tensor '{main}'; the artifact holds {holds}{guess}"])
    extra, missing = sorted(set(tensors) - set(expected)), sorted(set(expected) - set(tensors))
    if extra or missing:
        differences = " and ".join(([f"also holds {extra}"] if extra else []) + ([f"lacks {missing}"] if missing else []))
        problems.append(f"dataset.layout: layout '{spec.layout}' holds exactly {sorted(expected)}; the artifact {differences}")
    dtype, shape = tensors[main]
    if dtype != spec.dtype:
        problems.append(f"dataset.dtype: the artifact's '{main}' is {dtype}, not {spec.dtype}")
    if shape != tuple(spec.shape):
        problems.append(f"dataset.shape: the artifact's '{main}' has shape {list(shape)}, not {list(spec.shape)}")
    if "labels" in expected and "labels" in tensors and tensors["labels"] != expected["labels"]:
        problems.append(f"dataset.shape: the artifact's 'labels' are {tensors['labels'][0]} {list(tensors['labels'][1])}; "
                        f"layout '{spec.layout}' needs int64 [{spec.shape[0]}] (one label per example)")
    if problems:
        raise SpecError(problems)


def _metadata(layout: str, extra: dict[str, str] | None) -> dict[str, str]:
    return {"pinpoint.dataset": layout, **(extra or {})}


def tokens_artifact(tokens: np.ndarray, metadata: dict[str, str] | None = None) -> bytes:
    """A `tokens` artifact: a 1-D int64 or uint16 token stream (same tokens, same bytes)."""
    tokens = np.ascontiguousarray(tokens)
    if tokens.ndim != 1 or tokens.dtype not in (np.int64, np.uint16) or not len(tokens):
        raise ValueError("tokens must be a non-empty 1-D int64 or uint16 array")
    tokens = tokens.astype(tokens.dtype.newbyteorder("<"), copy=False)
    return safetensors_file([("tokens", str(tokens.dtype.name), tokens.shape, tokens.data)], _metadata("tokens", metadata))


def text_artifact(text: bytes, metadata: dict[str, str] | None = None) -> bytes:
    """Byte-level tokens of `text` (uint16, vocab 256: every byte is a token; no tokenizer, no download)."""
    return tokens_artifact(np.frombuffer(text, dtype=np.uint8).astype("<u2"), {"pinpoint.vocab": "bytes", **(metadata or {})})


def _classification(name: str, values: np.ndarray, labels: np.ndarray, metadata: dict[str, str] | None) -> bytes:
    values = np.ascontiguousarray(values)
    labels = np.ascontiguousarray(labels, dtype="<i8")
    if labels.shape != (len(values),) or not len(values):
        raise ValueError(f"labels must be int64 (N,) with one label per example; {name} has {len(values)} rows")
    if labels.min() < 0:
        raise ValueError("labels must be non-negative")
    entries = [(name, values.dtype.name, values.shape, values.data), ("labels", "int64", labels.shape, labels.data)]
    return safetensors_file(entries, _metadata(name, metadata))


def features_artifact(features: np.ndarray, labels: np.ndarray, metadata: dict[str, str] | None = None) -> bytes:
    """A `features` artifact: float32 (N, F) and int64 labels (N,)."""
    if features.ndim != 2:
        raise ValueError(f"features must be (N, F), got shape {features.shape}")
    return _classification("features", features.astype("<f4", copy=False), labels, metadata)


def images_artifact(images: np.ndarray, labels: np.ndarray, metadata: dict[str, str] | None = None) -> bytes:
    """An `images` artifact: uint8 (N, H, W) or (N, C, H, W) and int64 labels (N,)."""
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise ValueError(f"images must be uint8 (N, H, W) or (N, C, H, W), got {images.dtype} {images.shape}")
    return _classification("images", images, labels, metadata)


def dataset_spec(blob: bytes, **facts) -> dict:
    """The `dataset` entry of a spec for artifact `blob` (made by the builders above): layout, dtype and shape
    from its header, plus `facts` (vocab_size for tokens, classes for features and images)."""
    from pinpoint.tensors import read_safetensors

    tensors, _ = read_safetensors(blob)
    for layout, (main, _, _) in ARTIFACT_LAYOUTS.items():
        if main in tensors:
            t = tensors[main]
            return {"name": "artifact", "sha256": hashlib.sha256(blob).hexdigest(), "layout": layout,
                    "dtype": t.dtype, "shape": list(t.shape), **facts}
    raise ValueError(f"no dataset layout holds {sorted(tensors)}")


STDLIB_CORPUS_BYTES = 1 << 20
"""Default size of the standard-library corpus: whole files, in name order, until the next would pass it."""


def stdlib_sources(max_bytes: int = STDLIB_CORPUS_BYTES) -> list[Path]:
    """The running interpreter's top-level standard library modules (`Lib/*.py`), sorted by name, as many
    whole files as fit in `max_bytes` with their separators."""
    root = Path(sysconfig.get_paths()["stdlib"])
    chosen, total = [], 0
    for path in sorted(root.glob("*.py"), key=lambda p: p.name):
        size = len(_separator(path.name)) + path.stat().st_size
        if total + size > max_bytes:
            break
        chosen.append(path)
        total += size
    return chosen


def _separator(name: str) -> bytes:
    return f"\n# ===== Lib/{name} =====\n".encode()


def text_of(path: Path) -> bytes:
    """A file's bytes, or a folder's files (recursively, hidden ones skipped) in sorted relative-path order,
    each after a line `# ===== <relative path> =====`: the same folder gives the same bytes anywhere."""
    path = Path(path)
    if path.is_file():
        return path.read_bytes()
    files = sorted((f for f in path.rglob("*") if f.is_file() and not any(part.startswith(".") for part in
                    f.relative_to(path).parts)), key=lambda f: f.relative_to(path).as_posix())
    if not files:
        raise ValueError(f"{path}: no files")
    return b"".join(f"\n# ===== {f.relative_to(path).as_posix()} =====\n".encode() + f.read_bytes() for f in files)


def stdlib_corpus(max_bytes: int = STDLIB_CORPUS_BYTES) -> bytes:
    """Real text nobody here wrote: the running Python's standard library sources (`stdlib_sources`), each
    after a separator line naming it, concatenated, as a byte-level `tokens` artifact (vocab 256). Its bytes
    and sha256 depend on the exact Python build (recorded in the metadata): build it with this function
    (or `pinpoint job dataset stdlib`), never by hand."""
    paths = stdlib_sources(max_bytes)
    text = b"".join(_separator(p.name) + p.read_bytes() for p in paths)
    metadata = {"pinpoint.source": "python-stdlib", "pinpoint.python": platform.python_version(),
                "pinpoint.python_implementation": platform.python_implementation(), "pinpoint.files": str(len(paths))}
    return text_artifact(text, metadata)
