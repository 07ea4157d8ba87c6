"""Artifacts: upload and download by content hash. Uploads are signed requests from a party of an open job
(its solver) or from a funded address (a submitter preparing a job), within a byte quota per address;
they stream to disk off the event loop, hashed as they arrive.

Small artifacts go up in one `PUT /artifacts/{digest}`. Large ones go up in chunks, resumably (docs/ARTIFACTS.md):
`POST /artifacts/{digest}/upload` with the size starts the upload (its size is checked against the quota
then) or answers how far it got; each `PUT /artifacts/{digest}/upload?offset=N` appends one chunk, signed over
the chunk's sha256 (header X-Pinpoint-Content-Sha256), which is checked as it streams; the chunk that
completes the upload commits it once the whole hashes to `digest`. `GET` serves byte ranges (HTTP Range).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Path, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, func, select

from backend.api.auth import HOW_TO_SIGN, SignerDep, verify
from backend.api.deps import MAX_JOB_ID, StoreDep
from backend.api.problems import responses
from backend.artifacts import ArtifactError, OffsetMismatch, check_source
from backend.models import Artifact, ArtifactSource, ArtifactUpload, Job, Spec
from pinpoint.client import CONTENT_SHA256
from pinpoint.resources import estimate_resources
from pinpoint.spec import parse_spec

router = APIRouter(tags=["artifacts"])
Digest = Annotated[str, Path(pattern=r"^0x[0-9a-f]{64}$", description="0x + sha256 of the content, lowercase hex")]
OPEN = ("running", "submitted", "disputed")
CHUNK = 1 << 20  # bytes handed to the writing thread at a time
DAY = timedelta(hours=24)


@lru_cache(maxsize=256)  # keyed by spec bodies of at most 64 KiB: 16 MiB at most
def job_upload_bytes(spec_body: str | None) -> int:
    """What a job's solver may need to upload for it: each checkpoint twice over (a re-upload after a loss, the
    states a dispute asks for), from the spec's resource estimate (0 for a spec the coordinator does not hold)."""
    return 0 if spec_body is None else 2 * estimate_resources(parse_spec(spec_body)).job_checkpoint_bytes


def authorize_upload(request: Request, uploader: str, size: int) -> int | None:
    """The open job the upload counts for (None: the uploader's own allowance); raises 403 or 429. Chunked
    uploads in progress count with their whole declared size until they complete or are abandoned."""
    settings = request.app.state.settings
    now = datetime.now(timezone.utc)
    with request.app.state.sessions() as session:
        open_jobs = session.execute(select(Job.id, Spec.body).join(Spec, Spec.hash == Job.spec_hash, isouter=True)
                                    .where(Job.solver == uploader, Job.state.in_(OPEN)).order_by(Job.id.desc())).all()
        jobs = [job_id for job_id, _ in open_jobs]
        used = session.scalar(select(func.coalesce(func.sum(Artifact.size), 0))
                              .where(Artifact.uploader == uploader, Artifact.created_at >= now - DAY))
        used += session.scalar(select(func.coalesce(func.sum(ArtifactUpload.size), 0)).where(
            ArtifactUpload.uploader == uploader,
            ArtifactUpload.updated_at >= now - timedelta(seconds=settings.upload_idle_seconds)))
    if not jobs:
        balance = request.app.state.chain.w3.eth.get_balance(uploader)
        if balance < settings.min_uploader_balance_wei:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"{uploader} solves no open job and holds "
                                f"{balance} wei; uploads need at least {settings.min_uploader_balance_wei} wei")
    allowance = settings.upload_quota_bytes + sum(max(settings.job_upload_quota_bytes, job_upload_bytes(body))
                                                  for _, body in open_jobs)
    if used + size > allowance:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, headers={"Retry-After": "3600"},
                            detail=f"{uploader} uploaded {used} bytes in 24 h (uploads in progress included); "
                            f"{size} more would pass its quota of {allowance} bytes")
    return jobs[0] if jobs else None


def record_upload(request: Request, digest: str, size: int, uploader: str, job_id: int | None, created: bool) -> None:
    """Count the upload for its uploader (and end its chunked upload, if it was one)."""
    with request.app.state.sessions() as session:
        row = session.get(Artifact, digest)
        if row is None:
            session.add(Artifact(digest=digest, size=size, uploader=uploader, job_id=job_id))
        elif created:  # uploaded again after retention deleted it: it counts again, for its new uploader
            row.size, row.uploader, row.job_id, row.created_at = size, uploader, job_id, datetime.now(timezone.utc)
        session.execute(delete(ArtifactUpload).where(ArtifactUpload.digest == digest,
                                                     ArtifactUpload.uploader == uploader))
        session.commit()


def content_length(request: Request) -> int:
    length = request.headers.get("content-length")
    if length is None:
        raise HTTPException(status.HTTP_411_LENGTH_REQUIRED, detail="send Content-Length with an upload")
    return int(length)  # BodyLimit checked that it is a number within the route's limit


