"""Jobs: specs in, the indexed view of the market out, and the workers' signed reports.

Reads come from the database only, and each route holds a database connection only while it reads or
writes (in a worker thread); responses are serialized after the connection is back in the pool.
"""

from __future__ import annotations

import threading
from typing import Annotated, Literal, get_args

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from backend.api.auth import OptionalSignerDep, SignerDep
from backend.api.deps import MAX_JOB_ID, JobId, StoreDep, job_or_404, json_response
from backend.api.problems import responses
from backend.api.schemas import (
    CheckpointReport,
    Created,
    JobPage,
    JobPublic,
    JobSummary,
    SpecAccepted,
    VerdictReport,
    spec_request_body,
    spec_schema,
)
from backend.artifacts import ArtifactStore
from backend.disclosure import indexed_time, withheld_checkpoints
from backend.models import Checkpoint, Job, Spec, Verdict
from pinpoint.datasets import check_dataset
from pinpoint.merkle import checkpoint_leaf_hash
from pinpoint.resources import (
    SpecLimits,
    check_resources,
    check_weights_header,
    model_vocab_size,
)
from pinpoint.spec import (
    CHAR_VOCAB_BOUND,
    AnySpec,
    ArtifactDatasetSpec,
    CharTransformerSpec,
    JobSpec,
    ModelSpec,
    SpecError,
    parse_spec,
)
from pinpoint.tensors import SafetensorsError, read_safetensors_header

router = APIRouter(tags=["jobs"])
DATASET_CHECKS = threading.Lock()  # regenerating a dataset takes up to a core-second: one at a time
JobStateName = Literal["bidding", "running", "submitted", "disputed", "finalized", "cancelled", "failed", "slashed",
                       "unverified"]
JOB_STATES = get_args(JobStateName)


@router.post("/jobs", response_model=SpecAccepted, status_code=status.HTTP_201_CREATED,
             openapi_extra=spec_request_body(), responses=responses(400))
async def create_job(request: Request, store: StoreDep) -> SpecAccepted:
    """Validate a spec (`pinpoint.job/1`, JSON) and store it content-addressed. Post the returned hash on chain
    to open the job. Refused with 422 naming the field: malformed specs, resources beyond the operator's
    limits, an inference job whose weights or inputs were never uploaded, a training job whose uploaded dataset
    was never uploaded or whose header (tensor names, dtypes, shapes) is not what the spec declares."""
    raw = await request.body()
    try:
        spec = await run_in_threadpool(validated_spec, raw, request.app.state.settings.spec_limits(), store)
    except SpecError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
    spec_hash = spec.spec_hash()

    def store_spec() -> bool:
        with request.app.state.sessions() as session:
            if session.get(Spec, spec_hash) is not None:
                return False
            session.add(Spec(hash=spec_hash, body=spec.canonical_json().decode()))
            try:
                session.commit()
            except IntegrityError:  # the same spec, posted concurrently
                return False
            return True

    created = await run_in_threadpool(store_spec)
    accepted = SpecAccepted(spec_hash=spec_hash, checkpoint_count=spec.checkpoint_count,
                            checkpoint_interval=spec.checkpoint_interval, created=created)
    return json_response(accepted, status.HTTP_201_CREATED)


def validated_spec(raw: bytes, limits: SpecLimits, store: ArtifactStore) -> AnySpec:
    """The spec, if it parses, fits the operator's limits and names data that exists; else SpecError."""
    spec = parse_spec(raw)
    check_resources(spec, limits)
    if isinstance(spec, JobSpec):
        if isinstance(spec.dataset, ArtifactDatasetSpec):  # an uploaded dataset: only its header is read
            check_dataset(spec.dataset, lambda digest: store.path(digest) if store.exists(digest) else None)
        else:
            with DATASET_CHECKS:
                check_dataset(spec.dataset)
        if spec.init is not None:
            check_weights(store, spec.model, spec.init.sha256, "init", model_vocab_size(spec))
    else:
        problems = [] if store.exists("0x" + spec.inputs.sha256) else [
            f"inputs.sha256: artifact 0x{spec.inputs.sha256} was never uploaded; upload it first"]
        try:
            check_weights(store, spec.model, spec.weights.sha256, "weights")
        except SpecError as exc:
            problems = exc.problems + problems
        if problems:
            raise SpecError(problems)
    return spec


