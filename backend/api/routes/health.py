"""Liveness (`/health`), readiness (`/ready`) and Prometheus metrics (`/metrics`): outside the /v1 API.

- `/health`: the process answers. Nothing else is asked (no chain, no database), so a slow dependency never
  gets a healthy process restarted.
- `/ready`: it can serve what it is for: the database answers, the chain answers with the deployment's
  chain id, the indexer is not lagging (once the database shows its last block), and the broker answers
  when this process dispatches tasks. Otherwise 503, a problem naming everything that is not ready.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy import text

from backend.api.problems import responses
from backend.metrics import chain_head, indexed_block, read_metrics

router = APIRouter(tags=["health"])
router.add_api_route("/metrics", read_metrics, methods=["GET"], include_in_schema=False)


class Health(BaseModel):
    status: str = Field("ok", description="always `ok`: the process answers")


class Readiness(BaseModel):
    status: str = Field("ready", description="always `ready` (otherwise the answer is a 503 problem)")
    chain_id: int
    head_block: int = Field(description="the chain's latest block")
    indexed_block: int | None = Field(description="the last block the indexer applied; null before it first ran")


@router.get("/health", response_model=Health)
def read_health() -> Health:
    """Liveness: 200 whenever the process answers."""
    return Health()


@router.get("/ready", response_model=Readiness, responses=responses(503))
async def read_readiness(request: Request) -> Readiness:
    """Readiness: 200 when the database, the chain (with the deployment's chain id), the indexer and, if this
    process dispatches, the broker are ready; else 503 naming what is not."""
    # Exempt from the in-flight limit (a probe must answer under load), so a flood of probes is answered from a
    # short-lived copy: at most one round of database and chain reads per read_cache_seconds.
    cache = request.app.state.read_cache
    if (hit := cache.get("ready")) is None:
        try:
            hit = await run_in_threadpool(readiness, request.app)
        except HTTPException as not_ready:
            hit = not_ready
        cache.put("ready", hit)
    if isinstance(hit, HTTPException):
        raise hit
    return hit


def readiness(app) -> Readiness:
    settings = app.state.settings
    chain = getattr(app.state, "chain", None)
    not_ready: list[str] = []
    chain_id = head = indexed = None
    if chain is None:
        not_ready.append("no deployment file loaded (run `ape run deploy`, then restart)")
    try:
        chain_id, head = chain_head(settings.rpc_url)
    except Exception as exc:  # noqa: BLE001 (any failure to reach the node is the answer)
        not_ready.append(f"the chain node does not answer ({type(exc).__name__})")
    if chain is not None and chain_id is not None and chain_id != int(chain.deployment["chain_id"]):
        not_ready.append(f"the chain node serves chain id {chain_id}, the deployment is on chain "
                         f"{chain.deployment['chain_id']}")
    try:
        with app.state.sessions() as session:
            session.execute(text("SELECT 1"))
            indexed = indexed_block(session)
    except Exception as exc:  # noqa: BLE001
        not_ready.append(f"the database does not answer ({type(exc).__name__})")
    if head is not None and indexed is not None:
        lag, allowed = head - indexed, settings.confirmations + settings.max_indexer_lag_blocks
        if lag > allowed:
            not_ready.append(f"the indexer is {lag} blocks behind the chain (at block {indexed} of {head}; "
                             f"ready within {allowed})")
    dispatcher = getattr(app.state, "dispatcher", None)
    if dispatcher is not None:
        try:
            dispatcher.broker_run()
        except Exception as exc:  # noqa: BLE001
            not_ready.append(f"the broker does not answer ({type(exc).__name__})")
    if not_ready:
        raise HTTPException(503, detail="not ready: " + "; ".join(not_ready), headers={"Retry-After": "5"})
    return Readiness(chain_id=chain_id, head_block=head, indexed_block=indexed)
