"""The coordinator's Prometheus metrics, served at `/metrics` (outside /v1, the OpenAPI schema and the limits).

Counted as they happen: HTTP requests by route template and status, their latency, and failed chain
requests. Read at each scrape: jobs by state, the outbox's undispatched tasks and the indexer's last indexed
block from the database, and the chain's head (one `eth_blockNumber`, two seconds at most) for the lag.

With `serve --workers N` the API processes count into prometheus_client's multiprocess files
(PROMETHEUS_MULTIPROC_DIR, set by backend/cli.py before they start), so any one of them serves the sum.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator

import httpx
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Router, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.models import IndexerCursor, Job, Outbox
from pinpoint import chain

REQUESTS = Counter("pinpoint_http_requests_total", "HTTP requests answered, by method, route template and status.",
                   ["method", "route", "status"])
LATENCY = Histogram("pinpoint_http_request_duration_seconds", "Time until an HTTP response starts, by method and route "
                    "template.", ["method", "route"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
CHAIN_ERRORS = Counter("pinpoint_coordinator_chain_errors_total", "Chain requests of the coordinator (API and "
                       "indexer) that failed: `unreachable`, `reverted` or `failed`.", ["kind"])
chain.error_listeners.append(lambda kind: CHAIN_ERRORS.labels(kind=kind).inc())

UNMATCHED = "unmatched"  # the route label of a path no route serves: never the raw path (unbounded labels)


def chain_head(rpc_url: str, timeout: float = 2.0) -> tuple[int, int]:
    """The chain's (id, head block) in one batch request; raises OSError or httpx.HTTPError when it does not
    answer in `timeout` seconds (counted as a chain error)."""
    batch = [{"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
             {"jsonrpc": "2.0", "id": 2, "method": "eth_blockNumber", "params": []}]
    try:
        response = httpx.post(rpc_url, json=batch, timeout=timeout)
        response.raise_for_status()
        answers = {answer["id"]: int(answer["result"], 16) for answer in response.json()}
        return answers[1], answers[2]
    except (OSError, httpx.HTTPError, ValueError, KeyError, TypeError):
        CHAIN_ERRORS.labels(kind="unreachable").inc()
        raise


def indexed_block(session: Session) -> int | None:
    """The last block the indexer applied (None before its first poll wrote a cursor)."""
    cursor = session.get(IndexerCursor, "market")
    return None if cursor is None else cursor.next_block - 1


class ScrapeCollector:
    """What a scrape reads now rather than counts: the database's view and the chain's head."""

    def __init__(self, sessions: sessionmaker[Session], rpc_url: str):
        self.sessions, self.rpc_url = sessions, rpc_url

    def collect(self):
        jobs = GaugeMetricFamily("pinpoint_jobs", "Indexed jobs by state.", labels=["state"])
        with self.sessions() as session:
            for state, count in session.execute(select(Job.state, func.count()).group_by(Job.state)):
                jobs.add_metric([state], count)
            undispatched = session.scalar(select(func.count()).select_from(Outbox).where(Outbox.sent_at.is_(None)))
            last = indexed_block(session)
        yield jobs
        yield GaugeMetricFamily("pinpoint_outbox_undispatched", "Tasks in the outbox not yet sent to the broker.",
                                value=undispatched)
        if last is not None:
            yield GaugeMetricFamily("pinpoint_indexer_last_block", "The last block the indexer applied.", value=last)
        try:
            _, head = chain_head(self.rpc_url)
        except (OSError, httpx.HTTPError, ValueError, KeyError, TypeError):
            return  # no head, no lag: the chain errors counter says why
        yield GaugeMetricFamily("pinpoint_chain_head_block", "The chain's latest block, as this scrape saw it.",
                                value=head)
        if last is not None:
            yield GaugeMetricFamily("pinpoint_indexer_lag_blocks", "Blocks the indexer is behind the chain's head.",
                                    value=max(0, head - last))


def read_metrics(request: Request) -> Response:
    """The Prometheus text exposition of this coordinator: at most one scrape of the database and the chain per
    read_cache_seconds, since /metrics is exempt from the in-flight limit (a flood gets the recent copy)."""
    cache = request.app.state.read_cache
    if (hit := cache.get("metrics")) is None:
        cache.put("metrics", hit := scrape(request))
    return hit


def scrape(request: Request) -> Response:
    registry = CollectorRegistry()
    registry.register(ScrapeCollector(request.app.state.sessions, request.app.state.settings.rpc_url))
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        MultiProcessCollector(registry)
        counted = b""
    else:
        counted = generate_latest(REGISTRY)
    return Response(counted + generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def route_templates(routes, prefix: str = "") -> Iterator[tuple[re.Pattern, str, set[str] | None]]:
    """(regex, template, methods) of every route, with the prefixes of the routers that include it."""
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI 0.16x keeps an included router whole
        if included is not None:
            yield from route_templates(included.routes, prefix + route.include_context.prefix)
        elif isinstance(route, Mount):
            template = prefix + route.path + "/{path:path}"
            yield compile_path(template)[0], prefix + route.path + "/{path}", None
        elif isinstance(getattr(route, "path", None), str):
            yield compile_path(prefix + route.path)[0], prefix + route.path, getattr(route, "methods", None)


class RequestMetrics:
    """Counts every HTTP request by route template (`/v1/jobs/{job_id}`, UNMATCHED for a path no route
    serves) and status, and times it; outermost, so it also counts what the limits refuse before routing."""

    def __init__(self, app: ASGIApp, router: Router):
        self.app, self.router = app, router
        self.templates: list[tuple[re.Pattern, str, set[str] | None]] | None = None

    def route_template(self, method: str, path: str) -> str:
        if self.templates is None:  # the routes are all there by the first request
            self.templates = list(route_templates(self.router.routes))
        other_method = None
        for regex, template, methods in self.templates:
            if regex.match(path):
                if methods is None or method in methods:
                    return template
                other_method = other_method or template  # the path, another method: a 405
        return other_method or UNMATCHED

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, answered = time.perf_counter(), None
        status = 500  # what the server's last-resort handler answers if the app raises before responding

        async def recording_send(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status, answered = message["status"], time.perf_counter()
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = self.route_template(scope["method"], scope["path"])
            REQUESTS.labels(method=scope["method"], route=route, status=str(status)).inc()
            # Until the response started: a live event stream or a gigabyte download is not a slow answer.
            LATENCY.labels(method=scope["method"], route=route).observe((answered or time.perf_counter()) - started)
