"""The coordinator's FastAPI app: `create_app()` wires the database, artifact store, chain and indexer.

Run it with `pinpoint-coordinator serve` (see backend/cli.py).
"""

import logging
import threading
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi_offline import FastAPIOffline
from fastapi.openapi.utils import get_openapi

from backend.api import problems
from backend.api.limits import BodyLimit, InFlightLimit, RateLimit
from backend.api.deps import ReadCache
from backend.api.routes import artifacts, health, jobs, outputs, swarms
from backend.api.schemas import SPEC_SCHEMA
from backend.artifacts import open_store
from backend.dashboard import routes as dashboard
from backend.db import make_engine, migrate, session_factory
from backend.indexer import Indexer, run_forever
from backend.metrics import RequestMetrics
from pinpoint.chain import Chain
from pinpoint.client import API_PREFIX
from pinpoint.queue import Dispatcher, make_celery
from pinpoint.settings import Settings, get_settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, run_indexer: bool = True) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        engine = make_engine(settings.database_url)
        migrate(engine)
        app.state.sessions = session_factory(engine)
        app.state.artifacts = open_store(settings, app.state.sessions)
        app.state.chain = Chain(settings.rpc_url, settings.deployment_file)  # read-only: no key
        stop = threading.Event()
        app.state.dispatcher = None  # readiness asks the broker only of a process that dispatches
        if run_indexer:
            dispatcher = app.state.dispatcher = Dispatcher(make_celery(settings.redis_url))
            indexer = Indexer(app.state.chain, app.state.sessions, dispatcher, settings.confirmations)
            thread = threading.Thread(target=run_forever, args=(indexer, settings.poll_seconds, stop), daemon=True)
            thread.start()
        yield
        stop.set()
        engine.dispose()

    app = FastAPIOffline(  # /docs (Swagger UI) and /redoc from files installed with the project: no CDN
        title="Pinpoint coordinator",
        description="Indexes the market, stores specs and artifacts by hash, dispatches work. Not an authority: "
        "funds and commitments live on chain and every party checks hashes itself. Every error is an RFC 9457 "
        "problem (application/problem+json); writes by workers are signed requests (pinpoint.signing).",
        version="0.1.0",
        lifespan=lifespan,
        responses=problems.responses(400, 404, 413, 422, 429, 500, 503),
        dependencies=[Depends(single_valued_query)],
    )
    app.state.settings = settings
    app.state.read_cache = ReadCache(settings.read_cache_seconds)
    problems.install(app)
    # The last added runs first: a request over the in-flight limit or the write rate costs nothing, and an
    # oversized body is refused before it is read.
    app.add_middleware(BodyLimit, limit_for=lambda method, path: settings.max_artifact_bytes
                       if method == "PUT" and path.startswith(f"{API_PREFIX}/artifacts/") else MAX_BODY_BYTES)
    app.add_middleware(RateLimit, rate=settings.write_rate, burst=settings.write_burst)
    # Probes and scrapes are answered even at the limit: an overloaded coordinator is when they matter.
    app.add_middleware(InFlightLimit, limit=settings.max_in_flight,
                       exempt=lambda path: dashboard.is_event_stream(path) or path in OPERATIONS_PATHS)
    app.add_middleware(RequestMetrics, router=app.router)  # outermost: it also counts what the limits refuse
    for router in (jobs.router, outputs.router, artifacts.router, swarms.router):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(health.router)  # /health, /ready, /metrics: not versioned

    dashboard.install(app, API_PREFIX)  # the web dashboard at /, its reads and live streams under the prefix

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schema["components"]["schemas"].update(SPEC_SCHEMA.get("$defs", {}))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
    return app


def single_valued_query(request: Request) -> None:
    """No route takes a list in its query: `?limit=1&limit=2` is ambiguous, so it is refused, not guessed."""
    keys = [key for key, _ in request.query_params.multi_items()]
    if len(keys) != len(set(keys)):
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        raise HTTPException(422, detail=f"query parameter given more than once: {', '.join(repeated)[:200]}")


MAX_BODY_BYTES = 64 << 10
"""Every body but an artifact's: specs and reports are small."""

OPERATIONS_PATHS = {"/health", "/ready", "/metrics"}
