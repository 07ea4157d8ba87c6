"""Inference outputs with their Merkle proofs: a client checks each against the job's on-chain final root
(pinpoint.inference.verify_output), so it needs to trust the coordinator for nothing but availability."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool

from backend.api.deps import JobId, StoreDep, job_or_404, json_response
from backend.api.problems import responses
from backend.api.schemas import OutputEntry, OutputsPage
from backend.disclosure import indexed_time, withheld_checkpoints
from backend.models import Spec
from pinpoint.inference import read_output_artifact
from pinpoint.merkle import (
    CHECKPOINT_LEAF_TYPES,
    StandardMerkleTree,
    checkpoint_leaf_hash,
)
from pinpoint.spec import MAX_INPUTS, InferenceSpec, parse_spec
from pinpoint.tensors import SafetensorsError

router = APIRouter(tags=["outputs"])
ZERO_ROOT = "0x" + "00" * 32


@router.get("/jobs/{job_id}/outputs", response_model=OutputsPage, responses=responses(409))
async def read_outputs(job_id: JobId, store: StoreDep, request: Request,
                       offset: Annotated[int, Query(ge=0, le=MAX_INPUTS)] = 0,
                       limit: Annotated[int, Query(ge=1, le=1000)] = 100):
    """Outputs `offset`..`offset+limit-1` (0-based input indices) of an inference job whose final root is
    indexed, each with the proof of its leaf (index + 1). Outputs under audit (the commit window of the
    verifiers' sample) come back withheld: no output, no proof, `withheld: true`."""
    return json_response(await run_in_threadpool(_page, request, store, job_id, offset, limit))


def _page(request: Request, store, job_id: int, offset: int, limit: int) -> OutputsPage:
    with request.app.state.sessions() as session:
        job = job_or_404(session, job_id)
        spec_row = session.get(Spec, job.spec_hash)
        spec = parse_spec(spec_row.body) if spec_row is not None else None
        if not isinstance(spec, InferenceSpec):
            raise HTTPException(status.HTTP_409_CONFLICT, detail=f"job {job_id} is not an inference job")
        final_root = job.final_root
        if final_root is None or final_root == ZERO_ROOT:
            raise HTTPException(status.HTTP_409_CONFLICT, detail=f"job {job_id} is {job.state}: no final root on chain yet")
        reported = {c.index: c for c in job.checkpoints}
        withheld = withheld_checkpoints(job, indexed_time(session))
        state = job.state
    if set(reported) != set(range(spec.checkpoint_count + 1)):
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"the solver reported {len(reported)} of "
                            f"{spec.checkpoint_count + 1} leaves; outputs cannot be proven yet")
    tree = StandardMerkleTree.from_leaf_hashes(
        [checkpoint_leaf_hash(job_id, i, reported[i].step, reported[i].state_hash) for i in sorted(reported)],
        CHECKPOINT_LEAF_TYPES)
    if tree.root != final_root:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="the reported leaves do not rebuild the on-chain "
                            "final root (the solver reported other outputs than it committed)")
    entries = [_entry(index, reported[index + 1], store, tree, withheld, spec.spec_hash())
               for index in range(offset, min(offset + limit, spec.inputs.count))]
    return OutputsPage(job_id=job_id, state=state, final_root=final_root, count=spec.inputs.count,
                       offset=offset, outputs=entries)


def _entry(index: int, checkpoint, store, tree: StandardMerkleTree, withheld: set[int], spec_hash: str) -> OutputEntry:
    if checkpoint.index in withheld:
        return OutputEntry(index=index, withheld=True)
    try:
        record = read_output_artifact(store.path(checkpoint.artifact).read_bytes(), spec_hash)
    except (OSError, SafetensorsError) as exc:
        return OutputEntry(index=index, error=f"output artifact {checkpoint.artifact} unreadable: {exc}")
    if record.index != index or "0x" + record.state_hash.hex() != checkpoint.state_hash:
        return OutputEntry(index=index, error=f"output artifact {checkpoint.artifact} is not the committed output")
    return OutputEntry(index=index, input_hash="0x" + record.input_hash.hex(), output_hash="0x" + record.output_hash.hex(),
                       output=record.output.to_json(), values=record.output.values(),
                       proof=tree.get_proof(checkpoint.index))
