"""The coordinator's FastAPI app: `create_app()` wires the database, artifact store, chain and indexer.

Run it with `pinpoint-coordinator serve` (see backend/cli.py).
"""

import logging
import threading
from contextlib import asynccontextmanager

from fastapi import FastAPI

from backend.api.routes import artifacts, jobs, outputs
from backend.artifacts import ArtifactStore
from backend.db import make_engine, migrate, session_factory
from backend.indexer import Indexer, run_forever
from pinpoint.chain import Chain
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
        app.state.artifacts = ArtifactStore(settings.artifact_dir)
        app.state.chain = Chain(settings.rpc_url, settings.deployment_file)  # read-only: no key
        stop = threading.Event()
        if run_indexer:
            dispatcher = Dispatcher(make_celery(settings.redis_url))
            indexer = Indexer(app.state.chain, app.state.sessions, dispatcher, settings.confirmations)
            thread = threading.Thread(target=run_forever, args=(indexer, settings.poll_seconds, stop), daemon=True)
            thread.start()
        yield
        stop.set()
        engine.dispose()

    app = FastAPI(
        title="Pinpoint coordinator",
        description="Indexes the market, stores specs and artifacts by hash, dispatches work. Not an authority: "
        "funds and commitments live on chain and every party checks hashes itself.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.include_router(jobs.router)
    app.include_router(outputs.router)
    app.include_router(artifacts.router)

    @app.get("/health", tags=["health"])
    def read_health() -> dict:
        return {"status": "ok", "chain_id": app.state.chain.w3.eth.chain_id}

    return app
