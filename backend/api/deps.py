"""Shared FastAPI dependencies and helpers of the routes."""

import time
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.responses import Response
from pydantic import BaseModel, TypeAdapter
from sqlalchemy.orm import Session

from backend.artifacts import ArtifactStore
from backend.models import Job

MAX_JOB_ID = 2**31 - 1  # the widest id every database's INTEGER column holds
JobId = Annotated[int, Path(ge=0, le=MAX_JOB_ID, description="the job's id on chain")]


def _store(request: Request) -> ArtifactStore:
    return request.app.state.artifacts


StoreDep = Annotated[ArtifactStore, Depends(_store)]


def job_or_404(session: Session, job_id: int) -> Job:
    """The indexed job, or a 404 that says the indexer may simply be behind."""
    job = session.get(Job, job_id)
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no job {job_id} (the indexer may not have seen it yet)")
    return job


def json_response(value: BaseModel | list[BaseModel], status_code: int = 200) -> Response:
    """Serialize a response model once, here, rather than validate it again in FastAPI."""
    if isinstance(value, list):
        body = TypeAdapter(list[type(value[0])]).dump_json(value) if value else b"[]"
    else:
        body = value.model_dump_json().encode()
    return Response(body, status_code=status_code, media_type="application/json")


class ReadCache:
    """Anonymous reads of a job, kept for `seconds` (the indexer itself polls about once a second): under
    load most reads are answered without the database. A cached view is never fresher than the index, so
    it withholds at least what the index would (backend/disclosure.py)."""

    def __init__(self, seconds: float, max_entries: int = 10_000):
        self.seconds, self.max_entries = seconds, max_entries
        self.entries: dict[int, tuple[float, Response]] = {}

    def get(self, key: int) -> Response | None:
        entry = self.entries.get(key)
        return entry[1] if entry is not None and entry[0] > time.monotonic() else None

    def put(self, key: int, response: Response) -> None:
        if self.seconds <= 0:
            return
        if len(self.entries) >= self.max_entries:
            self.entries.clear()
        self.entries[key] = (time.monotonic() + self.seconds, response)