async def stream_into(request: Request, sink) -> None:
    """The request body, written by `sink.write` in a worker thread a megabyte at a time."""
    buffer = bytearray()
    async for chunk in request.stream():
        buffer += chunk
        if len(buffer) >= CHUNK:
            await run_in_threadpool(sink.write, bytes(buffer))
            buffer.clear()
    await run_in_threadpool(sink.write, bytes(buffer))


class ArtifactStored(BaseModel):
    artifact: str = Field(description="the artifact's sha256, 0x-hex: the digest it is stored under")
    size: int = Field(description="bytes stored")
    created: bool = Field(description="False when the same bytes were stored before")


@router.put("/artifacts/{digest}", status_code=status.HTTP_201_CREATED, response_model=ArtifactStored,
            responses=responses(401, 403, 409, 411),
            openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {
                "schema": {"type": "string", "format": "binary"}}}}})
async def create_artifact(digest: Digest, request: Request, store: StoreDep) -> dict:
    """Store the body under `digest`, its sha256 (checked as it streams: 422 on a mismatch). A signed request
    (pinpoint.signing; the body hash it signs is `digest`); Content-Length required."""
    length = content_length(request)
    signed = await verify(request, bytes.fromhex(digest[2:]))
    if signed is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=f"unsigned upload: {HOW_TO_SIGN}")
    if (size := await run_in_threadpool(store.size, digest)) is not None:
        return {"artifact": digest, "size": size, "created": False}
    job_id = await run_in_threadpool(authorize_upload, request, signed.signer, length)
    writer = await run_in_threadpool(store.writer, digest)
    try:
        await stream_into(request, writer)
        created = await run_in_threadpool(writer.commit)
    except ArtifactError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
    except BaseException:
        writer.abort()
        raise
    await run_in_threadpool(record_upload, request, digest, writer.size, signed.signer, job_id, created)
    return {"artifact": digest, "size": writer.size, "created": created}


class UploadStart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: int = Field(ge=1, description="the artifact's size in bytes")


class UploadState(BaseModel):
    artifact: str
    size: int
    offset: int = Field(description="bytes received: send the next chunk at this offset")
    complete: bool = Field(description="the artifact is stored (by this upload or before it)")


def start_upload(request: Request, store, digest: str, uploader: str, size: int) -> UploadState:
    settings = request.app.state.settings
    if size > settings.max_artifact_bytes:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                            detail=f"an artifact of {size} bytes exceeds the limit of {settings.max_artifact_bytes} bytes")
    if (stored := store.size(digest)) is not None:
        return UploadState(artifact=digest, size=stored, offset=stored, complete=True)
    with request.app.state.sessions() as session:
        upload = session.get(ArtifactUpload, (digest, uploader))
        if upload is not None and upload.size != size:
            raise HTTPException(status.HTTP_409_CONFLICT, detail=f"an upload of {digest} with {upload.size} bytes is in "
                                f"progress; an artifact has one size (not {size})")
        if upload is None:
            job_id = authorize_upload(request, uploader, size)
            upload = ArtifactUpload(digest=digest, uploader=uploader, size=size, job_id=job_id)
            session.add(upload)
        upload.updated_at = datetime.now(timezone.utc)
        offset = store.start_partial(digest, uploader)
        session.commit()
    return UploadState(artifact=digest, size=size, offset=offset, complete=False)


@router.post("/artifacts/{digest}/upload", response_model=UploadState, responses=responses(401, 403, 409, 413))
async def create_upload(digest: Digest, body: UploadStart, signed: SignerDep, request: Request,
                        store: StoreDep) -> UploadState:
    """Start a chunked upload of `size` bytes (authorized and counted against the quota now), or resume one:
    the answer says at which offset to send the next chunk. A signed request."""
    return await run_in_threadpool(start_upload, request, store, digest, signed.signer, body.size)


@router.put("/artifacts/{digest}/upload", response_model=UploadState, responses=responses(401, 404, 409, 411, 413),
            openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {
                "schema": {"type": "string", "format": "binary"}}}}})
