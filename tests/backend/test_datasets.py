"""Your data through the API: a dataset uploaded as an artifact, its header checked at POST /jobs before anyone
bids, then fetched (hash-checked) and trained on as a solver or verifier would. The data is real text nobody
here wrote: the running Python's standard library sources (pinpoint.datasets.stdlib_corpus)."""

import hashlib

import numpy as np
import pytest

from pinpoint.client import CoordinatorClient
from pinpoint.datasets import dataset_spec, features_artifact, stdlib_corpus
from pinpoint.spec import _merge, example_transformer_spec, parse_spec
from tests.backend.scenario import client, fresh_key, upload
from worker.engine.artifacts import set_artifact_source
from worker.engine.datasets import materialize
from worker.engine.training import Trainer


def on_dataset(dataset: dict, model: dict | None = None, **overrides) -> dict:
    """The example char-transformer job's JSON with `dataset` (and `model`, if given) replaced."""
    spec = example_transformer_spec().model_dump(mode="json") | {"dataset": dataset}
    spec["model"] = model or spec["model"]
    return parse_spec(_merge(spec, overrides)).model_dump(mode="json")


@pytest.fixture
def coordinator(api):
    """A CoordinatorClient over the TestClient (what workers use: it checks every download's hash)."""
    c = CoordinatorClient("http://testserver")
    c.http = api
    return c


def test_uploadedCorpus_isCheckedAtPost_andTrainsFromTheApi_deterministically(api, chain_stack, coordinator):
    key = fresh_key(client(chain_stack))
    corpus = stdlib_corpus(1 << 16)
    assert hashlib.sha256(stdlib_corpus(1 << 16)).digest() == hashlib.sha256(corpus).digest()  # built twice, same
    spec = on_dataset(dataset_spec(corpus, vocab_size=256), steps=8, checkpoint_interval=4)

    refused = api.post("/v1/jobs", json=spec)  # before the upload
    assert refused.status_code == 422 and "dataset.sha256" in refused.json()["detail"]
    assert "never uploaded" in refused.json()["detail"]
    assert upload(api, key, corpus).status_code == 201
    accepted = api.post("/v1/jobs", json=spec)
    assert accepted.status_code == 201, accepted.text

    fetched = coordinator.spec(accepted.json()["spec_hash"])
    runs = []
    set_artifact_source(coordinator.download_artifact)  # as worker/tasks.py does for solvers and verifiers
    try:
        for _ in range(2):
            runs.append(Trainer(fetched).run())
    finally:
        set_artifact_source(None)
    assert runs[0] == runs[1] and len(runs[0]) == 3
    data = materialize(fetched.dataset, coordinator.download_artifact)
    assert data.tokens.shape == (fetched.dataset.shape[0],)


def test_headerMismatches_areRefused_namingTheField(api, chain_stack):
    key = fresh_key(client(chain_stack))
    blob = features_artifact(np.zeros((8, 16), np.float32), np.zeros(8, np.int64))
    assert upload(api, key, blob).status_code == 201
    digest = hashlib.sha256(blob).hexdigest()
    tokens = {"name": "artifact", "sha256": digest, "layout": "tokens", "dtype": "uint16", "shape": [64],
              "vocab_size": 256}
    response = api.post("/v1/jobs", json=on_dataset(tokens))
    assert response.status_code == 422 and "dataset.layout" in response.json()["detail"]
    assert "looks like layout 'features'" in response.json()["detail"]
    features = {"name": "artifact", "sha256": digest, "layout": "features", "dtype": "float32",
                          "shape": [9, 16], "classes": 4}
    mlp = {"name": "mlp", "input_dim": 16, "hidden_dim": 8, "depth": 1, "num_classes": 4}
    response = api.post("/v1/jobs", json=on_dataset(features, mlp))
    assert response.status_code == 422 and "dataset.shape" in response.json()["detail"], response.text
    ok = on_dataset(features | {"shape": [8, 16]}, mlp)
    assert api.post("/v1/jobs", json=ok).status_code == 201
