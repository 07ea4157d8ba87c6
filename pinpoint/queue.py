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
        self._redis = None

    def broker_run(self) -> str:
        """The broker's run id (Redis/Valkey `INFO server`): another one means it restarted, and a broker
        without persistence restarts with empty queues, so whatever was sent before and is still due must be
        sent again (backend/indexer.py, worker/daemon.py). Raises when the broker is unreachable."""
        import redis

        if self._redis is None:
            self._redis = redis.Redis.from_url(self.app.conf.broker_url, socket_timeout=5, socket_connect_timeout=2)
        return self._redis.info("server")["run_id"]

    def execute(self, job_id: int, solver: str) -> None:
        self.app.send_task(EXECUTE_JOB, args=[job_id], queue=solver_queue(solver))

    def verify(self, job_id: int, verifier: str) -> None:
        self.app.send_task(VERIFY_JOB, args=[job_id], queue=verifier_queue(verifier))
