"""`pinpoint-coordinator serve`: run the coordinator (API + chain indexer) with uvicorn."""

import argparse
import logging

import uvicorn

from backend.app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="pinpoint-coordinator",
        description="The Pinpoint coordinator: REST API, chain indexer, artifact store, Celery producer. "
        "Configured by PINPOINT_* environment variables (see pinpoint/settings.py).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the API and index the chain")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--no-indexer", action="store_true", help="serve the API only (another process indexes)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", force=True)
    uvicorn.run(create_app(run_indexer=not args.no_indexer), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
