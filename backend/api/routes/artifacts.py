"""Artifacts: upload and download by content hash. Uploads are signed requests from a party of an open job
(its solver) or from a funded address (a submitter preparing a job), within a byte quota per address;
they stream to disk off the event loop, hashed as they arrive."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from sqlalchemy import func, select

from backend.api.auth import HOW_TO_SIGN, verify
from backend.api.deps import StoreDep
from backend.api.problems import responses
from backend.artifacts import ArtifactError
from backend.models import Artifact, Job

router = APIRouter(tags=["artifacts"])
Digest = Annotated[str, Path(pattern=r"^0x[0-9a-f]{64}$", description="0x + sha256 of the content, lowercase hex")]
OPEN = ("running", "submitted", "disputed")
CHUNK = 1 << 20  # bytes handed to the writing thread at a time
DAY = timedelta(hours=24)


def authorize_upload(request: Request, uploader: str, size: int) -> int | None:
    """The open job the upload counts for (None: the uploader's own allowance); raises 403 or 429."""
    settings = request.app.state.settings
    with request.app.state.sessions() as session:
        jobs = session.scalars(select(Job.id).where(Job.solver == uploader, Job.state.in_(OPEN))
                               .order_by(Job.id.desc())).all()
        since = datetime.now(timezone.utc) - DAY
        used = session.scalar(select(func.coalesce(func.sum(Artifact.size), 0))
                              .where(Artifact.uploader == uploader, Artifact.created_at >= since))
    if not jobs:
        balance = request.app.state.chain.w3.eth.get_balance(uploader)
        if balance < settings.min_uploader_balance_wei:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"{uploader} solves no open job and holds "
                                f"{balance} wei; uploads need at least {settings.min_uploader_balance_wei} wei")
    allowance = settings.upload_quota_bytes + len(jobs) * settings.job_upload_quota_bytes
    if used + size > allowance:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, headers={"Retry-After": "3600"},
                            detail=f"{uploader} uploaded {used} bytes in 24 h; {size} more would pass its quota "
                            f"of {allowance} bytes")
    return jobs[0] if jobs else None


def record_upload(request: Request, digest: str, size: int, uploader: str, job_id: int | None) -> None:
    with request.app.state.sessions() as session:
        if session.get(Artifact, digest) is None:
            session.add(Artifact(digest=digest, size=size, uploader=uploader, job_id=job_id))
            session.commit()


@router.put("/artifacts/{digest}", status_code=status.HTTP_201_CREATED, responses=responses(401, 403, 409, 411),
            openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {
                "schema": {"type": "string", "format": "binary"}}}}})
async def create_artifact(digest: Digest, request: Request, store: StoreDep) -> dict:
    """Store the body under `digest`, its sha256 (checked as it streams: 422 on a mismatch). A signed request
    (pinpoint.signing; the body hash it signs is `digest`); Content-Length required."""
    length = request.headers.get("content-length")
    if length is None:
        raise HTTPException(status.HTTP_411_LENGTH_REQUIRED, detail="send Content-Length with an upload")
    signed = await verify(request, bytes.fromhex(digest[2:]))
    if signed is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=f"unsigned upload: {HOW_TO_SIGN}")
    if store.exists(digest):
        return {"artifact": digest, "size": store.path(digest).stat().st_size, "created": False}
    job_id = await run_in_threadpool(authorize_upload, request, signed.signer, int(length))
    writer = await run_in_threadpool(store.writer, digest)
    try:
        buffer = bytearray()
        async for chunk in request.stream():
            buffer += chunk
            if len(buffer) >= CHUNK:
                await run_in_threadpool(writer.write, bytes(buffer))
                buffer.clear()
        await run_in_threadpool(writer.write, bytes(buffer))
        created = await run_in_threadpool(writer.commit)
    except ArtifactError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
    except BaseException:
        writer.abort()
        raise
    await run_in_threadpool(record_upload, request, digest, writer.size, signed.signer, job_id)
    return {"artifact": digest, "size": writer.size, "created": created}


@router.get("/artifacts/{digest}", response_class=FileResponse,
            responses={200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
                             "description": "the artifact's bytes"}})
def read_artifact(digest: Digest, store: StoreDep) -> FileResponse:
    path = store.path(digest)
    if not path.exists():
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no artifact {digest}")
    return FileResponse(path, media_type="application/octet-stream")