def check_weights(store: ArtifactStore, model: ModelSpec, sha256: str, field: str, vocab_size: int | None = None) -> None:
    """SpecError naming `field` unless the artifact was uploaded and its header lists exactly the model's
    parameters (only the header is read). An inference char_transformer's vocabulary is its weights'."""
    digest = "0x" + sha256
    if not store.exists(digest):
        raise SpecError([f"{field}.sha256: artifact {digest} was never uploaded; upload it first"])
    try:
        tensors, _ = read_safetensors_header(store.path(digest))
    except SafetensorsError as exc:
        raise SpecError([f"{field}.sha256: artifact {digest} is not a safetensors file: {exc}"]) from None
    if isinstance(model, CharTransformerSpec) and vocab_size is None:
        vocab_size = tensors.get("model.token_embedding.weight", ("", (CHAR_VOCAB_BOUND,)))[1][0]
    check_weights_header(model, tensors, field, vocab_size)


@router.get("/specs/{spec_hash}", responses={200: {"content": {"application/json": spec_schema()},
                                                   "description": "the spec's canonical JSON"}})
async def read_spec(spec_hash: Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{64}$")], request: Request):
    """The spec's canonical JSON: its sha256 is the hash it is filed under."""
    def load() -> str | None:
        with request.app.state.sessions() as session:
            spec = session.get(Spec, spec_hash.lower())
            return spec.body if spec is not None else None

    body = await run_in_threadpool(load)
    if body is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no spec {spec_hash}")
    return Response(body, media_type="application/json")


AddressQuery = Annotated[str, Query(pattern=r"^0x[0-9a-fA-F]{40}$", description="an address, in any case")]


@router.get("/jobs", response_model=JobPage)
async def read_jobs(request: Request, state: Annotated[JobStateName | None, Query()] = None,
                    submitter: AddressQuery | None = None, solver: AddressQuery | None = None,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                    cursor: Annotated[str | None, Query(max_length=32, description="`next_cursor` of the page before")]
                    = None):
    """A page of jobs, newest first, of the given state, submitter and solver (all given must hold). Pages are
    keyed by job id, so jobs indexed while a client walks them never shift or repeat a page."""
    if cursor is not None and not (cursor.isdigit() and 0 < int(cursor) <= MAX_JOB_ID + 1):
        raise HTTPException(422, detail="cursor is not one this API gave: pass a page's `next_cursor` unchanged")

    def load() -> JobPage:
        query = select(Job).order_by(Job.id.desc()).limit(limit + 1)
        if state is not None:
            query = query.where(Job.state == state)
        if submitter is not None:
            query = query.where(func.lower(Job.submitter) == submitter.lower())
        if solver is not None:
            query = query.where(func.lower(Job.solver) == solver.lower())
        if cursor is not None:
            query = query.where(Job.id < int(cursor))
        with request.app.state.sessions() as session:
            jobs = [JobSummary.model_validate(job) for job in session.scalars(query)]
        more = len(jobs) > limit
        return JobPage(items=jobs[:limit], next_cursor=str(jobs[limit - 1].id) if more else None)

    return json_response(await run_in_threadpool(load))


@router.get("/jobs/{job_id}", response_model=JobPublic, responses=responses(401, 409))
async def read_job(job_id: JobId, request: Request, reader: OptionalSignerDep):
    """The job as indexed. Checkpoints whose hashes verifiers must not see yet come with a null state hash
    and artifact (backend/disclosure.py), except for the job's solver, which signs its read (each signed
    read is accepted once)."""
    cache = request.app.state.read_cache
    if reader is None and (hit := cache.get(job_id)) is not None:
        return hit

    def load() -> JobPublic:
        with request.app.state.sessions() as session:
            job = job_or_404(session, job_id)
            public = JobPublic.model_validate(job)
            is_solver = reader is not None and job.solver is not None and reader.signer.lower() == job.solver.lower()
            withheld = set() if is_solver else withheld_checkpoints(job, indexed_time(session))
        losses = [c.loss for c in public.checkpoints if c.loss is not None]
        public.final_loss = losses[-1] if losses else None
        for checkpoint in public.checkpoints:
            checkpoint.leaf = checkpoint_leaf_hash(job_id, checkpoint.index, checkpoint.step, checkpoint.state_hash)
            if checkpoint.index in withheld:
                checkpoint.state_hash = checkpoint.artifact = None
        return public

    response = json_response(await run_in_threadpool(load))
    if reader is None:  # what anyone may see: the same for every anonymous reader
        cache.put(job_id, response)
    return response


@router.post("/jobs/{job_id}/checkpoints", response_model=Created, responses=responses(401, 403, 409))
async def create_checkpoint(job_id: JobId, report: CheckpointReport, signed: SignerDep, request: Request,
                            store: StoreDep) -> Created:
    """The job's solver reports a checkpoint it uploaded (a signed request from the solver's key). A report of
    an index already reported with other hashes is refused with 409: a solver treats that as an alarm."""
    def save() -> bool:
        with request.app.state.sessions() as session:
            job = job_or_404(session, job_id)
            if job.solver is None or signed.signer.lower() != job.solver.lower():
                raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"{signed.signer} is not the solver of job {job_id}")
            if report.index > job.checkpoint_count:
                raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                    detail=f"index {report.index} > checkpoint count {job.checkpoint_count}")
            if report.step != report.index * job.checkpoint_interval:
                raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                    detail=f"checkpoint {report.index} must be at step {report.index * job.checkpoint_interval}")
            if not store.exists(report.artifact):
                raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"artifact {report.artifact} not uploaded")
            existing = session.scalar(select(Checkpoint).where(Checkpoint.job_id == job_id, Checkpoint.index == report.index))
            if existing is not None:
                if (existing.state_hash, existing.artifact) != (report.state_hash, report.artifact):
                    raise HTTPException(status.HTTP_409_CONFLICT,
                                        detail=f"checkpoint {report.index} was reported with another hash")
                return False
            session.add(Checkpoint(job_id=job_id, **report.model_dump()))
            try:
                session.commit()
            except IntegrityError:
                raise HTTPException(status.HTTP_409_CONFLICT, detail=f"checkpoint {report.index} was reported concurrently") from None
            return True

    return json_response(Created(created=await run_in_threadpool(save)))


