"""Operating the coordinator: liveness and readiness against real Anvil nodes that stop and start, Prometheus
metrics that move with real requests and a real index, job lists paged and filtered, one-line logs of a real
`pinpoint-coordinator index` process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from backend.app import create_app
from backend.indexer import Indexer
from backend.models import IndexerCursor, Job
from pinpoint.chain import Chain
from pinpoint.client import CoordinatorClient
from pinpoint.localnet import NODE_BIN, REPO, free_port, port_open, wait_until
from pinpoint.settings import Settings
from tests.backend.scenario import fresh_key

ETHER = 10**18


def scrape(client: TestClient) -> dict[tuple[str, frozenset], float]:
    """Every sample of /metrics, keyed by name and labels."""
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def sample(metrics: dict, name: str, **labels) -> float:
    return metrics.get((name, frozenset(labels.items())), 0.0)


def drain(indexer: Indexer) -> int:
    """Poll until the index holds the chain's head; returns the last indexed block."""
    head = indexer.chain.w3.eth.block_number
    for _ in range(100):
        indexer.poll_once()
        with indexer.sessions() as session:
            cursor = session.get(IndexerCursor, "market")
            if cursor is not None and cursor.next_block > head:
                return cursor.next_block - 1
    raise AssertionError("the indexer did not catch up")


@contextmanager
def anvil(port: int, *options: str):
    """An Anvil node of its own (the session's chain is shared: it is never stopped)."""
    binary = shutil.which("anvil", path=str(NODE_BIN)) or shutil.which("anvil")
    process = subprocess.Popen([binary, "--port", str(port), "--host", "127.0.0.1", "--silent", *options])
    try:
        wait_until(lambda: port_open(port), "anvil", 30, process)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=20)


def app_on(rpc_url: str, chain_stack, tmp_path: Path, indexer: bool = False, **settings) -> TestClient:
    """The coordinator on the chain at `rpc_url` with the session's deployment file, and its own database."""
    return TestClient(create_app(Settings(home=tmp_path, rpc_url=rpc_url, deployment_file=chain_stack.deployment_file,
                                          read_cache_seconds=0, **settings), run_indexer=indexer))


# --- metrics ------------------------------------------------------------------------------------------


def test_metrics_countRequestsByRouteTemplate_andJobsByStateFromTheIndex(api, chain_stack):
    reader = Chain(chain_stack.rpc_url, chain_stack.deployment_file)
    indexer = Indexer(reader, api.app.state.sessions, None)
    drain(indexer)
    before = scrape(api)

    submitter = Chain(chain_stack.rpc_url, chain_stack.deployment_file, fresh_key(reader))
    job_id = submitter.post_job("0x" + os.urandom(32).hex(), 2, 2, max_price=ETHER // 10, bidding_seconds=3600,
                                execution_seconds=600, challenge_seconds=reader.minimum_challenge_seconds())
    last = drain(indexer)
    assert api.get(f"/v1/jobs/{job_id}").status_code == 200
    assert api.get("/v1/jobs/2147483000").status_code == 404
    assert api.get("/no/such/path").status_code == 404
    after = scrape(api)

    # A job indexed: one more in bidding, read from the database at the scrape.
    assert sample(after, "pinpoint_jobs", state="bidding") == sample(before, "pinpoint_jobs", state="bidding") + 1
    assert sample(after, "pinpoint_indexer_last_block") == last
    assert sample(after, "pinpoint_chain_head_block") >= last
    assert sample(after, "pinpoint_indexer_lag_blocks") == sample(after, "pinpoint_chain_head_block") - last
    assert ("pinpoint_outbox_undispatched", frozenset()) in after
    # Requests by route template (never the raw path) and status; one latency observation each.
    job_route = {"method": "GET", "route": "/v1/jobs/{job_id}"}
    for status, more in (("200", 1), ("404", 1)):
        assert (sample(after, "pinpoint_http_requests_total", **job_route, status=status)
                == sample(before, "pinpoint_http_requests_total", **job_route, status=status) + more)
    assert (sample(after, "pinpoint_http_requests_total", method="GET", route="unmatched", status="404")
            == sample(before, "pinpoint_http_requests_total", method="GET", route="unmatched", status="404") + 1)
    assert (sample(after, "pinpoint_http_request_duration_seconds_count", **job_route)
            == sample(before, "pinpoint_http_request_duration_seconds_count", **job_route) + 2)


def test_metrics_areOutsideTheVersionedApi_andItsSchema(api):
    assert "/metrics" not in api.get("/openapi.json").json()["paths"]
    assert api.get("/v1/metrics").status_code == 404
    assert {"/health", "/ready"} <= set(api.get("/openapi.json").json()["paths"])


