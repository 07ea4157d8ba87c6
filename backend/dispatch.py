"""The Celery producer: hands awarded jobs to their solver's queue and submitted ones to the verifiers.

Tasks are sent by name with the job id only; workers re-read everything from the chain.
"""

from celery import Celery

from pinpoint.queue import EXECUTE_JOB, VERIFIER_QUEUE, VERIFY_JOB, solver_queue


class Dispatcher:
    def __init__(self, app: Celery):
        self.app = app

    def execute(self, job_id: int, solver: str) -> None:
        self.app.send_task(EXECUTE_JOB, args=[job_id], queue=solver_queue(solver))

    def verify(self, job_id: int) -> None:
        self.app.send_task(VERIFY_JOB, args=[job_id], queue=VERIFIER_QUEUE)
