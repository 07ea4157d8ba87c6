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

from pinpoint import keys
from pinpoint.chain import Chain, ChainError
from pinpoint.cli.errors import UserError, guarded
from pinpoint.client import CoordinatorClient, CoordinatorError
from pinpoint.logs import configure_logging
from pinpoint.queue import Dispatcher, make_celery, solver_queue, verifier_queue
from pinpoint.settings import Settings
from pinpoint.units import WEI_PER_ETH, ether, format_eth
from worker.artifact_server import host_for
from worker.artifact_server import serve as serve_artifacts
from worker.cheats import Cheat, conduct, trainer_factory
from worker.daemon import (
    SolverDaemon,
    VerifierDaemon,
    ensure_stake,
    ensure_verifier_stake,
)
from worker.disputes import DisputePlayer
from worker.engine.artifacts import set_artifact_source
from worker.keeper import Keeper
from worker.metrics import serve as serve_metrics
from worker.pricing import PricePolicy
from worker.referee import Referee
from worker.round_exchange import UpdateCache, cache_root

log = logging.getLogger("worker.cli")  # also when run as __main__


VERIFIER_CONCURRENCY = 3
"""Reviews a verifier host runs side by side. A review holds its task through the audit's commit and reveal
windows, so one at a time would leave every other job submitted meanwhile unreviewed (and so unpaid): a swarm's
K shares of a round are submitted together."""


def start_celery(queue: str, name: str, env: dict[str, str], concurrency: int = 1) -> subprocess.Popen:
    """The host's Celery worker, running `concurrency` tasks side by side in separate processes (torch's
    settings are per process, so no two replays share them). It logs to stderr one line per event
    (worker/tasks.py); what Celery prints on stdout itself (`worker: Warm shutdown`; --quiet drops the banner)
    becomes an event line of ours."""
    pool = ["--pool", "solo"] if concurrency == 1 else ["--pool", "prefork", "--concurrency", str(concurrency)]
    command = [sys.executable, "-m", "celery", "-A", "worker.tasks", "--quiet", "worker", "-Q", queue, "-n", f"{name}@%h",
               *pool, "--loglevel", "INFO", "--without-gossip", "--without-mingle"]
    process = subprocess.Popen(command, env=dict(os.environ, **env), stdout=subprocess.PIPE, text=True)
    threading.Thread(target=relog, args=(process.stdout, name), daemon=True).start()
    return process


def relog(stream, name: str) -> None:
    for line in stream:
        if line.strip():
            log.info("celery %s: %s", name, line.strip(), extra={"event": "celery_output", "text": line.strip()})


def run_loop(tickers: list[Callable[[], None]], poll_seconds: float, stop: threading.Event,
             celery: subprocess.Popen | None) -> None:
    """Tick every role until stopped (or until our Celery worker dies); transient errors are retried."""
    while not stop.is_set() and (celery is None or celery.poll() is None):
        for tick in tickers:
            try:
                tick()
            # The coordinator (HTTP) or the broker may be down or restarting: a host waits them out.
            except (ChainError, CoordinatorError, OSError, httpx.HTTPError, BrokerError, RedisError) as exc:
                what = getattr(tick, "__qualname__", str(tick))
                log.warning("%s: %s; retrying", what, exc, extra={"event": "retrying", "loop": what,
                                                                     "error": type(exc).__name__})
        stop.wait(poll_seconds)


def build_parser(prog: str = "pinpoint-worker") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run a Pinpoint worker host for one key. Chain, coordinator and Redis come from PINPOINT_* "
        "settings or the config profile (`pinpoint config show`).",
    )
    parser.add_argument("role", choices=["solver", "verifier", "referee"], help="what this host does")
    parser.add_argument("--account", default=None, help="sign with this account's key file (`pinpoint account`; "
                        "password from PINPOINT_ACCOUNT_PASSWORD; default: PINPOINT_ACCOUNT)")
    parser.add_argument("--key", default=None, help="a raw private key (prefer --account: argv is visible to other "
                        "users; default: PINPOINT_PRIVATE_KEY)")
    parser.add_argument("--stake", type=ether, default=WEI_PER_ETH, help="stake (referee: bond) to keep, in ether (default 1)")
    parser.add_argument("--min-price", type=ether, default=PricePolicy.min_price,
                        help=f"solver: lowest bid, in ether (default {format_eth(PricePolicy.min_price)})")
    # Misbehaviour for the tests and demos, left out of --help: no operator should find it there.
    parser.add_argument("--cheat", default=None, help=argparse.SUPPRESS)  # solver: NAME@STEP, NAME in worker.cheats
    parser.add_argument("--lie", action="store_true", help=argparse.SUPPRESS)  # verifier: challenge honest work
    parser.add_argument("--lazy", action="store_true", help=argparse.SUPPRESS)  # verifier: commit without replaying
    parser.add_argument("--concurrency", type=positive, default=None, help="tasks run side by side, each in its own "
                        f"process (default: {VERIFIER_CONCURRENCY} for a verifier, whose review of a job waits through "
                        "the audit's windows; 1 for a solver)")
    parser.add_argument("--metrics-port", type=int, default=None, help="serve Prometheus metrics at "
                        "http://0.0.0.0:PORT/metrics (default: PINPOINT_METRICS_PORT; 0: off)")
    return parser