def test_metrics_ofEveryApiProcess_areServedByAnyOfThem(chain_stack, tmp_path):
    """`serve --workers 2`: whichever process answers the scrape, it counts the requests both served."""
    port = free_port()
    env = dict(os.environ, PINPOINT_HOME=str(tmp_path), PINPOINT_RPC_URL=chain_stack.rpc_url,
               PINPOINT_DEPLOYMENT_FILE=str(chain_stack.deployment_file), PINPOINT_REDIS_URL=chain_stack.redis_url)
    env.pop("PINPOINT_DATABASE_URL", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = tmp_path / "coordinator.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "backend.cli", "serve", "--no-indexer", "--workers", "2",
                                    "--port", str(port)], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: httpx.get(f"{url}/ready", timeout=5).status_code == 200, "the coordinator", 60, process, log)
        for _ in range(20):
            assert httpx.get(f"{url}/v1/jobs/2147483000").status_code == 404  # a new connection each
        route = frozenset({("method", "GET"), ("route", "/v1/jobs/{job_id}"), ("status", "404")})
        for _ in range(4):
            text = httpx.get(f"{url}/metrics").text
            samples = {(s.name, frozenset(s.labels.items())): s.value
                       for family in text_string_to_metric_families(text) for s in family.samples}
            assert samples[("pinpoint_http_requests_total", route)] == 20
            assert text.count("# TYPE pinpoint_http_requests_total counter") == 1
    finally:
        process.terminate()
        process.wait(timeout=30)


# --- liveness and readiness ---------------------------------------------------------------------------


def test_ready_is503NamingTheChain_whileItsNodeIsStopped_and200OnceItAnswersAgain(chain_stack, tmp_path):
    port = free_port()
    with app_on(f"http://127.0.0.1:{port}", chain_stack, tmp_path) as client:
        with anvil(port):
            ready = client.get("/ready")
            assert ready.status_code == 200, ready.text
            assert ready.json()["chain_id"] == 31337 and ready.json()["indexed_block"] is None
        errors = sample(scrape(client), "pinpoint_coordinator_chain_errors_total", kind="unreachable")

        down = client.get("/ready")  # the node is stopped
        assert down.status_code == 503 and down.headers["retry-after"] == "5"
        assert down.headers["content-type"] == "application/problem+json"
        assert "the chain node does not answer" in down.json()["detail"]
        assert client.get("/health").status_code == 200  # alive all the same: nothing to restart
        assert sample(scrape(client), "pinpoint_coordinator_chain_errors_total", kind="unreachable") > errors

        with anvil(port):
            assert client.get("/ready").status_code == 200


def test_ready_is503_onAnotherChain_andWhileTheIndexerLags(chain_stack, tmp_path):
    port = free_port()
    with anvil(port, "--chain-id", "4242"), app_on(f"http://127.0.0.1:{port}", chain_stack, tmp_path / "a") as client:
        detail = client.get("/ready").json()["detail"]
        assert "chain id 4242, the deployment is on chain 31337" in detail
    with anvil(port), app_on(f"http://127.0.0.1:{port}", chain_stack, tmp_path / "b", max_indexer_lag_blocks=10) as client:
        chain = Chain(f"http://127.0.0.1:{port}", chain_stack.deployment_file)
        start = Indexer(chain, client.app.state.sessions, None).start_block
        chain.w3.provider.make_request("anvil_mine", [hex(start + 5)])
        indexer = Indexer(chain, client.app.state.sessions, None)
        last = drain(indexer)
        assert client.get("/ready").json()["indexed_block"] == last

        chain.w3.provider.make_request("anvil_mine", [hex(30)])  # the indexer does not poll: 30 blocks behind
        lagging = client.get("/ready")
        assert lagging.status_code == 503
        assert f"the indexer is 30 blocks behind the chain (at block {last} of {last + 30}" in lagging.json()["detail"]
        assert sample(scrape(client), "pinpoint_indexer_lag_blocks") == 30
        drain(indexer)
        assert client.get("/ready").status_code == 200


def test_ready_asksTheBroker_onlyOfAProcessThatDispatches(chain_stack, tmp_path):
    port, closed = free_port(), free_port()
    with anvil(port):
        with app_on(f"http://127.0.0.1:{port}", chain_stack, tmp_path / "a", indexer=True,
                    redis_url=f"redis://127.0.0.1:{closed}/0") as client:
            refused = client.get("/ready")
            assert refused.status_code == 503 and "the broker does not answer" in refused.json()["detail"]
        with app_on(f"http://127.0.0.1:{port}", chain_stack, tmp_path / "b", indexer=True,
                    redis_url=chain_stack.redis_url) as client:
            assert client.get("/ready").status_code == 200
        with app_on(f"http://127.0.0.1:{port}", chain_stack, tmp_path / "c",
                    redis_url=f"redis://127.0.0.1:{closed}/0") as client:
            assert client.get("/ready").status_code == 200  # the API alone sends no task


# --- job lists ------------------------------------------------------------------------------------------


