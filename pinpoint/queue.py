"""The Celery app shared by the coordinator (producer) and the workers (consumers).

The coordinator enqueues by task name with ids as arguments and never imports worker code, so torch
stays out of the API process. Each solver and each verifier consumes its own queue: the coordinator sends
a solver the jobs it won; a verifier host sends itself every result to check (each drawn verifier must
check it, so the task is not shared).
"""

from celery import Celery

EXECUTE_JOB = "pinpoint.execute_job"
VERIFY_JOB = "pinpoint.verify_job"


def solver_queue(address: str) -> str:
    return f"pinpoint.solver.{address.lower()}"


def verifier_queue(address: str) -> str:
    return f"pinpoint.verifier.{address.lower()}"


def make_celery(redis_url: str) -> Celery:
    app = Celery("pinpoint", broker=redis_url, backend=redis_url)
    app.conf.update(
        task_acks_late=True,  # a worker that dies mid-job leaves the task for its restart
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        task_serializer="json",  # never pickle
        accept_content=["json"],
        result_serializer="json",
    )
    return app


class Dispatcher:
    """Sends tasks by name with the job id only; workers re-read everything from the chain."""

    def __init__(self, app: Celery):
        self.app = app

    def execute(self, job_id: int, solver: str) -> None:
        self.app.send_task(EXECUTE_JOB, args=[job_id], queue=solver_queue(solver))

    def verify(self, job_id: int, verifier: str) -> None:
        self.app.send_task(VERIFY_JOB, args=[job_id], queue=verifier_queue(verifier))
