"""`pinpoint-coordinator serve|index|gc`: the coordinator's API (uvicorn), its chain indexer, and retention.

- `serve` runs the API; with one worker (the default) it also indexes in a thread, unless `--no-indexer`.
  With `--workers N` (default: the WEB_CONCURRENCY environment variable, else 1) above 1 it serves the API
  only, from N processes: run `index` beside it.
- `index` runs only the indexer and the outbox dispatcher (backend/indexer.py), so API load never stalls
  indexing and an API restart never stops it. Run exactly one per database.
- `gc` deletes the artifacts the retention rules allow (backend/retention.py, docs/ARTIFACTS.md), once.
"""

import argparse
import logging
import os
import shutil
import signal
import sys
import threading

import uvicorn
from fastapi import FastAPI

from backend.app import create_app
from pinpoint.chain import load_deployment
from pinpoint.cli.errors import guarded
from pinpoint.logs import configure_logging
from pinpoint.settings import get_settings


def api_app() -> FastAPI:
    """The API without an indexer: the app factory every uvicorn worker process builds."""
    configure_logging(get_settings(), service="coordinator")  # a worker process starts with Python's defaults
    return create_app(run_indexer=False)


def default_workers() -> int:
    try:
        return max(1, int(os.environ.get("WEB_CONCURRENCY", "1")))
    except ValueError:
        return 1


def serve(args: argparse.Namespace) -> None:
    from backend.db import make_engine, migrate

    engine = make_engine(get_settings().database_url)
    migrate(engine)  # once, before any worker starts: workers find the schema at head
    engine.dispose()
    if args.workers > 1:
        if not args.no_indexer:
            logging.info("serving the API from %s processes, without an indexer: run `pinpoint-coordinator index` "
                         "beside it", args.workers)
        # The processes count requests into one folder, so any of them serves the sum at /metrics.
        metrics = get_settings().home / "metrics" / f"coordinator-{args.port}"
        shutil.rmtree(metrics, ignore_errors=True)
        metrics.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)  # the worker processes start with it set
        uvicorn.run("backend.cli:api_app", factory=True, workers=args.workers, host=args.host, port=args.port,
                    log_level="warning", log_config=None)
    else:
        # log_config=None: uvicorn's lines go through our one-line format (pinpoint/logs.py), not its own.
        uvicorn.run(create_app(run_indexer=not args.no_indexer), host=args.host, port=args.port, log_level="warning",
                    log_config=None)


def index(_args: argparse.Namespace) -> None:
    from backend.db import make_engine, migrate, session_factory
    from backend.indexer import Indexer, run_forever
    from pinpoint.chain import Chain
    from pinpoint.queue import Dispatcher, make_celery

    settings = get_settings()
    engine = make_engine(settings.database_url)
    migrate(engine)
    chain = Chain(settings.rpc_url, settings.deployment_file)  # read-only: no key
    indexer = Indexer(chain, session_factory(engine), Dispatcher(make_celery(settings.redis_url)), settings.confirmations)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    logging.info("indexing %s from block %s (%s confirmations)", settings.rpc_url, indexer.start_block,
                 settings.confirmations, extra={"event": "indexing", "rpc_url": settings.rpc_url,
                                                "from_block": indexer.start_block,
                                                "confirmations": settings.confirmations})
    run_forever(indexer, settings.poll_seconds, stop)
    engine.dispose()


def gc(args: argparse.Namespace) -> None:
    """Apply the retention rules once (backend/retention.py; run it from cron, say hourly)."""
    from backend.artifacts import open_store
    from backend.db import make_engine, migrate, session_factory
    from backend.retention import collect

    settings = get_settings()
    engine = make_engine(settings.database_url)
    migrate(engine)
    sessions = session_factory(engine)
    done = collect(open_store(settings, sessions), sessions, settings.artifact_retention_days,
                   settings.upload_idle_seconds, dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    print(f"{verb} {len(done.deleted)} artifacts and {done.abandoned_uploads} abandoned uploads; "
          f"{len(done.pinned)} results kept for good")
    for digest in done.deleted:
        print(f"  {digest}")
    engine.dispose()


def build_parser(prog: str = "pinpoint-coordinator") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="The Pinpoint coordinator: REST API, chain indexer, artifact store, Celery producer. "
        "Configured by PINPOINT_* settings or the config profile (`pinpoint config show`).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve_parser = sub.add_parser("serve", help="serve the API and the dashboard (and, with one worker, index the chain)")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=8000)
    serve_parser.add_argument("--workers", type=int, default=default_workers(),
                              help="API processes (default: WEB_CONCURRENCY, else 1); above 1 the API is served "
                              "without an indexer")
    serve_parser.add_argument("--no-indexer", action="store_true", help="serve the API only (`index` runs beside it)")
    sub.add_parser("index", help="index the chain and dispatch tasks (no API)")
    gc_parser = sub.add_parser("gc", help="delete the artifacts the retention rules allow (docs/ARTIFACTS.md)")
    gc_parser.add_argument("--dry-run", action="store_true", help="list what would be deleted; delete nothing")
    return parser


def main(argv: list[str] | None = None, prog: str = "pinpoint-coordinator") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.command == "serve" and args.workers < 1:
        parser.error("--workers must be at least 1")

    def run() -> None:
        settings = get_settings()
        configure_logging(settings, service="indexer" if args.command == "index" else "coordinator")
        if args.command != "gc":
            load_deployment(settings.deployment_file)  # missing: one line saying to deploy, not a failed startup
        {"serve": serve, "gc": gc, "index": index}[args.command](args)

    return guarded(prog, run)


if __name__ == "__main__":
    sys.exit(main())
