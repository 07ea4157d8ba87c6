"""Jobs: specs in, the indexed view of the market out, and the workers' signed reports."""

from typing import Annotated

from fastapi import APIRouter, Body, Header, HTTPException, Request, status
from fastapi.responses import Response
from sqlalchemy import select

from backend.api.deps import SessionDep, StoreDep, job_or_404
from backend.api.schemas import (
    CheckpointReport,
    JobPublic,
    JobSummary,
    SignedReport,
    SpecAccepted,
    VerdictReport,
)
from backend.disclosure import indexed_time, withheld_checkpoints
from backend.models import Checkpoint, Job, Spec, Verdict
from pinpoint.merkle import checkpoint_leaf_hash
from pinpoint.signing import read_signer, report_signer
from pinpoint.spec import SpecError, parse_spec

router = APIRouter(tags=["jobs"])
JOB_STATES = ("bidding", "running", "submitted", "disputed", "finalized", "cancelled", "failed", "slashed", "unverified")


@router.post("/jobs", response_model=SpecAccepted, status_code=status.HTTP_201_CREATED)
def create_job(session: SessionDep, spec_body: dict = Body(description="A job spec (pinpoint.job/1)")) -> SpecAccepted:
    """Validate a spec and store it content-addressed. Post the returned hash on chain to open the job."""
    try:
        spec = parse_spec(spec_body)
    except SpecError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
    spec_hash = spec.spec_hash()
    created = session.get(Spec, spec_hash) is None
    if created:
        session.add(Spec(hash=spec_hash, body=spec.canonical_json().decode()))
        session.commit()
    return SpecAccepted(
        spec_hash=spec_hash,
        checkpoint_count=spec.checkpoint_count,
        checkpoint_interval=spec.checkpoint_interval,
        created=created,
    )


@router.get("/specs/{spec_hash}")
def read_spec(spec_hash: str, session: SessionDep) -> Response:
    """The spec's canonical JSON: its sha256 is the hash it is filed under."""
    spec = session.get(Spec, spec_hash.lower())
    if spec is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no spec {spec_hash}")
    return Response(spec.body, media_type="application/json")


@router.get("/jobs", response_model=list[JobSummary])
def read_jobs(session: SessionDep, state: str | None = None, limit: int = 100) -> list[Job]:
    query = select(Job).order_by(Job.id.desc()).limit(min(max(limit, 1), 1000))
    if state is not None:
        if state not in JOB_STATES:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"state must be one of {', '.join(JOB_STATES)}")
        query = query.where(Job.state == state)
    return list(session.scalars(query))


@router.get("/jobs/{job_id}", response_model=JobPublic)
def read_job(job_id: int, session: SessionDep, request: Request,
             x_pinpoint_timestamp: Annotated[str | None, Header()] = None,
             x_pinpoint_signature: Annotated[str | None, Header()] = None) -> JobPublic:
    """The job as indexed. Checkpoints whose hashes verifiers must not see yet come with a null state hash
    and artifact (backend/disclosure.py), except for the job's solver, which signs its read."""
    job = job_or_404(session, job_id)
    public = JobPublic.model_validate(job)
    losses = [c.loss for c in job.checkpoints if c.loss is not None]
    public.final_loss = losses[-1] if losses else None
    reader = read_signer(job_id, x_pinpoint_timestamp, x_pinpoint_signature)
    is_solver = reader is not None and job.solver is not None and reader.lower() == job.solver.lower()
    withheld = set() if is_solver else withheld_checkpoints(job, indexed_time(session))
    for checkpoint in public.checkpoints:
        checkpoint.leaf = checkpoint_leaf_hash(job_id, checkpoint.index, checkpoint.step, checkpoint.state_hash)
        if checkpoint.index in withheld:
            checkpoint.state_hash = checkpoint.artifact = None
    return public


def _signed_by(report: SignedReport, kind: str, job_id: int) -> str:
    try:
        return report_signer(kind, job_id, report.body, report.signature)
    except Exception:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="signature does not recover to an address") from None


@router.post("/jobs/{job_id}/checkpoints", response_model=dict)
def create_checkpoint(job_id: int, report: SignedReport, session: SessionDep, store: StoreDep) -> dict:
    """The job's solver reports a checkpoint it uploaded (signed by the solver's key)."""
    job = job_or_404(session, job_id)
    signer = _signed_by(report, "checkpoints", job_id)
    if job.solver is None or signer.lower() != job.solver.lower():
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"{signer} is not the solver of job {job_id}")
    body = CheckpointReport.model_validate(report.body)
    if body.index > job.checkpoint_count:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"index {body.index} > checkpoint count {job.checkpoint_count}")
    if body.step != body.index * job.checkpoint_interval:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"checkpoint {body.index} must be at step {body.index * job.checkpoint_interval}")
    if not store.exists(body.artifact):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"artifact {body.artifact} not uploaded")
    existing = session.scalar(select(Checkpoint).where(Checkpoint.job_id == job_id, Checkpoint.index == body.index))
    if existing is not None:
        if (existing.state_hash, existing.artifact) != (body.state_hash, body.artifact):
            raise HTTPException(status.HTTP_409_CONFLICT, detail=f"checkpoint {body.index} was reported with another hash")
        return {"created": False}
    session.add(Checkpoint(job_id=job_id, **body.model_dump()))
    session.commit()
    return {"created": True}


def _has_stake(chain, address: str) -> bool:
    """Whether `address` has stake behind it: a verifier registered in the Audit contract, or stake (free or
    locked) in the Staking contract."""
    if chain.audit is not None and chain.audit.functions.stakeOf(address).call() > 0:
        return True
    staking = chain.staking.functions
    return staking.freeStake(address).call() + staking.lockedStake(address).call() > 0


@router.post("/jobs/{job_id}/verdicts", response_model=dict)
def create_verdict(job_id: int, report: SignedReport, session: SessionDep, request: Request) -> dict:
    """A verifier with stake (registered in the Audit contract, or staked in Staking) reports the result of
    replaying one interval. The job's own solver cannot vouch for itself."""
    job = job_or_404(session, job_id)
    signer = _signed_by(report, "verdicts", job_id)
    chain = request.app.state.chain
    # The chain's word too: the index may not have seen the award yet.
    solvers = {s.lower() for s in (job.solver, chain.job(job_id)["solver"]) if s}
    if signer.lower() in solvers:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"{signer} is the solver of job {job_id}; a solver "
                            "does not report verdicts on its own work")
    if not _has_stake(chain, signer):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"{signer} has no stake; only verifiers registered in "
                            "the Audit contract or staked in the Staking contract report")
    body = VerdictReport.model_validate(report.body)
    session.add(Verdict(job_id=job_id, verifier=signer, **body.model_dump()))
    session.commit()
    return {"created": True}
