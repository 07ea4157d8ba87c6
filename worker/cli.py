"""`pinpoint-worker solver|verifier`: one command starts a worker host for one key.

It stakes if needed, starts a Celery worker process on the key's queue (a solver's own queue, or the
shared verifier queue) and runs a loop: for a solver, the market loop that bids, closes auctions and
collects; for a verifier, the keeper that triggers every exit whose deadline has passed.
"""

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading

from eth_account import Account

from pinpoint.chain import Chain, ChainError
from pinpoint.client import CoordinatorClient
from pinpoint.queue import VERIFIER_QUEUE, Dispatcher, make_celery, solver_queue
from pinpoint.settings import get_settings
from worker.daemon import SolverDaemon, ensure_stake
from worker.keeper import Keeper
from worker.pricing import PricePolicy

ETHER = 10**18


def start_celery(queue: str, name: str, private_key: str) -> subprocess.Popen:
    env = dict(os.environ, PINPOINT_PRIVATE_KEY=private_key)
    command = [sys.executable, "-m", "celery", "-A", "worker.tasks", "worker", "-Q", queue, "-n", f"{name}@%h",
               "--pool", "solo", "--loglevel", "INFO", "--without-gossip", "--without-mingle"]
    return subprocess.Popen(command, env=env)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="pinpoint-worker",
        description="Run a Pinpoint worker host for one key. Chain, coordinator and Redis come from PINPOINT_* "
        "settings (see pinpoint/settings.py).",
    )
    parser.add_argument("role", choices=["solver", "verifier"], help="what this host does")
    parser.add_argument("--key", default=None, help="private key (default: PINPOINT_PRIVATE_KEY)")
    parser.add_argument("--stake", type=float, default=1.0, help="stake to keep deposited, in ether (default 1)")
    parser.add_argument("--min-price", type=float, default=PricePolicy.min_price / ETHER, help="solver: lowest bid, in ether")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {args.role} %(levelname)s %(message)s", force=True)

    settings = get_settings()
    key = args.key or settings.private_key
    if not key:
        parser.error("a key is needed: --key or PINPOINT_PRIVATE_KEY")
    address = Account.from_key(key).address
    chain = Chain.from_settings(settings, private_key=key)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    queue = solver_queue(address) if args.role == "solver" else VERIFIER_QUEUE
    celery = start_celery(queue, f"{args.role}-{address[:10]}", key)
    logging.info("%s %s consumes %s", args.role, address, queue)
    try:
        if args.role == "solver":
            policy = PricePolicy(min_price=int(args.min_price * ETHER))
            client = CoordinatorClient(settings.coordinator_url, key)
            dispatcher = Dispatcher(make_celery(settings.redis_url))
            SolverDaemon(chain, client, policy, int(args.stake * ETHER), dispatcher).run(settings.poll_seconds, stop)
        else:
            ensure_stake(chain, int(args.stake * ETHER))
            keeper = Keeper(chain)
            while not stop.is_set() and celery.poll() is None:
                try:
                    keeper.tick()
                except (ChainError, OSError) as exc:
                    logging.warning("keeper: %s; retrying", exc)
                stop.wait(settings.poll_seconds)
    except KeyboardInterrupt:
        pass
    finally:
        celery.terminate()
        try:
            celery.wait(timeout=15)
        except subprocess.TimeoutExpired:
            celery.kill()


if __name__ == "__main__":
    main()
