"""The coordinator's REST API over a real chain and database: specs, artifacts, signed reports."""

import hashlib
import json
import os
import re

import pytest

from backend.indexer import Indexer
from pinpoint.chain import Chain
from pinpoint.client import CoordinatorClient, ReportConflict
from pinpoint.localnet import ANVIL_KEYS
from pinpoint.signing import SigningDomain, sign_request
from pinpoint.spec import example_inference_spec, example_mlp_spec
from tests.backend.scenario import (
    award,
    client,
    fresh_key,
    post_and_bid,
    signed,
    staked_solver,
    submitter_of,
    upload,
)
from tests.backend.scenario import report as signed_report
from tests.backend.test_fine_tuning import zero_weights
from tests.backend.test_indexer import RecordingDispatcher, drain
from tests.conftest import advance_time

ETHER = 10**18


def digest(data: bytes) -> str:
    return "0x" + hashlib.sha256(data).hexdigest()


def test_createJob_storesSpecContentAddressed(api):
    spec = example_mlp_spec()
    response = api.post("/v1/jobs", json=spec.model_dump(mode="json"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["spec_hash"] == spec.spec_hash() and body["created"] is True
    assert body["checkpoint_count"] == spec.checkpoint_count
    assert api.post("/v1/jobs", json=spec.model_dump(mode="json")).json()["created"] is False
    served = api.get(f"/v1/specs/{body['spec_hash']}").content
    assert digest(served) == body["spec_hash"]


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda s: s.update(steps=-1), "steps"),
        (lambda s: s.update(colour="blue"), "colour"),
        (lambda s: s["optimizer"].update(lr=100.0), "optimizer"),
        (lambda s: s.update(checkpoint_interval=7), "checkpoint_interval"),
        (lambda s: s["dataset"].update(sha256="ab" * 32), "dataset.sha256"),  # not what its parameters make
        (lambda s: s["profile"].update(torch_version="2.99.0"), "torch_version"),  # no such release
        (lambda s: s["model"].update(hidden_dim=65536, depth=64), "parameters"),  # a 1.1 TB MLP
        (lambda s: s.update(steps=10**6, checkpoint_interval=1), "checkpoint less often"),  # 10^6 checkpoints
    ],
)
def test_createJob_badSpec_saysWhatIsWrong(api, mutate, field):
    spec = json.loads(json.dumps(example_mlp_spec().model_dump(mode="json")))
    mutate(spec)
    response = api.post("/v1/jobs", json=spec)
    assert response.status_code == 422
    assert field in response.json()["detail"]


def test_readSpec_unknown_is404(api):
    assert api.get("/v1/specs/0x" + "00" * 32).status_code == 404


def test_artifacts_roundTrip_signedUploads_hashChecked(api, chain_stack):
    key = fresh_key(client(chain_stack))  # a funded address: a submitter preparing a job
    data = os.urandom(4096)
    path = f"/v1/artifacts/{digest(data)}"
    unsigned = api.put(path, content=data)
    assert unsigned.status_code == 401 and "sign" in unsigned.json()["detail"]
    assert unsigned.headers["content-type"] == "application/problem+json"
    assert upload(api, key, data).status_code == 201
    assert api.get(path).content == data
    assert upload(api, key, data).json()["created"] is False
    replayed_headers = signed(api, key, "PUT", path, digest=hashlib.sha256(data).digest())
    assert api.put(path, content=data, headers=replayed_headers).status_code in (200, 201)
    assert api.put(path, content=data, headers=replayed_headers).status_code == 409  # each signature once
    other = os.urandom(64)  # a body that is not what the path names
    wrong = api.put(f"/v1/artifacts/{digest(b'other')}", content=other,
                    headers=signed(api, key, "PUT", f"/v1/artifacts/{digest(b'other')}", digest=hashlib.sha256(b"other").digest()))
    assert wrong.status_code == 422 and "hashes to" in wrong.json()["detail"]
    assert not api.app.state.artifacts.exists(digest(b"other")) and not api.app.state.artifacts.exists(digest(other))
    broke = fresh_key(client(chain_stack), ether=0)  # no funds and no open job: no uploads
    refused = upload(api, broke, os.urandom(64))
    assert refused.status_code == 403 and "wei" in refused.json()["detail"]
    assert api.get("/v1/artifacts/../etc/passwd").status_code in (404, 422)
    assert api.get("/v1/artifacts/not-a-hash").status_code == 422
    assert api.get(f"/v1/artifacts/{digest(b'never uploaded')}").status_code == 404