def add_jobs(api: TestClient, ids, submitter: str, solver: str | None, state: str) -> None:
    with api.app.state.sessions() as session:
        for job_id in ids:
            session.add(Job(id=job_id, spec_hash="0x" + "ab" * 32, submitter=submitter, solver=solver, state=state,
                            max_price="1", required_stake="1", checkpoint_count=1, checkpoint_interval=1,
                            bidding_deadline=1, updated_block=1))
        session.commit()


def test_jobs_pagesWalkEveryJobOnce_newestFirst_evenAsJobsAreIndexed(api):
    alice, bob = "0x" + "aB" * 20, "0x" + "c0" * 20
    add_jobs(api, range(1, 24), alice, None, "bidding")
    pages, cursor = [], None
    while True:
        page = api.get("/v1/jobs", params={"limit": 5} | ({"cursor": cursor} if cursor else {})).json()
        pages.append([job["id"] for job in page["items"]])
        if len(pages) == 2:
            add_jobs(api, range(24, 30), bob, None, "bidding")  # indexed mid-walk: newer, so on no later page
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    assert [job_id for page in pages for job_id in page] == list(range(23, 0, -1))

    client = CoordinatorClient("http://coordinator")
    client.http = api  # the same calls, through the app in this process
    assert [job["id"] for job in client.iter_jobs(page_size=4)] == list(range(29, 0, -1))
    assert [job["id"] for job in client.jobs(limit=3)] == [29, 28, 27]
    last = client.jobs_page(limit=29)
    assert len(last["items"]) == 29 and last["next_cursor"] is None  # exactly one page: no empty page after it


def test_jobs_filtersCombine_andAddressesMatchInAnyCase(api):
    alice, bob, solver = "0x" + "aB" * 20, "0x" + "c0" * 20, "0x" + "5e" * 20
    add_jobs(api, [1, 2], alice, None, "bidding")
    add_jobs(api, [3, 4], alice, solver, "running")
    add_jobs(api, [5], bob, solver, "running")
    add_jobs(api, [6], bob, None, "cancelled")

    def ids(**params) -> list[int]:
        response = api.get("/v1/jobs", params=params)
        assert response.status_code == 200, response.text
        return [job["id"] for job in response.json()["items"]]

    assert ids(submitter=alice.upper().replace("0X", "0x")) == [4, 3, 2, 1]
    assert ids(submitter=alice.lower(), state="running") == [4, 3]
    assert ids(solver=solver.upper().replace("0X", "0x")) == [5, 4, 3]
    assert ids(solver=solver, submitter=bob) == [5]
    assert ids(solver=solver, submitter=bob, state="bidding") == []
    assert ids(state="running", limit=2) == [5, 4]
    assert ids(state="running", limit=2, cursor="4") == [3]


@pytest.mark.parametrize("params", [{"cursor": "abc"}, {"cursor": "0"}, {"cursor": "-3"}, {"submitter": "0x12"},
                                    {"solver": "alice"}, {"limit": 0}, {"limit": 1001}, {"state": "nonsense"}])
def test_jobs_refusesWhatIsNotAFilterOrAPage_with422(api, params):
    response = api.get("/v1/jobs", params=params)
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"


# --- logs -----------------------------------------------------------------------------------------------


def indexer_lines(chain_stack, tmp_path: Path, log_format: str | None) -> list[str]:
    """The log lines of a real `pinpoint-coordinator index` until it says it is indexing."""
    env = dict(os.environ, PINPOINT_HOME=str(tmp_path), PINPOINT_RPC_URL=chain_stack.rpc_url,
               PINPOINT_DEPLOYMENT_FILE=str(chain_stack.deployment_file), PINPOINT_REDIS_URL=chain_stack.redis_url)
    env.pop("PINPOINT_DATABASE_URL", None)
    if log_format:
        env["PINPOINT_LOG_FORMAT"] = log_format
    log = tmp_path / "indexer.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "backend.cli", "index"], cwd=REPO, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: "indexing" in log.read_text(), "the indexer", 60, process, log)
        time.sleep(1)  # a poll or two more
    finally:
        process.terminate()
        process.wait(timeout=20)
    return log.read_text().splitlines()


def test_logs_areJsonLines_carryingTheEventsFields(chain_stack, tmp_path):
    lines = indexer_lines(chain_stack, tmp_path, "json")
    events = [json.loads(line) for line in lines]  # every line, whole
    started = next(e for e in events if e.get("event") == "indexing")
    assert started["service"] == "indexer" and started["level"] == "info" and started["logger"] == "root"
    assert started["rpc_url"] == chain_stack.rpc_url and started["confirmations"] == 0
    assert started["from_block"] == json.loads(chain_stack.deployment_file.read_text())["block"]
    assert started["msg"].startswith("indexing ") and started["ts"].endswith("Z")


def test_logs_areKeyValuePairs_byDefault(chain_stack, tmp_path):
    lines = indexer_lines(chain_stack, tmp_path, None)
    started = next(line for line in lines if " event=indexing " in line)
    assert started.startswith("ts=") and " level=info service=indexer logger=root msg=\"indexing " in started
    assert f" rpc_url={chain_stack.rpc_url} " in started
