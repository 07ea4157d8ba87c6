"""Celery tasks of a worker host: run `celery -A worker.tasks worker -Q <queue>` (the worker CLI does).

Tasks take a job id, re-read everything from the chain, and are safe to run twice.
"""

from functools import lru_cache

from pinpoint.chain import Chain, ChainError
from pinpoint.client import CoordinatorClient, CoordinatorError
from pinpoint.queue import EXECUTE_JOB, VERIFY_JOB, make_celery
from pinpoint.settings import get_settings

app = make_celery(get_settings().redis_url)


@lru_cache
def _chain() -> Chain:
    return Chain.from_settings(get_settings())


@lru_cache
def _client() -> CoordinatorClient:
    settings = get_settings()
    return CoordinatorClient(settings.coordinator_url, settings.private_key)


# Transient failures (coordinator or chain unreachable) are retried; a retry resumes from the last
# committed checkpoint, so no work is repeated.
RETRY = dict(autoretry_for=(CoordinatorError, ChainError, OSError), retry_backoff=2, retry_backoff_max=60, max_retries=8)


@app.task(name=EXECUTE_JOB, **RETRY)
def execute_job(job_id: int) -> str:
    from worker.cheats import conduct, trainer_factory
    from worker.solver import SolverRun  # torch loads only in worker processes

    settings = get_settings()
    return SolverRun(job_id, _chain(), _client(), trainer_factory(settings.cheat), home=settings.home,
                     conduct=conduct(settings.cheat)).execute()


@app.task(name=VERIFY_JOB, **RETRY)
def verify_job(job_id: int) -> dict | None:
    from worker.verifier import VerifierRun

    settings = get_settings()
    verdict = VerifierRun(job_id, _chain(), _client(), lie=settings.lying_verifier, lazy=settings.lazy_verifier,
                          notes=settings.home / "audits").verify()
    return None if verdict is None else verdict.__dict__