async def append_chunk(digest: Digest, request: Request, store: StoreDep,
                       offset: Annotated[int, Query(ge=0, description="where the chunk starts")],
                       chunk_sha256: Annotated[str, Header(alias=CONTENT_SHA256, pattern=r"^[0-9a-f]{64}$",
                                                           description="the chunk's sha256, hex: what is signed")]
                       ) -> UploadState:
    """Append one chunk at `offset` (409 with the upload's offset when that is not where it ends). Signed over
    the chunk's sha256, sent hex in X-Pinpoint-Content-Sha256 and checked as it streams: a chunk that does not
    match is not kept. The chunk that completes the upload stores the artifact if the whole hashes to `digest`;
    otherwise the upload is deleted (422) and must start over."""
    settings = request.app.state.settings
    length = content_length(request)
    signed = await verify(request, bytes.fromhex(chunk_sha256))
    if signed is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=f"unsigned chunk: {HOW_TO_SIGN}")
    if length > settings.max_upload_chunk_bytes:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, detail=f"a chunk of {length} bytes exceeds the limit "
                            f"of {settings.max_upload_chunk_bytes} bytes")

    def open_chunk():
        with request.app.state.sessions() as session:
            upload = session.get(ArtifactUpload, (digest, signed.signer))
        if upload is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"{signed.signer} has no upload of {digest} in "
                                "progress: start one with POST /v1/artifacts/{digest}/upload")
        if offset + length > upload.size:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"a chunk of {length} bytes at offset "
                                f"{offset} passes the upload's size of {upload.size} bytes")
        try:
            return upload, store.append(digest, signed.signer, offset)
        except OffsetMismatch as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc), headers={"Upload-Offset": str(exc.offset)}) from None
        except ArtifactError as exc:  # the row outlived its file (a crash between the two): start over
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None

    upload, part = await run_in_threadpool(open_chunk)
    try:
        await stream_into(request, part)
        if part.offset != offset + length:
            raise ArtifactError(f"the chunk carried {part.offset - offset} bytes, not its Content-Length {length}")
        upload_hash = await run_in_threadpool(part.finish, chunk_sha256)
    except ArtifactError as exc:
        part.abort()
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
    except BaseException:
        part.abort()
        raise

    def settle() -> UploadState:
        if part.offset < upload.size:
            with request.app.state.sessions() as session:
                row = session.get(ArtifactUpload, (digest, signed.signer))
                if row is not None:
                    row.updated_at = datetime.now(timezone.utc)
                    session.commit()
            return UploadState(artifact=digest, size=upload.size, offset=part.offset, complete=False)
        try:
            created = store.commit_partial(digest, signed.signer, upload_hash)
        except ArtifactError as exc:
            with request.app.state.sessions() as session:
                session.execute(delete(ArtifactUpload).where(ArtifactUpload.digest == digest,
                                                             ArtifactUpload.uploader == signed.signer))
                session.commit()
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
        record_upload(request, digest, upload.size, signed.signer, upload.job_id, created)
        return UploadState(artifact=digest, size=upload.size, offset=upload.size, complete=True)

    return await run_in_threadpool(settle)


class SourceDeclaration(BaseModel):
    model_config = ConfigDict(extra="forbid")
    job_id: int = Field(ge=0, le=MAX_JOB_ID, description="the job whose checkpoint this is")
    url: str = Field(max_length=200, description="http://host:port where the solver serves /artifacts/{digest}")


class SourceDeclared(BaseModel):
    artifact: str
    url: str = Field(description="where the coordinator fetches it on a miss")


@router.post("/artifacts/{digest}/sources", status_code=status.HTTP_201_CREATED, response_model=SourceDeclared,
             responses=responses(401, 403, 409))
async def create_source(digest: Digest, body: SourceDeclaration, signed: SignerDep, request: Request) -> dict:
    """A job's solver declares that it serves `digest`, a checkpoint of the job, from its own host (a signed
    request). The coordinator indexes it and fetches it from there on a miss, checking the hash before it
    caches or serves a byte. 409 where the coordinator keeps every checkpoint itself (the `filesystem`
    backend): upload it instead."""
    if request.app.state.settings.artifact_backend != "solvers":
        raise HTTPException(status.HTTP_409_CONFLICT, detail="this coordinator keeps checkpoints itself: upload them")
    try:
        url = check_source(body.url)
    except ArtifactError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None

    def save() -> None:
        with request.app.state.sessions() as session:
            job = session.get(Job, body.job_id)
            if job is None or job.solver is None or job.solver.lower() != signed.signer.lower() or job.state not in OPEN:
                raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"{signed.signer} solves no open job {body.job_id}")
            source = session.get(ArtifactSource, (digest, signed.signer))
            if source is None:
                session.add(ArtifactSource(digest=digest, solver=signed.signer, url=url, job_id=body.job_id))
            else:
                source.url, source.job_id = url, body.job_id
            session.commit()

    await run_in_threadpool(save)
    return {"artifact": digest, "url": url}


@router.get("/artifacts/{digest}", response_class=FileResponse,
            responses={200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
                             "description": "the artifact's bytes"},
                       206: {"description": "the byte range asked for (HTTP Range)"}})
def read_artifact(digest: Digest, store: StoreDep) -> FileResponse:
    """The artifact's bytes; a `Range: bytes=N-` request resumes an interrupted download. Check the hash:
    with the solver-hosted backend, a miss is fetched from the solver that declared it (and hash-checked)."""
    path = store.local_path(digest)
    if path is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no artifact {digest}")
    return FileResponse(path, media_type="application/octet-stream")
