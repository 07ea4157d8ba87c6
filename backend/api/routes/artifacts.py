"""Artifacts: upload and download by content hash; the hash is checked on upload."""

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import FileResponse

from backend.api.deps import StoreDep
from backend.artifacts import ArtifactError

router = APIRouter(tags=["artifacts"])
MAX_ARTIFACT_BYTES = 1 << 30


@router.put("/artifacts/{digest}", status_code=status.HTTP_201_CREATED)
async def create_artifact(digest: str, request: Request, store: StoreDep) -> dict:
    data = await request.body()
    if len(data) > MAX_ARTIFACT_BYTES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, detail="artifact larger than 1 GiB")
    try:
        created = store.put(digest, data)
    except ArtifactError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
    return {"artifact": digest, "size": len(data), "created": created}


@router.get("/artifacts/{digest}")
def read_artifact(digest: str, store: StoreDep) -> FileResponse:
    try:
        path = store.path(digest)
    except ArtifactError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
    if not path.exists():
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no artifact {digest}")
    return FileResponse(path, media_type="application/octet-stream")
