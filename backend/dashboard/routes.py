"""The dashboard's routes: its page and assets (`/`, `/dashboard/{asset}`), the reads it renders
(`/market`, `/jobs/{id}/overview`) and their live versions as server-sent events (`/market/events`,
`/jobs/{id}/events`: the same JSON again each time it changes).

Every page response carries a strict Content-Security-Policy (scripts and styles from this origin only, no
inline script, nothing from elsewhere): the page shows what hostile parties wrote (spec fields, verdict
details) and sets it as text, never as markup.

Event streams live for minutes, so they are exempt from the in-flight limit (`is_event_stream`, used by
backend/app.py) and capped on their own (`StreamSlots`); each ends after `MAX_STREAM_SECONDS` and the browser's
EventSource reconnects by itself.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, StreamingResponse
from starlette.types import Receive, Scope, Send

from backend.api.deps import JobId, job_or_404, json_response
from backend.api.problems import responses
from backend.dashboard.views import (
    ChainReads,
    JobView,
    MarketView,
    job_mark,
    job_view,
    market_mark,
    market_view,
)
from backend.models import Job

log = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")
MEDIA_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
               ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".txt": "text/plain; charset=utf-8"}
ASSETS = {path.name: path for path in STATIC.iterdir() if path.suffix in MEDIA_TYPES}  # by name: nothing else is served
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
PAGE_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                "Cache-Control": "no-cache"}

MAX_STREAMS = 64
"""Event streams one API process keeps open; beyond: 503 with Retry-After."""
MAX_STREAM_SECONDS = 300.0
POLL_SECONDS = 0.5  # how often a stream asks the database whether anything changed
REBUILD_SECONDS = 5.0  # a view is rebuilt at least this often (disclosure changes with the clock alone)
KEEPALIVE_SECONDS = 15.0
RECONNECT_MS = 2000
EVENT_STREAM = re.compile(r"(/[\w.-]+)?/(market|jobs/\d{1,10})/events")

View = MarketView | JobView
pages = APIRouter(include_in_schema=False)
api = APIRouter(tags=["dashboard"])


def install(app: FastAPI, prefix: str) -> None:
    """The dashboard on `app`: its page at `/`, its reads and streams under the API's `prefix`."""
    app.state.event_streams = StreamSlots(MAX_STREAMS)
    app.include_router(pages)
    app.include_router(api, prefix=prefix)


def is_event_stream(path: str) -> bool:
    """The paths of the live streams (under any prefix): exempt from the in-flight limit, capped here instead."""
    return EVENT_STREAM.fullmatch(path) is not None


# --- the page ------------------------------------------------------------------------------------------

@pages.get("/")
def read_dashboard() -> FileResponse:
    """The dashboard: market at `/#/`, a job at `/#/jobs/{id}`, an inference job's outputs at `/#/jobs/{id}/outputs`."""
    return _asset("index.html")


@pages.get("/dashboard/{name}")
def read_asset(name: str) -> FileResponse:
    return _asset(name)


def _asset(name: str) -> FileResponse:
    path = ASSETS.get(name)
    if path is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such dashboard asset")
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=PAGE_HEADERS)


# --- reads ---------------------------------------------------------------------------------------------

def _reads(request: Request) -> ChainReads:
    state = request.app.state
    if getattr(state, "chain_reads", None) is None or state.chain_reads.chain is not state.chain:
        state.chain_reads = ChainReads(state.chain)
    return state.chain_reads


@api.get("/market", response_model=MarketView)
async def read_market(request: Request):
    """The market as indexed: jobs by state, open and recent jobs with their best bids, the latest bids, and
    the solvers, verifiers and referees with their stakes (read from the chain)."""
    reads = _reads(request)

    def load() -> MarketView:
        with request.app.state.sessions() as session:
            return market_view(session, reads)

    return json_response(await run_in_threadpool(load))


