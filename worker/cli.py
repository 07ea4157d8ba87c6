"""`pinpoint-worker solver|verifier`: one command starts a worker host for one key.

It stakes if needed and, for solvers and verifiers, starts a Celery worker process on the key's own queue;
then it runs the host's loop:
- solver: the market loop (bid, close auctions, collect) and its side of any dispute against it;
- verifier: registers stake with the audit, sends every submitted result to its Celery worker to check,
  runs the keeper (every exit whose deadline passed) and its side of the disputes it opened (a demanded
  checkpoint that was served sends the job back to verification);
- referee: registers stake with the court; on each panel it sits on it re-executes the single step and commits,
  then reveals, its answer; it also draws and decides every request (anyone may), so disputes move on their own.
"""

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable

import httpx
from eth_account import Account
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError

from pinpoint.chain import Chain, ChainError
from pinpoint.client import CoordinatorClient, CoordinatorError
from pinpoint.queue import Dispatcher, make_celery, solver_queue, verifier_queue
from pinpoint.settings import Settings
from worker.artifact_server import host_for
from worker.artifact_server import serve as serve_artifacts
from worker.cheats import CHEATS, Cheat, conduct, trainer_factory
from worker.daemon import (
    SolverDaemon,
    VerifierDaemon,
    ensure_stake,
    ensure_verifier_stake,
)
from worker.disputes import DisputePlayer
from worker.engine.artifacts import set_artifact_source
from worker.keeper import Keeper
from worker.pricing import PricePolicy
from worker.referee import Referee

ETHER = 10**18


def start_celery(queue: str, name: str, env: dict[str, str]) -> subprocess.Popen:
    command = [sys.executable, "-m", "celery", "-A", "worker.tasks", "worker", "-Q", queue, "-n", f"{name}@%h",
               "--pool", "solo", "--loglevel", "INFO", "--without-gossip", "--without-mingle"]
    return subprocess.Popen(command, env=dict(os.environ, **env))


def run_loop(tickers: list[Callable[[], None]], poll_seconds: float, stop: threading.Event,
             celery: subprocess.Popen | None) -> None:
    """Tick every role until stopped (or until our Celery worker dies); transient errors are retried."""
    while not stop.is_set() and (celery is None or celery.poll() is None):
        for tick in tickers:
            try:
                tick()
            # The coordinator (HTTP) or the broker may be down or restarting: a host waits them out.
            except (ChainError, CoordinatorError, OSError, httpx.HTTPError, BrokerError, RedisError) as exc:
                logging.warning("%s: %s; retrying", getattr(tick, "__qualname__", tick), exc)
        stop.wait(poll_seconds)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="pinpoint-worker",
        description="Run a Pinpoint worker host for one key. Chain, coordinator and Redis come from PINPOINT_* "
        "settings (see pinpoint/settings.py).",
    )
    parser.add_argument("role", choices=["solver", "verifier", "referee"], help="what this host does")
    parser.add_argument("--key", default=None, help="private key (default: PINPOINT_PRIVATE_KEY)")
    parser.add_argument("--stake", type=float, default=1.0, help="stake (referee: bond) to keep, in ether (default 1)")
    parser.add_argument("--min-price", type=float, default=PricePolicy.min_price / ETHER, help="solver: lowest bid, in ether")
    parser.add_argument("--cheat", default=None, help=f"solver, tests and demos only: NAME@STEP, NAME one of {', '.join(CHEATS)}")
    parser.add_argument("--lie", action="store_true", help="verifier, tests and demos only: challenge honest work")
    parser.add_argument("--lazy", action="store_true", help="verifier, tests and demos only: commit to audits "
                        "without replaying (and lose the bond)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {args.role} %(levelname)s %(message)s", force=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)

    overrides = {"private_key": args.key, "cheat": args.cheat, "lying_verifier": args.lie or None,
                 "lazy_verifier": args.lazy or None}
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    if not settings.private_key:
        parser.error("a key is needed: --key or PINPOINT_PRIVATE_KEY")
    if settings.cheat:
        Cheat.parse(settings.cheat)  # refuse a malformed cheat before starting anything
    address = Account.from_key(settings.private_key).address
    chain = Chain.from_settings(settings)
    client = CoordinatorClient(settings.coordinator_url, settings.private_key, chain.signing_domain)
    if args.role == "solver" and (host := host_for(settings, address)) is not None:
        client.host = host
        serve_artifacts(host, settings.artifact_serve_bind)  # the checkpoints its tasks publish (docs/ARTIFACTS.md)
    set_artifact_source(client.download_artifact)  # uploaded datasets and weights, for disputes and referee steps
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stake = int(args.stake * ETHER)

    celery = None
    if args.role != "referee":
        queue = (solver_queue if args.role == "solver" else verifier_queue)(address)
        env = {"PINPOINT_PRIVATE_KEY": settings.private_key, "PINPOINT_LYING_VERIFIER": str(settings.lying_verifier).lower(),
               "PINPOINT_LAZY_VERIFIER": str(settings.lazy_verifier).lower(), "PINPOINT_CHEAT": settings.cheat or ""}
        celery = start_celery(queue, f"{args.role}-{address[:10]}", env)
        logging.info("%s %s consumes %s", args.role, address, queue)
    try:
        if args.role == "solver":
            ensure_stake(chain, stake)
            daemon = SolverDaemon(chain, client, PricePolicy(min_price=int(args.min_price * ETHER)),
                                  Dispatcher(make_celery(settings.redis_url)), home=settings.home,
                                  republish=conduct(settings.cheat).publish == "all")
            player = DisputePlayer(chain, client, trainer_factory(settings.cheat), home=settings.home,
                                   conduct=conduct(settings.cheat))
            tickers = [daemon.tick, player.tick]
        elif args.role == "verifier":
            ensure_verifier_stake(chain, stake)
            daemon = VerifierDaemon(chain, Dispatcher(make_celery(settings.redis_url)))
            player = DisputePlayer(chain, client, trainer_factory(None), lie=settings.lying_verifier,
                                   on_answered=daemon.verify)
            tickers = [daemon.tick, Keeper(chain).tick, player.tick]
        else:
            referee = Referee(chain, client, home=settings.home)
            referee.register(stake)
            tickers = [referee.tick]
        run_loop(tickers, settings.poll_seconds, stop, celery)
    except KeyboardInterrupt:
        pass
    finally:
        if celery is not None:
            celery.terminate()
            try:
                celery.wait(timeout=15)
            except subprocess.TimeoutExpired:
                celery.kill()


if __name__ == "__main__":
    main()
