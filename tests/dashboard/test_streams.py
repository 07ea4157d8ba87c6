"""The dashboard's live streams on a real coordinator (uvicorn, over the session's chain): each sends its view at
once, they do not eat the in-flight budget of ordinary requests, they have a cap of their own (503 beyond it),
and a stream whose client left gives its slot back."""

import json
import threading

import httpx
import pytest
import uvicorn

from backend.app import create_app
from pinpoint.localnet import free_port, port_open
from pinpoint.settings import Settings
from tests.e2e.waiting import wait_for

STREAMS = 2


@pytest.fixture
def coordinator(chain_stack, tmp_path):
    """A coordinator that serves 2 requests at once and 2 streams, over HTTP (event streams need a real server)."""
    settings = Settings(home=tmp_path, rpc_url=chain_stack.rpc_url, deployment_file=chain_stack.deployment_file,
                        database_url=f"sqlite:///{tmp_path / 'coordinator.db'}", max_in_flight=2)
    app = create_app(settings, run_indexer=False)
    app.state.event_streams.limit = STREAMS
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: port_open(port) and server.started, "the coordinator", 60)
    yield app, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def next_view(lines) -> dict:
    """The next view from a stream's lines (an iterator the caller keeps: closing it would close the stream)."""
    for line in lines:
        if line.startswith("data: "):
            return json.loads(line[len("data: "):])
    raise AssertionError("the stream ended before its first view")


def test_streams_sendTheirView_spareTheInFlightBudget_andAreCappedOnTheirOwn(coordinator):
    app, url = coordinator
    with httpx.Client(base_url=url, timeout=10) as client:
        streams = [client.stream("GET", "/v1/market/events") for _ in range(STREAMS)]
        opened = [stream.__enter__() for stream in streams]
        lines = [response.iter_lines() for response in opened]
        try:
            for response, stream_lines in zip(opened, lines):
                assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
                view = next_view(stream_lines)
                assert view["counts"] == {} and view["open_jobs"] == []
            assert app.state.event_streams.open == STREAMS
            # Two streams are open and the in-flight limit is 2: ordinary reads are still answered.
            assert client.get("/v1/market").status_code == 200
            assert client.get("/v1/jobs/1/events").status_code == 404  # checked before a slot is taken
            refused = client.get("/v1/market/events")
            assert refused.status_code == 503 and refused.headers["retry-after"] == "5"
            assert "live streams" in refused.json()["detail"]
        finally:
            streams[0].__exit__(None, None, None)
        # The client left: the server notices at its next poll and gives the slot back.
        wait_for(lambda: app.state.event_streams.open < STREAMS, "the slot to be given back", 10)
        with client.stream("GET", "/v1/market/events") as again:
            assert again.status_code == 200 and next_view(again.iter_lines())["bids"] == []
        streams[1].__exit__(None, None, None)
    wait_for(lambda: app.state.event_streams.open == 0, "every slot to be given back", 10)
