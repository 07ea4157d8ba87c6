"""The coordinator's REST API over a real chain and database: specs, artifacts, signed reports."""

import hashlib
import json
import os

import pytest

from backend.indexer import Indexer
from pinpoint.chain import Chain
from pinpoint.localnet import ANVIL_KEYS
from pinpoint.signing import sign_report
from pinpoint.spec import example_inference_spec, example_mlp_spec
from tests.backend.scenario import (
    award,
    client,
    fresh_key,
    post_and_bid,
    staked_solver,
    submitter_of,
)
from tests.backend.test_indexer import RecordingDispatcher, drain
from tests.conftest import advance_time

ETHER = 10**18


def digest(data: bytes) -> str:
    return "0x" + hashlib.sha256(data).hexdigest()


def test_createJob_storesSpecContentAddressed(api):
    spec = example_mlp_spec()
    response = api.post("/jobs", json=spec.model_dump(mode="json"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["spec_hash"] == spec.spec_hash() and body["created"] is True
    assert body["checkpoint_count"] == spec.checkpoint_count
    assert api.post("/jobs", json=spec.model_dump(mode="json")).json()["created"] is False
    served = api.get(f"/specs/{body['spec_hash']}").content
    assert digest(served) == body["spec_hash"]


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda s: s.update(steps=-1), "steps"),
        (lambda s: s.update(colour="blue"), "colour"),
        (lambda s: s["optimizer"].update(lr=100.0), "optimizer"),
        (lambda s: s.update(checkpoint_interval=7), "checkpoint_interval"),
    ],
)
def test_createJob_badSpec_saysWhatIsWrong(api, mutate, field):
    spec = json.loads(json.dumps(example_mlp_spec().model_dump(mode="json")))
    mutate(spec)
    response = api.post("/jobs", json=spec)
    assert response.status_code == 422
    assert field in response.json()["detail"]


def test_readSpec_unknown_is404(api):
    assert api.get("/specs/0x" + "00" * 32).status_code == 404


def test_artifacts_roundTrip_andHashChecked(api):
    data = os.urandom(4096)
    assert api.put(f"/artifacts/{digest(data)}", content=data).status_code == 201
    assert api.get(f"/artifacts/{digest(data)}").content == data
    wrong = api.put(f"/artifacts/{digest(b'other')}", content=data)
    assert wrong.status_code == 422 and "hashes to" in wrong.json()["detail"]
    assert api.get("/artifacts/../etc/passwd").status_code in (404, 422)
    assert api.get("/artifacts/not-a-hash").status_code == 422
    assert api.get(f"/artifacts/{digest(b'never uploaded')}").status_code == 404


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
    api.put(f"/artifacts/{digest(blob)}", content=blob)
    body = {"index": 1, "step": 4, "state_hash": "0x" + "ab" * 32, "artifact": digest(blob), "loss": 0.5}

    def report(key, body, kind="checkpoints"):
        return api.post(f"/jobs/{job_id}/{kind}", json={"body": body, "signature": sign_report(key, kind, job_id, body)})

    assert report(ANVIL_KEYS[4], body).json() == {"created": True}
    assert report(ANVIL_KEYS[4], body).json() == {"created": False}  # idempotent
    assert report(ANVIL_KEYS[1], body).status_code == 403  # not the solver
    conflicting = dict(body, state_hash="0x" + "cd" * 32)
    assert report(ANVIL_KEYS[4], conflicting).status_code == 409
    assert report(ANVIL_KEYS[4], dict(body, index=2, step=5)).status_code == 422  # wrong step for the index
    assert report(ANVIL_KEYS[4], dict(body, index=2, step=8, artifact="0x" + "00" * 32)).status_code == 422
    forged = api.post(f"/jobs/{job_id}/checkpoints", json={"body": dict(body, index=2, step=8), "signature": sign_report(ANVIL_KEYS[4], "checkpoints", job_id, body)})
    assert forged.status_code == 403  # a signature over other content recovers another address

    verdict = {"interval": 0, "agrees": True, "detail": "replayed"}
    refused = report(ANVIL_KEYS[4], verdict, "verdicts")  # staked, but the job's own solver
    assert refused.status_code == 403 and "solver" in refused.json()["detail"]
    assert report("0x" + "11" * 32, verdict, "verdicts").status_code == 403  # no stake
    job = api.get(f"/jobs/{job_id}").json()
    assert job["state"] == "running" and job["solver"] == solver.address
    assert [c["index"] for c in job["checkpoints"]] == [1] and job["final_loss"] == 0.5
    assert job["verdicts"] == []
    assert api.get("/jobs", params={"state": "nonsense"}).status_code == 422
    assert job_id in [j["id"] for j in api.get("/jobs", params={"state": "running"}).json()]