@router.post("/jobs/{job_id}/verdicts", response_model=Created, status_code=status.HTTP_201_CREATED,
             responses=responses(401, 403, 409))
async def create_verdict(job_id: JobId, report: VerdictReport, signed: SignerDep, request: Request) -> Created:
    """A verifier registered in the Audit contract (at least its minimum stake) reports the result of replaying
    one interval of the job: one verdict per verifier and interval. The job's solver cannot vouch for itself."""
    chain = request.app.state.chain

    def save() -> None:
        with request.app.state.sessions() as session:
            job = job_or_404(session, job_id)
            if job.solver is not None and signed.signer.lower() == job.solver.lower():
                raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"{signed.signer} is the solver of job {job_id}; "
                                    "a solver does not report verdicts on its own work")
            if report.interval >= job.checkpoint_count:
                raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"interval {report.interval} is out of "
                                    f"range: job {job_id} has intervals 0..{job.checkpoint_count - 1}")
            audit = chain.audit.functions if chain.audit is not None else None
            if audit is None or audit.stakeOf(signed.signer).call() < max(1, audit.minVerifierStake().call()):
                raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"{signed.signer} is not a verifier registered "
                                    "in the Audit contract with its minimum stake")
            session.add(Verdict(job_id=job_id, verifier=signed.signer, **report.model_dump()))
            try:
                session.commit()
            except IntegrityError:
                raise HTTPException(status.HTTP_409_CONFLICT, detail=f"{signed.signer} already reported a verdict on "
                                    f"interval {report.interval} of job {job_id}") from None

    await run_in_threadpool(save)
    return json_response(Created(created=True), status.HTTP_201_CREATED)
