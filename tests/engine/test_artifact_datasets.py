"""Your data: datasets uploaded as safetensors artifacts (pinpoint.spec.ArtifactDatasetSpec), checked from
their header without torch (pinpoint/datasets.py) and trained on by the engine (worker/engine/datasets.py).

Run: .venv/bin/python -m pytest -p no:ape_test tests/engine/test_artifact_datasets.py
"""

import hashlib
import json
import platform

import numpy as np
import pytest

from pinpoint.datasets import (
    check_dataset,
    dataset_spec,
    features_artifact,
    images_artifact,
    stdlib_corpus,
    stdlib_sources,
    text_artifact,
)
from pinpoint.resources import estimate_resources
from pinpoint.spec import (
    SpecError,
    _merge,
    example_mlp_spec,
    example_transformer_spec,
    parse_spec,
)
from pinpoint.tensors import read_safetensors, read_safetensors_header, safetensors_file
from worker.engine.datasets import DatasetHashMismatch, DatasetInvalid, materialize
from worker.engine.training import Trainer

CORPUS_BYTES = 1 << 16  # a few stdlib modules: enough for a few steps, quick to hash


@pytest.fixture(scope="module")
def corpus() -> bytes:
    return stdlib_corpus(CORPUS_BYTES)


def _fetch(*blobs: bytes):
    store = {"0x" + hashlib.sha256(b).hexdigest(): b for b in blobs}
    return store.__getitem__


def _path(tmp_path, *blobs: bytes):
    """An artifact_path for check_dataset over files written to tmp_path."""
    for b in blobs:
        (tmp_path / hashlib.sha256(b).hexdigest()).write_bytes(b)
    return lambda digest: p if (p := tmp_path / digest[2:]).exists() else None


def on(example, dataset: dict, **overrides):
    """`example(**overrides)` with its dataset replaced (the examples deep-merge, which would keep old fields)."""
    spec = example().model_dump(mode="json") | {"dataset": dataset}
    return parse_spec(_merge(spec, overrides))


def char_spec(blob: bytes, **overrides):
    return on(example_transformer_spec, dataset_spec(blob, vocab_size=256), **overrides)


def test_stdlib_corpus_is_real_deterministic_and_recorded(corpus):
    """Built twice, the same bytes; it is the interpreter's own Lib/*.py, sorted, with the version recorded."""
    assert stdlib_corpus(CORPUS_BYTES) == corpus
    tensors, metadata = read_safetensors(corpus)
    text = bytes(np.frombuffer(tensors["tokens"].data, dtype="<u2").astype(np.uint8))
    paths = stdlib_sources(CORPUS_BYTES)
    assert [p.name for p in paths] == sorted(p.name for p in paths) and paths[0].name.startswith("_")
    assert text.startswith(f"\n# ===== Lib/{paths[0].name} =====\n".encode() + paths[0].read_bytes()[:100])
    assert metadata["pinpoint.source"] == "python-stdlib" and metadata["pinpoint.files"] == str(len(paths))
    assert metadata["pinpoint.python"] == platform.python_version()
    assert len(corpus) <= 8 + 512 + 2 * CORPUS_BYTES


def test_char_transformer_trains_on_uploaded_tokens_deterministically(corpus):
    """Hash-checked on load; training twice gives the same state hashes; the loss falls."""
    spec = char_spec(corpus, steps=8, checkpoint_interval=4)
    data = materialize(spec.dataset, _fetch(corpus))
    assert data.vocab_size == 256 and data.tokens.dtype.is_floating_point is False
    assert data.decode(data.tokens[:10].tolist()) == "\n# ===== L"
    runs = []
    for _ in range(2):
        trainer = Trainer(spec, dataset=materialize(spec.dataset, _fetch(corpus)))
        runs.append((trainer.run(), trainer.interval_losses))
    assert runs[0][0] == runs[1][0] and len(runs[0][0]) == 3
    assert runs[0][1][-1] < 5.6  # below ln(256): it learned something about Python source