@api.get("/jobs/{job_id}/overview", response_model=JobView, responses=responses(404))
async def read_job_overview(job_id: JobId, request: Request):
    """Everything the dashboard shows of a job: the job as anonymous readers see it (hashes under audit
    withheld), its spec, its chain events with their block times, each dispute's bisection round by round,
    each verifier's audit entry, and the index's clock."""
    reads = _reads(request)

    def load() -> JobView:
        with request.app.state.sessions() as session:
            return job_view(session, job_or_404(session, job_id), reads)

    return json_response(await run_in_threadpool(load))


# --- live ----------------------------------------------------------------------------------------------

class StreamSlots:
    """Event streams open in this process, at most `limit`."""

    def __init__(self, limit: int):
        self.limit, self.open = limit, 0

    def take(self) -> bool:
        if self.open >= self.limit:
            return False
        self.open += 1
        return True

    def give_back(self) -> None:
        self.open -= 1


class EventStream(StreamingResponse):
    """A text/event-stream response that gives its slot back however it ends (done, client gone, error)."""

    def __init__(self, content: AsyncIterator[str], slots: StreamSlots):
        super().__init__(content, media_type="text/event-stream",
                         headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
        self.slots = slots

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.slots.give_back()


def _stream(request: Request, mark: Callable[[], tuple | None], build: Callable[[], View | None]) -> EventStream:
    slots: StreamSlots = request.app.state.event_streams
    if not slots.take():
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": "5"},
                            detail=f"the coordinator is at its limit of {slots.limit} live streams: retry shortly")
    return EventStream(_events(request, mark, build), slots)


async def _events(request: Request, mark: Callable[[], tuple | None], build: Callable[[], View | None]) -> AsyncIterator[str]:
    """The view as an event (one line of JSON) when it changed: looked at whenever `mark()` changes (polled)
    and every REBUILD_SECONDS, sent unless only its clock moved. Ends when the view is gone, the client
    leaves, or after MAX_STREAM_SECONDS."""
    yield f"retry: {RECONNECT_MS}\n\n"
    started = last_write = time.monotonic()
    last_mark, last_build, sent = (), 0.0, None
    while time.monotonic() - started < MAX_STREAM_SECONDS and not await request.is_disconnected():
        try:
            now_mark = await run_in_threadpool(mark)
            if now_mark is None:
                return
            if now_mark != last_mark or time.monotonic() - last_build >= REBUILD_SECONDS:
                view = await run_in_threadpool(build)
                if view is None:
                    return
                last_mark, last_build = now_mark, time.monotonic()
                if (content := view.model_dump_json(exclude={"chain_time"})) != sent:
                    yield f"data: {view.model_dump_json()}\n\n"
                    sent, last_write = content, time.monotonic()
        except Exception:  # the database may be restarting: end the stream; the browser reconnects
            log.exception("event stream ended by an error")
            return
        if time.monotonic() - last_write >= KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"
            last_write = time.monotonic()
        await asyncio.sleep(POLL_SECONDS)


@api.get("/market/events", include_in_schema=False)
async def read_market_events(request: Request):
    """GET /market as server-sent events: the JSON again each time it changes."""
    reads = _reads(request)

    def mark() -> tuple:
        with request.app.state.sessions() as session:
            return market_mark(session)

    def build() -> MarketView:
        with request.app.state.sessions() as session:
            return market_view(session, reads)

    return _stream(request, mark, build)


@api.get("/jobs/{job_id}/events", include_in_schema=False)
async def read_job_events(job_id: JobId, request: Request):
    """GET /jobs/{id}/overview as server-sent events: the JSON again each time it changes; 404 for no job."""
    reads = _reads(request)

    def exists() -> None:
        with request.app.state.sessions() as session:
            job_or_404(session, job_id)

    await run_in_threadpool(exists)

    def mark() -> tuple | None:
        with request.app.state.sessions() as session:
            return job_mark(session, job_id)

    def build() -> JobView | None:
        with request.app.state.sessions() as session:
            job = session.get(Job, job_id)
            return None if job is None else job_view(session, job, reads)

    return _stream(request, mark, build)
