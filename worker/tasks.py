"""Celery tasks of a worker host: run `celery -A worker.tasks worker -Q <queue>` (the worker CLI does).

Tasks take a job id, re-read everything from the chain, and are safe to run twice.
"""

from functools import lru_cache

from pinpoint.chain import Chain
from pinpoint.client import CoordinatorClient
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


@app.task(name=EXECUTE_JOB)
def execute_job(job_id: int) -> str:
    from worker.solver import SolverRun  # torch loads only in worker processes

    return SolverRun(job_id, _chain(), _client()).execute()


@app.task(name=VERIFY_JOB)
def verify_job(job_id: int) -> dict | None:
    from worker.verifier import VerifierRun

    verdict = VerifierRun(job_id, _chain(), _client()).verify()
    return None if verdict is None else verdict.__dict__