def positive(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(f"{text}: between 1 and 64")
    return value


def main(argv: list[str] | None = None, prog: str = "pinpoint-worker") -> int:
    args = build_parser(prog).parse_args(argv)
    return guarded(prog, lambda: run(args))


def run(args: argparse.Namespace) -> None:
    """Start the host for `args.role` and tick it until SIGTERM or Ctrl-C."""
    key = keys.private_key(Settings(), args.key, args.account)
    if not key:
        raise UserError("a key is needed: --account NAME (`pinpoint account`), PINPOINT_ACCOUNT or PINPOINT_PRIVATE_KEY")
    overrides = {"private_key": key, "cheat": args.cheat, "lying_verifier": args.lie or None,
                 "lazy_verifier": args.lazy or None, "metrics_port": args.metrics_port}
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    if settings.cheat:
        Cheat.parse(settings.cheat)  # refuse a malformed cheat before starting anything
    address = Account.from_key(settings.private_key).address
    host_name = f"{args.role}-{address[:10]}"  # also its Celery worker's name: the lines of both carry it
    configure_logging(settings, service=host_name)
    if settings.metrics_port:
        # Before the Celery worker starts: it counts into the same folder (worker/metrics.py).
        serve_metrics(settings.metrics_port, settings.home / "metrics" / host_name.lower())
        log.info("serving metrics on port %s", settings.metrics_port,
                     extra={"event": "metrics_served", "port": settings.metrics_port})
    chain = Chain.from_settings(settings)
    client = CoordinatorClient(settings.coordinator_url, settings.private_key, chain.signing_domain)
    if args.role == "solver" and (host := host_for(settings, address)) is not None:
        client.host = host
        serve_artifacts(host, settings.artifact_serve_bind)  # the checkpoints its tasks publish (docs/ARTIFACTS.md)
    # Uploaded datasets and weights, for disputes and referee steps; a swarm round's updates this host received in
    # the round's exchange (worker/round_exchange.py) are not downloaded again.
    fetch = UpdateCache(cache_root(settings.home, address)).source(client.download_artifact, client.holds_artifact)
    set_artifact_source(fetch)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stake = args.stake

    # Stake first: an account that cannot pay for it hears so before anything else has started.
    if args.role == "solver":
        ensure_stake(chain, stake)
    elif args.role == "verifier":
        ensure_verifier_stake(chain, stake)
    else:
        referee = Referee(chain, client, home=settings.home)
        referee.register(stake)

    celery = None
    if args.role != "referee":
        queue = (solver_queue if args.role == "solver" else verifier_queue)(address)
        env = {"PINPOINT_PRIVATE_KEY": settings.private_key, "PINPOINT_LYING_VERIFIER": str(settings.lying_verifier).lower(),
               "PINPOINT_LAZY_VERIFIER": str(settings.lazy_verifier).lower(), "PINPOINT_CHEAT": settings.cheat or ""}
        concurrency = args.concurrency or (VERIFIER_CONCURRENCY if args.role == "verifier" else 1)
        celery = start_celery(queue, host_name, env, concurrency)
        log.info("%s %s consumes %s", args.role, address, queue,
                     extra={"event": "consuming", "role": args.role, "address": address, "queue": queue})
    try:
        if args.role == "solver":
            daemon = SolverDaemon(chain, client, PricePolicy(min_price=args.min_price),
                                  Dispatcher(make_celery(settings.redis_url)), home=settings.home,
                                  republish=conduct(settings.cheat).publish == "all", fetch=fetch)
            player = DisputePlayer(chain, client, trainer_factory(settings.cheat), home=settings.home,
                                   conduct=conduct(settings.cheat))
            tickers = [daemon.tick, player.tick]
        elif args.role == "verifier":
            daemon = VerifierDaemon(chain, Dispatcher(make_celery(settings.redis_url)))
            player = DisputePlayer(chain, client, trainer_factory(None), lie=settings.lying_verifier,
                                   on_answered=daemon.verify)
            tickers = [daemon.tick, Keeper(chain).tick, player.tick]
        else:
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
    sys.exit(main())