def test_mlp_trains_on_features_and_on_images():
    rng = np.random.default_rng(0)
    labels = np.arange(64) % 3
    features = (rng.standard_normal((64, 16)) + labels[:, None]).astype(np.float32)
    blob = features_artifact(features, labels)
    spec = on(example_mlp_spec, dataset_spec(blob, classes=3), model={"num_classes": 3}, steps=8)
    first = Trainer(spec, dataset=materialize(spec.dataset, _fetch(blob))).run()
    assert first == Trainer(spec, dataset=materialize(spec.dataset, _fetch(blob))).run()

    images = rng.integers(0, 256, (40, 1, 4, 4), dtype=np.uint8)
    blob = images_artifact(images, np.arange(40) % 4)
    spec = on(example_mlp_spec, dataset_spec(blob, classes=4), steps=8)
    data = materialize(spec.dataset, _fetch(blob))
    assert data.features.shape == (40, 16) and float(data.features.max()) <= 1.0 and data.images.shape == (40, 1, 4, 4)
    assert len(Trainer(spec, dataset=data).run()) == 2  # checkpoints 0 and 1 (interval 8)


def test_the_engine_refuses_what_the_header_cannot_show(corpus):
    """Token ids beyond vocab_size and labels beyond classes are only visible in the data: the engine checks."""
    tokens = np.array([1, 2, 300, 4] * 50, dtype="<u2")
    blob = safetensors_file([("tokens", "uint16", tokens.shape, tokens.data)])
    spec = char_spec(blob, model={"context": 8})
    with pytest.raises(DatasetInvalid, match="outside"):
        materialize(spec.dataset, _fetch(blob))
    blob = features_artifact(np.zeros((8, 16), np.float32), np.arange(8) % 5)
    spec = on(example_mlp_spec, dataset_spec(blob, classes=4))
    with pytest.raises(DatasetInvalid, match="labels span"):
        materialize(spec.dataset, _fetch(blob))
    # the bytes must be the ones the spec names
    spec = char_spec(corpus)
    with pytest.raises(DatasetHashMismatch):
        materialize(spec.dataset, lambda digest: corpus + b" ")


def test_spec_refuses_layouts_models_cannot_use(corpus):
    with pytest.raises(SpecError, match="dataset.layout: model 'mlp' needs layout"):
        on(example_mlp_spec, dataset_spec(corpus, vocab_size=256))
    blob = features_artifact(np.zeros((8, 5), np.float32), np.zeros(8, np.int64))
    with pytest.raises(SpecError, match=r"model.input_dim: must equal dataset.shape's F \(5\)"):
        on(example_mlp_spec, dataset_spec(blob, classes=4))
    with pytest.raises(SpecError, match="dataset.layout: model 'char_transformer' needs layout 'tokens'"):
        on(example_transformer_spec, dataset_spec(blob, classes=4))
    with pytest.raises(SpecError, match="dataset.vocab_size: model 'char_transformer' takes at most 256"):
        on(example_transformer_spec, dataset_spec(corpus, vocab_size=1000))
    with pytest.raises(SpecError, match="dataset.vocab_size: layout 'tokens' needs vocab_size"):
        on(example_transformer_spec, dataset_spec(corpus))
    with pytest.raises(SpecError, match="dataset.dtype: layout 'tokens' holds int64 or uint16, not float32"):
        on(example_transformer_spec, dataset_spec(corpus, vocab_size=256) | {"dtype": "float32"})
    # the dataset's bytes count in the host memory estimate
    spec = char_spec(corpus)
    assert estimate_resources(spec).memory_bytes - estimate_resources(example_transformer_spec()).memory_bytes == \
        spec.dataset.shape[0] * (2 + 8)