def test_outputs_onlyForInferenceJobs_thatHaveAFinalRoot(api, chain_stack):
    assert api.get("/jobs/999999/outputs").status_code == 404
    training, inference = example_mlp_spec(), example_inference_spec("a" * 64, "b" * 64, 2)
    submitter = Chain(chain_stack.rpc_url, chain_stack.deployment_file, ANVIL_KEYS[1])
    jobs = {}
    for spec in (training, inference):
        accepted = api.post("/jobs", json=spec.model_dump(mode="json")).json()
        jobs[spec.kind] = submitter.post_job(accepted["spec_hash"], spec.checkpoint_count, spec.checkpoint_interval,
                                             max_price=ETHER // 10, bidding_seconds=60, execution_seconds=600,
                                             challenge_seconds=60)
    drain(Indexer(Chain(chain_stack.rpc_url, chain_stack.deployment_file), api.app.state.sessions, RecordingDispatcher()))
    response = api.get(f"/jobs/{jobs['train']}/outputs")
    assert response.status_code == 409 and "not an inference job" in response.json()["detail"]
    response = api.get(f"/jobs/{jobs['inference']}/outputs")
    assert response.status_code == 409 and "no final root on chain yet" in response.json()["detail"]
    assert api.get(f"/jobs/{jobs['inference']}/outputs", params={"limit": 0}).status_code == 422


def test_verdicts_fromVerifiersWithStakeInStakingOrAudit_neverFromTheSolver(api, chain_stack):
    reader = client(chain_stack)
    submitter, solver = submitter_of(chain_stack), staked_solver(chain_stack)
    run = post_and_bid(submitter, solver)
    award([run], solver)
    drain(Indexer(reader, api.app.state.sessions, RecordingDispatcher()))
    job_id = run.job_id
    verdict = {"interval": 1, "agrees": True, "detail": "replayed"}

    def report(key):
        return api.post(f"/jobs/{job_id}/verdicts",
                        json={"body": verdict, "signature": sign_report(key, "verdicts", job_id, verdict)})

    def stake(key) -> tuple[int, int]:
        address = reader.w3.eth.account.from_key(key).address
        staking = reader.staking.functions
        return (staking.freeStake(address).call() + staking.lockedStake(address).call(),
                reader.audit.functions.stakeOf(address).call())

    staker, registered, nobody = (fresh_key(reader) for _ in range(3))
    client(chain_stack, staker).transact("Staking", "deposit", value=ETHER // 10)
    verifier = client(chain_stack, registered)
    verifier.transact("Audit", "register", value=max(reader.audit.functions.minVerifierStake().call(), 1))
    assert stake(staker)[0] > 0 and stake(staker)[1] == 0  # Staking's stake alone
    assert stake(registered)[0] == 0 and stake(registered)[1] > 0  # the audit's stake alone
    assert stake(nobody) == (0, 0)

    assert report(staker).json() == {"created": True}
    assert report(registered).json() == {"created": True}
    response = report(nobody)
    assert response.status_code == 403 and "has no stake" in response.json()["detail"]
    response = report("0x" + bytes(solver.account.key).hex())  # staked in Staking, but this is its own job
    assert response.status_code == 403 and "solver" in response.json()["detail"]

    verifier.transact("Audit", "requestExit")  # its stake leaves the registry at once: so does its voice
    assert stake(registered) == (0, 0)
    response = report(registered)
    assert response.status_code == 403 and "has no stake" in response.json()["detail"]

    addresses = [reader.w3.eth.account.from_key(k).address for k in (staker, registered)]
    assert [v["verifier"] for v in api.get(f"/jobs/{job_id}").json()["verdicts"]] == addresses