def test_signedRequests_areBoundToTheirDeployment_route_andBody(api, chain_stack):
    key = fresh_key(client(chain_stack))
    data = os.urandom(256)
    path = f"/v1/artifacts/{digest(data)}"
    sha = hashlib.sha256(data).digest()
    domain = api.app.state.chain.signing_domain
    elsewhere = SigningDomain(domain.chain_id + 1, domain.market)  # the same key on another deployment
    for headers in (sign_request(key, elsewhere, "PUT", path, digest=sha),
                    signed(api, key, "POST", path, digest=sha),  # another method
                    signed(api, key, "PUT", path + "x", digest=sha)):  # another path
        # Each recovers some other address, which has no funds: refused, and nothing stored.
        assert api.put(path, content=data, headers=headers).status_code == 403
    assert not api.app.state.artifacts.exists(digest(data))
    too_long = signed(api, key, "PUT", path, digest=sha, ttl=3600)
    response = api.put(path, content=data, headers=too_long)
    assert response.status_code == 401 and "shorter expiry" in response.json()["detail"]
    mangled = dict(signed(api, key, "PUT", path, digest=sha), **{"X-Pinpoint-Nonce": "zz"})
    assert api.put(path, content=data, headers=mangled).status_code == 401


def test_reports_mustBeSignedByTheRightParty(api, chain_stack):
    submitter = Chain(chain_stack.rpc_url, chain_stack.deployment_file, ANVIL_KEYS[1])
    solver = Chain(chain_stack.rpc_url, chain_stack.deployment_file, ANVIL_KEYS[4])
    if solver.staking.functions.freeStake(solver.address).call() < ETHER:
        solver.transact("Staking", "deposit", value=ETHER)
    job_id = submitter.post_job("0x" + os.urandom(32).hex(), 2, 4, max_price=ETHER // 10,
                                bidding_seconds=60, execution_seconds=600, challenge_seconds=60)
    solver.transact("Market", "bid", job_id, ETHER // 20)
    advance_time(solver.w3, 61)
    solver.transact("Market", "closeBidding", job_id)
    drain(Indexer(Chain(chain_stack.rpc_url, chain_stack.deployment_file), api.app.state.sessions, RecordingDispatcher()))

    blob = os.urandom(256)
    assert upload(api, ANVIL_KEYS[4], blob).status_code == 201
    body = {"index": 1, "step": 4, "state_hash": "0x" + "ab" * 32, "artifact": digest(blob), "loss": 0.5}

    def report(key, body, kind="checkpoints"):
        return signed_report(api, key, job_id, kind, body)

    assert report(ANVIL_KEYS[4], body).json() == {"created": True}
    assert report(ANVIL_KEYS[4], body).json() == {"created": False}  # idempotent
    assert report(ANVIL_KEYS[1], body).status_code == 403  # not the solver
    conflicting = dict(body, state_hash="0x" + "cd" * 32)
    assert report(ANVIL_KEYS[4], conflicting).status_code == 409
    solver_client = CoordinatorClient(str(api.base_url), ANVIL_KEYS[4], api.app.state.chain.signing_domain)
    solver_client.http = api  # the real app, in process
    with pytest.raises(ReportConflict):  # the solver's client: an alarm, not "already reported"
        solver_client.report_checkpoint(job_id, 1, 4, conflicting["state_hash"], body["artifact"], None)
    assert report(ANVIL_KEYS[4], dict(body, index=2, step=5)).status_code == 422  # wrong step for the index
    assert report(ANVIL_KEYS[4], dict(body, index=2, step=8, artifact="0x" + "00" * 32)).status_code == 422
    path = f"/v1/jobs/{job_id}/checkpoints"
    headers = signed(api, ANVIL_KEYS[4], "POST", path, json.dumps(body).encode()) | {"Content-Type": "application/json"}
    forged = api.post(path, content=json.dumps(dict(body, index=2, step=8)).encode(), headers=headers)
    assert forged.status_code == 403  # a signature over other content recovers another address
    assert report(ANVIL_KEYS[4], dict(body, index=3, step=12, loss=float("nan"))).status_code == 422  # finite losses only
    assert report(ANVIL_KEYS[4], dict(body, index=3, step=12, loss=-1.0)).status_code == 422

    verdict = {"interval": 0, "agrees": True, "detail": "replayed"}
    refused = report(ANVIL_KEYS[4], verdict, "verdicts")  # staked, but the job's own solver
    assert refused.status_code == 403 and "solver" in refused.json()["detail"]
    assert report("0x" + "11" * 32, verdict, "verdicts").status_code == 403  # no stake
    job = api.get(f"/v1/jobs/{job_id}").json()
    assert job["state"] == "running" and job["solver"] == solver.address
    assert [c["index"] for c in job["checkpoints"]] == [1] and job["final_loss"] == 0.5
    assert job["verdicts"] == []
    assert api.get("/v1/jobs", params={"state": "nonsense"}).status_code == 422
    assert job_id in [j["id"] for j in api.get("/v1/jobs", params={"state": "running"}).json()["items"]]


def test_outputs_onlyForInferenceJobs_thatHaveAFinalRoot(api, chain_stack):
    assert api.get("/v1/jobs/999999/outputs").status_code == 404
    weights, inputs = zero_weights(example_mlp_spec().model), os.urandom(64)
    never_uploaded = api.post("/v1/jobs", json=example_inference_spec(digest(weights), digest(inputs), 2).model_dump(mode="json"))
    assert never_uploaded.status_code == 422 and "weights.sha256" in never_uploaded.json()["detail"]
    assert upload(api, ANVIL_KEYS[1], weights).status_code == 201 and upload(api, ANVIL_KEYS[1], inputs).status_code == 201
    training, inference = example_mlp_spec(), example_inference_spec(digest(weights), digest(inputs), 2)
    submitter = Chain(chain_stack.rpc_url, chain_stack.deployment_file, ANVIL_KEYS[1])
    jobs = {}
    for spec in (training, inference):
        accepted = api.post("/v1/jobs", json=spec.model_dump(mode="json")).json()
        jobs[spec.kind] = submitter.post_job(accepted["spec_hash"], spec.checkpoint_count, spec.checkpoint_interval,
                                             max_price=ETHER // 10, bidding_seconds=60, execution_seconds=600,
                                             challenge_seconds=60)
    drain(Indexer(Chain(chain_stack.rpc_url, chain_stack.deployment_file), api.app.state.sessions, RecordingDispatcher()))
    response = api.get(f"/v1/jobs/{jobs['train']}/outputs")
    assert response.status_code == 409 and "not an inference job" in response.json()["detail"]
    response = api.get(f"/v1/jobs/{jobs['inference']}/outputs")
    assert response.status_code == 409 and "no final root on chain yet" in response.json()["detail"]
    assert api.get(f"/v1/jobs/{jobs['inference']}/outputs", params={"limit": 0}).status_code == 422


def test_verdicts_onlyFromRegisteredVerifiers_oncePerInterval_neverFromTheSolver(api, chain_stack):
    reader = client(chain_stack)
    submitter, solver = submitter_of(chain_stack), staked_solver(chain_stack)
    run = post_and_bid(submitter, solver)
    award([run], solver)
    drain(Indexer(reader, api.app.state.sessions, RecordingDispatcher()))
    job_id = run.job_id
    verdict = {"interval": 1, "agrees": True, "detail": "replayed"}

    def report(key, body=verdict):
        return signed_report(api, key, job_id, "verdicts", body)

    staker, registered, nobody = (fresh_key(reader) for _ in range(3))
    client(chain_stack, staker).transact("Staking", "deposit", value=ETHER // 10)
    verifier = client(chain_stack, registered)
    verifier.transact("Audit", "register", value=max(reader.audit.functions.minVerifierStake().call(), 1))

    assert report(registered).status_code == 201
    again = report(registered)  # the same verdict, signed anew: one per verifier and interval
    assert again.status_code == 409 and "already" in again.json()["detail"]
    assert report(registered, dict(verdict, interval=0)).status_code == 201
    out_of_range = report(registered, dict(verdict, interval=10**6))
    assert out_of_range.status_code == 422 and "out of range" in out_of_range.json()["detail"]
    for key in (staker, nobody):  # stake in Staking is a solver's, not a verifier's registration
        response = report(key)
        assert response.status_code == 403 and "Audit" in response.json()["detail"]
    response = report("0x" + bytes(solver.account.key).hex())  # this is its own job
    assert response.status_code == 403 and "solver" in response.json()["detail"]

    verifier.transact("Audit", "requestExit")  # its stake leaves the registry at once: so does its voice
    assert report(registered, dict(verdict, interval=2)).status_code == 403

    address = reader.w3.eth.account.from_key(registered).address
    assert [(v["verifier"], v["interval"]) for v in api.get(f"/v1/jobs/{job_id}").json()["verdicts"]] == [
        (address, 1), (address, 0)]


def test_docs_areServedWithoutACdn_andTheRootLeadsThere(api):
    """/docs and /redoc load their scripts from the coordinator itself (it may have no internet), and / (the
    dashboard) links to them."""
    root = api.get("/", follow_redirects=False)
    assert root.status_code == 200 and 'href="/docs"' in root.text
    for page in ("/docs", "/redoc"):
        html = api.get(page).text
        scripts = re.findall(r'src="([^"]+)"', html)
        assert scripts and all(src.startswith("/") for src in scripts), scripts  # nothing from another host
        assert "cdn" not in html.lower()
        for src in scripts:
            served = api.get(src)
            assert served.status_code == 200 and len(served.content) > 100_000, src