def test_header_check_names_the_field_and_reads_only_the_header(tmp_path, corpus):
    spec = char_spec(corpus).dataset
    check_dataset(spec, _path(tmp_path, corpus))
    with pytest.raises(SpecError, match="dataset.sha256: artifact 0x[0-9a-f]{64} was never uploaded"):
        check_dataset(spec, lambda digest: None)
    blob = features_artifact(np.zeros((8, 16), np.float32), np.zeros(8, np.int64))
    path = _path(tmp_path, blob)
    mislabeled = spec.model_copy(update={"sha256": hashlib.sha256(blob).hexdigest()})
    with pytest.raises(SpecError, match="dataset.layout: layout 'tokens' needs a tensor 'tokens'.*looks like layout 'features'"):
        check_dataset(mislabeled, path)
    wrong_shape = on(example_mlp_spec, dataset_spec(blob, classes=4) | {"shape": [9, 16]})
    with pytest.raises(SpecError, match=r"dataset.shape: the artifact's 'features' has shape \[8, 16\], not \[9, 16\]"):
        check_dataset(wrong_shape.dataset, path)
    extra = safetensors_file([("tokens", "uint16", (4,), b"\0" * 8), ("x", "uint8", (1,), b"\0")])
    bad = spec.model_copy(update={"sha256": hashlib.sha256(extra).hexdigest(), "shape": (4,)})
    with pytest.raises(SpecError, match=r"dataset.layout: .*also holds \['x'\]"):
        check_dataset(bad, _path(tmp_path, extra))
    junk = b"\x10\0\0\0\0\0\0\0{not json at all"
    bad = spec.model_copy(update={"sha256": hashlib.sha256(junk).hexdigest()})
    with pytest.raises(SpecError, match="dataset.sha256: .* is not a safetensors file"):
        check_dataset(bad, _path(tmp_path, junk))
    # the header reader sees only the header: a file whose data is cut short still fails its size check
    truncated = tmp_path / "cut"
    truncated.write_bytes(corpus[:-2])
    with pytest.raises(ValueError, match="bad data_offsets"):
        read_safetensors_header(truncated)
    header, _ = read_safetensors_header(_path(tmp_path, corpus)("0x" + spec.sha256))
    assert header == {"tokens": ("uint16", tuple(spec.shape))}


def test_text_artifact_is_byte_level(tmp_path):
    text = "héllo\nwörld\n".encode()
    blob = text_artifact(text)
    assert text_artifact(text) == blob
    tokens, _ = read_safetensors(blob)
    assert np.frombuffer(tokens["tokens"].data, "<u2").tolist() == list(text)
    assert json.loads(json.dumps(dataset_spec(blob, vocab_size=256)))["shape"] == [len(text)]


def test_cli_writes_the_same_artifact_twice_and_prints_its_spec(tmp_path, capsys):
    from pinpoint.cli.job import main

    folder = tmp_path / "notes"
    (folder / "b").mkdir(parents=True)
    (folder / "a.txt").write_text("first\n")
    (folder / "b" / "c.txt").write_text("second\n")
    printed = []
    for name in ("one", "two"):
        assert main(["dataset", "text", str(folder), "-o", str(tmp_path / name)]) == 0
        printed.append(json.loads(capsys.readouterr().out))
    blob = (tmp_path / "one").read_bytes()
    assert blob == (tmp_path / "two").read_bytes() and printed[0] == printed[1]
    assert printed[0]["artifact"] == "0x" + hashlib.sha256(blob).hexdigest()
    assert printed[0]["dataset"] == dataset_spec(blob, vocab_size=256)
    tokens, _ = read_safetensors(blob)
    text = bytes(np.frombuffer(tokens["tokens"].data, "<u2").astype(np.uint8))
    assert text == b"\n# ===== a.txt =====\nfirst\n\n# ===== b/c.txt =====\nsecond\n"
    assert main(["dataset", "stdlib", "--max-bytes", str(CORPUS_BYTES), "-o", str(tmp_path / "std")]) == 0
    assert (tmp_path / "std").read_bytes() == stdlib_corpus(CORPUS_BYTES)
