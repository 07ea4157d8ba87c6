"""Celery tasks of a worker host: run `celery -A worker.tasks worker -Q <queue>` (the worker CLI does).

Tasks take a job id, re-read everything from the chain, and are safe to run twice: dispatch is at least
once (the coordinator's outbox sends an execute again when the broker restarted; a solver sends one for its
running jobs when it restarts), so a task for a job already done returns at once (the chain says so), and
one delivered while another run of the same task and job holds this host's lock for it returns at once too.
"""

import fcntl
import os
from collections.abc import Callable
from contextlib import contextmanager
from functools import lru_cache

import httpx
from celery import signals

from pinpoint.chain import Chain, ChainError
from pinpoint.client import CoordinatorClient, CoordinatorError
from pinpoint.logs import configure_logging
from pinpoint.queue import EXECUTE_JOB, VERIFY_JOB, make_celery
from pinpoint.settings import get_settings

app = make_celery(get_settings().redis_url)


@signals.celeryd_init.connect
def _log_one_line_per_event(sender: str, **_kwargs) -> None:
    """Our log set-up (pinpoint/logs.py), as the worker starts and before its first warning; the service is
    the node's name (`-n solver-0xAbC@%h`), as in its daemon's lines."""
    configure_logging(get_settings(), service=sender.split("@")[0])


@signals.setup_logging.connect
def _keep_our_logging(**_kwargs) -> None:
    """Connected, so Celery does not set up logging of its own."""


@signals.worker_init.connect
def _load_the_engine_before_the_first_task(**_kwargs) -> None:
    """torch and the engine load once, as the worker starts (a prefork pool's processes inherit them), not in a
    task: on a loaded host a verifier's first review spent ~10 s of its commit window importing torch."""
    import worker.solver
    import worker.verifier  # noqa: F401


@lru_cache
def _chain() -> Chain:
    return Chain.from_settings(get_settings())


@lru_cache
def _client() -> CoordinatorClient:
    from worker.artifact_server import host_for

    settings = get_settings()
    client = CoordinatorClient(settings.coordinator_url, settings.private_key, _chain().signing_domain)
    client.host = host_for(settings, _chain().address)  # a solver serving its own checkpoints (docs/ARTIFACTS.md)
    return client


def _engine_client() -> CoordinatorClient:
    """The client, also set as the engine's source of uploaded datasets and weights (downloads are hash-checked);
    a swarm round's updates this host received in the round's exchange are not downloaded again."""
    from worker.engine.artifacts import set_artifact_source
    from worker.round_exchange import UpdateCache, cache_root

    settings = get_settings()
    set_artifact_source(UpdateCache(cache_root(settings.home, _chain().address)).source(_client().download_artifact))
    return _client()


@lru_cache
def _round_exchange():
    """The solver's side of its swarm rounds' exchanges (None: `exchange_host` is empty)."""
    from worker.round_exchange import RoundExchange

    settings = get_settings()
    if not settings.exchange_host:
        return None
    return RoundExchange(_chain(), _client(), settings.home, settings.exchange_host, settings.exchange_wait_seconds,
                         settings.poll_seconds)


# Transient failures (coordinator or chain unreachable, or restarting: httpx's transport errors are not
# OSErrors) are retried; a retry resumes from the last committed checkpoint, so no work is repeated.
RETRY = dict(autoretry_for=(CoordinatorError, ChainError, OSError, httpx.TransportError), retry_backoff=2,
             retry_backoff_max=60, max_retries=8)


@contextmanager
def job_lock(task: str, job_id: int):
    """Yields whether this host holds the lock of `task` on `job_id` (False: another run holds it)."""
    settings = get_settings()
    path = settings.home / "locks" / f"{task}-{_chain().address.lower()}-job{job_id}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # releases the lock (a killed process releases it too)


def once_at_a_time(task: str, job_id: int, run: Callable):
    with job_lock(task, job_id) as held:
        if not held:
            return f"job {job_id}: {task} is already running on this host; this delivery is a duplicate"
        return run()


@app.task(name=EXECUTE_JOB, **RETRY)
def execute_job(job_id: int) -> str:
    from worker.cheats import conduct, trainer_factory
    from worker.solver import SolverRun  # torch loads only in worker processes

    settings = get_settings()
    return once_at_a_time("execute", job_id, SolverRun(job_id, _chain(), _engine_client(), trainer_factory(settings.cheat),
                                                       home=settings.home, conduct=conduct(settings.cheat),
                                                       exchange=_round_exchange()).execute)


@app.task(name=VERIFY_JOB, **RETRY)
def verify_job(job_id: int) -> dict | None:
    from worker.verifier import VerifierRun

    settings = get_settings()
    run = VerifierRun(job_id, _chain(), _engine_client(), lie=settings.lying_verifier, lazy=settings.lazy_verifier,
                      notes=settings.home / "audits").verify
    verdict = once_at_a_time("verify", job_id, run)
    return verdict if verdict is None or isinstance(verdict, str) else verdict.__dict__
