"""Shared FastAPI dependencies as `Annotated` aliases."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.orm import Session

from backend.artifacts import ArtifactStore
from backend.models import Job


def _session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


def _store(request: Request) -> ArtifactStore:
    return request.app.state.artifacts


SessionDep = Annotated[Session, Depends(_session)]
StoreDep = Annotated[ArtifactStore, Depends(_store)]


def job_or_404(session: Session, job_id: int) -> Job:
    """The indexed job, or a 404 that says the indexer may simply be behind."""
    job = session.get(Job, job_id)
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no job {job_id} (the indexer may not have seen it yet)")
    return job
