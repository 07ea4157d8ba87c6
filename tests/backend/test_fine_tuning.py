"""Your weights through the API: a fine-tuning job names its starting weights (a previous job's final
checkpoint, uploaded) and the parameters that train; POST /jobs reads the artifact's header and refuses
weights that do not fit the model, naming the field, before anyone bids. Inference weights get the same check."""

import hashlib
import math

import pytest

from pinpoint.client import CoordinatorClient
from pinpoint.spec import example_inference_spec, example_mlp_spec
from pinpoint.tensors import safetensors_file
from tests.backend.scenario import client, fresh_key, upload
from worker.engine.artifacts import set_artifact_source
from worker.engine.checkpoint import save_checkpoint
from worker.engine.training import Trainer


def zero_weights(model, rename=lambda name: f"model.{name}", shape=lambda s: s) -> bytes:
    return safetensors_file([(rename(name), "float32", shape(s), bytes(4 * math.prod(shape(s))))
                             for name, s in model.parameter_shapes()])


@pytest.fixture
def coordinator(api):
    c = CoordinatorClient("http://testserver")
    c.http = api
    set_artifact_source(c.download_artifact)  # as worker/tasks.py does for solvers and verifiers
    yield c
    set_artifact_source(None)


def test_fineTuningJob_fromAnUploadedCheckpoint_isAccepted_andTrainsFromTheApi(api, chain_stack, coordinator):
    key = fresh_key(client(chain_stack))
    pretrained = []
    Trainer(example_mlp_spec(steps=8)).run(lambda checkpoint, _: pretrained.append(checkpoint))
    blob = save_checkpoint(pretrained[-1])
    spec = example_mlp_spec(init={"sha256": hashlib.sha256(blob).hexdigest()}, trainable=["net.4.*"], steps=16)
    body = spec.model_dump(mode="json")

    refused = api.post("/v1/jobs", json=body)
    assert refused.status_code == 422 and "init.sha256" in refused.json()["detail"] and "never uploaded" in refused.text
    assert upload(api, key, blob).status_code == 201
    accepted = api.post("/v1/jobs", json=body)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["spec_hash"] == spec.spec_hash()

    fetched = coordinator.spec(spec.spec_hash())
    assert fetched.init.sha256 == spec.init.sha256 and fetched.trainable == ["net.4.*"]
    hashes = Trainer(fetched).run()
    assert hashes == Trainer(spec).run() and len(hashes) == 3


@pytest.mark.parametrize("case", ["not_safetensors", "wrong_shape", "missing", "float64", "padded"])
def test_weightsThatDoNotFitTheModel_areRefusedAtPost_namingTheField(api, chain_stack, case):
    key = fresh_key(client(chain_stack))
    model = example_mlp_spec().model
    blob = {
        "not_safetensors": b"\x00" * 64,
        "wrong_shape": zero_weights(model, shape=lambda s: (s[0] + 1, *s[1:])),
        "missing": zero_weights(model, rename=lambda name: f"model.{name}" if name.startswith("net.0") else f"other.{name}"),
        "float64": safetensors_file([(f"model.{n}", "float64", s, bytes(8 * math.prod(s))) for n, s in model.parameter_shapes()]),
        # the model's weights and a non-model entry bigger than any checkpoint: every host would fetch it all
        "padded": safetensors_file([(f"model.{n}", "float32", s, bytes(4 * math.prod(s))) for n, s in model.parameter_shapes()]
                                   + [("extra", "uint8", (2 << 20,), bytes(2 << 20))]),
    }[case]
    assert upload(api, key, blob).status_code == 201
    digest = hashlib.sha256(blob).hexdigest()
    expected = {"not_safetensors": "not a safetensors file", "wrong_shape": "model 'mlp' needs float32 [64, 16]",
                "missing": "lack 4 parameter(s)", "float64": "is float64", "padded": "bytes of tensors"}[case]
    for spec, field in ((example_mlp_spec(init={"sha256": digest}), "init.sha256"),
                        (example_inference_spec(digest, "ab" * 32, 2), "weights.sha256")):
        if spec.kind == "inference":
            assert upload(api, key, b"inputs " + digest.encode()).status_code == 201
            spec = example_inference_spec(digest, hashlib.sha256(b"inputs " + digest.encode()).hexdigest(), 2)
        response = api.post("/v1/jobs", json=spec.model_dump(mode="json"))
        assert response.status_code == 422, response.text
        assert field in response.json()["detail"] and expected in response.json()["detail"]
    good = zero_weights(model)
    assert upload(api, key, good).status_code == 201
    assert api.post("/v1/jobs", json=example_mlp_spec(init={"sha256": hashlib.sha256(good).hexdigest()}).model_dump(mode="json")).status_code == 201
