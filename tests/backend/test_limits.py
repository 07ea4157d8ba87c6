"""Limits and the error shape, on the real app (tests/backend/conftest.py `api`): bodies capped before they
are read, small errors whatever was sent, 429 with Retry-After, no 500 for client input (readiness:
tests/backend/test_operations.py)."""

import asyncio
import json
import time

import pytest
from fastapi.testclient import TestClient

from backend.api.limits import BodyLimit, InFlightLimit, RateLimit
from backend.app import MAX_BODY_BYTES, create_app
from backend.models import Job
from pinpoint.settings import Settings
from pinpoint.spec import example_mlp_spec


def run_asgi(app, method: str, path: str, headers: list[tuple[bytes, bytes]], receive):
    sent = []

    async def send(message):
        sent.append(message)

    asyncio.run(app({"type": "http", "method": method, "path": path, "headers": headers, "client": ("1.2.3.4", 5)},
                    receive, send))
    return sent


def test_bodyLimit_refusesADeclaredOversizedBody_withoutReadingIt():
    async def never_called(*_):
        raise AssertionError("the app was called")

    async def receive():
        raise AssertionError("the body was read")

    limited = BodyLimit(never_called, limit_for=lambda method, path: 1 << 30)
    sent = run_asgi(limited, "PUT", "/v1/artifacts/x", [(b"content-length", str(2 << 30).encode())], receive)
    assert sent[0]["status"] == 413
    assert b"exceeds this route's limit" in sent[1]["body"] and len(sent[1]["body"]) < 400


def test_bodyLimit_stopsAStreamThatLiesAboutItsLength():
    chunks = [b"x" * 1000] * 100
    read = []

    async def receive():
        read.append(1)
        return {"type": "http.request", "body": chunks.pop(), "more_body": bool(chunks)}

    async def app(scope, receive_, send):
        while (await receive_())["more_body"]:
            pass

    sent = run_asgi(BodyLimit(app, limit_for=lambda *_: 4096), "POST", "/v1/jobs", [], receive)
    assert sent[0]["status"] == 413 and len(read) == 5  # stopped at the first chunk past the limit


def test_rateLimit_answers429WithRetryAfter_perClient_andLetsReadsThrough():
    async def ok(scope, receive, send):
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive():
        return {"type": "http.request", "body": b""}

    limited = RateLimit(ok, rate=1, burst=3)
    statuses = [run_asgi(limited, "POST", "/v1/jobs", [], receive)[0]["status"] for _ in range(5)]
    assert statuses == [204, 204, 204, 429, 429]
    refused = run_asgi(limited, "POST", "/v1/jobs", [], receive)
    assert dict(refused[0]["headers"])[b"retry-after"] == b"1"
    assert run_asgi(limited, "GET", "/v1/jobs", [], receive)[0]["status"] == 204  # reads are not rate limited


def test_inFlightLimit_answers503WithRetryAfter_beyondItsLimit():
    release = asyncio.Event()

    async def slow(scope, receive, send):
        await release.wait()
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def scenario():
        limited, sent = InFlightLimit(slow, limit=2), [[] for _ in range(3)]

        async def call(i):
            async def send(message):
                sent[i].append(message)
            await limited({"type": "http", "method": "GET", "path": "/v1/jobs", "headers": []}, None, send)

        tasks = [asyncio.create_task(call(i)) for i in range(2)]
        await asyncio.sleep(0)
        await call(2)  # the third while two are in flight
        release.set()
        await asyncio.gather(*tasks)
        return [s[0]["status"] for s in sent], dict(sent[2][0]["headers"])

    statuses, headers = asyncio.run(scenario())
    assert statuses == [204, 204, 503] and headers[b"retry-after"] == b"1"


def test_hostileBodies_getSmallProblemDetails_neverAnEcho(api):
    huge_keys = {f"k{i}": "v" * 64 for i in range(700)}  # ~50 KiB of unknown keys, just under the cap
    response = api.post("/v1/jobs", content=json.dumps(huge_keys))
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
    assert len(response.content) < 2000
    secret = "s" * 60_000
    response = api.post("/v1/jobs", content=json.dumps(dict(example_mlp_spec().model_dump(mode="json"), version=secret)))
    assert response.status_code == 422 and secret[:100] not in response.text
    too_big = api.post("/v1/jobs", content=b"{" + b" " * MAX_BODY_BYTES + b"}")
    assert too_big.status_code == 413
    for kind in ([], {}, 7, None):
        response = api.post("/v1/jobs", json=dict(example_mlp_spec().model_dump(mode="json"), kind=kind))
        assert response.status_code == 422 and "kind" in response.json()["detail"], kind
    nested = api.post("/v1/jobs", content=b"[" * 30_000 + b"]" * 30_000)
    assert nested.status_code == 422
    problem = api.post("/v1/jobs", content=b"not json").json()
    assert set(problem) >= {"type", "title", "status", "detail"} and problem["status"] == 422


@pytest.mark.parametrize("path", ["/v1/jobs/9223372036854775808", "/v1/jobs/2147483648", "/v1/jobs/-1",
                                  "/v1/jobs/2147483648/outputs", "/v1/jobs/99999999999999999999/checkpoints"])
def test_jobIdsOutOfRange_are422_notAServerError(api, path):
    if path.endswith("checkpoints"):  # a write: refused unsigned before its path is looked at
        assert api.post(path, json={}).status_code == 401
    else:
        assert api.get(path).status_code == 422


def test_methodNotAllowed_listsEveryMethodOfThePath(api):
    response = api.delete("/v1/artifacts/0x" + "00" * 32)
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == {"GET", "PUT"}
    assert response.json()["status"] == 405


def test_readCache_servesAnonymousReadsForItsSeconds_thenTheIndexAgain(chain_stack, database_url, tmp_path):
    settings = Settings(home=tmp_path, rpc_url=chain_stack.rpc_url, deployment_file=chain_stack.deployment_file,
                        database_url=database_url, read_cache_seconds=0.5)
    with TestClient(create_app(settings, run_indexer=False)) as client:
        with client.app.state.sessions() as session:
            session.add(Job(id=7, spec_hash="0x" + "ab" * 32, submitter="0x" + "11" * 20, state="bidding",
                            max_price="1", required_stake="1", checkpoint_count=1, checkpoint_interval=1,
                            bidding_deadline=1, updated_block=1))
            session.commit()
        assert client.get("/v1/jobs/7").json()["state"] == "bidding"
        with client.app.state.sessions() as session:
            session.get(Job, 7).state = "running"
            session.commit()
        assert client.get("/v1/jobs/7").json()["state"] == "bidding"  # within the cache's half second
        time.sleep(0.6)
        assert client.get("/v1/jobs/7").json()["state"] == "running"
