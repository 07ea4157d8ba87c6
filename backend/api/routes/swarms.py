"""Rendezvous of a swarm round's replicas (worker/round_exchange.py): each replica that submitted its share says
where it can be reached, and reads where the others can, so that they can exchange their updates over
torch.distributed without the coordinator in the middle.

Only the holder of a share may speak for its slot (a signed request from the solver of the job the chain
records for that slot and round), so a stranger cannot pose as a replica. Nothing here is trusted by a
replica: a received update is used only when its bytes are what the next round's spec names. The table is
in memory, bounded, and forgets entries after a day: it serves a meeting, not a record.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from web3.exceptions import Web3Exception

from backend.api.auth import SignerDep
from backend.api.deps import MAX_JOB_ID
from backend.api.problems import responses
from pinpoint.chain import ChainError, JobState
from pinpoint.spec import MAX_REPLICAS, MAX_ROUNDS

router = APIRouter(tags=["swarms"])
SwarmId = Annotated[int, Path(ge=1, le=MAX_JOB_ID, description="the swarm's id on chain")]
Round = Annotated[int, Path(ge=0, lt=MAX_ROUNDS, description="the round, from 0")]
Slot = Annotated[int, Path(ge=0, lt=MAX_REPLICAS, description="the replica's slot")]
ADDRESS = re.compile(r"^[A-Za-z0-9.-]{1,253}:[0-9]{1,5}$")
SUBMITTED = (JobState.SUBMITTED, JobState.DISPUTED, JobState.FINALIZED)
ROUNDS_KEPT = 4096  # (swarm, round) meetings held at once; the oldest is forgotten first
KEPT_SECONDS = 24 * 3600


class PeerDeclaration(BaseModel):
    model_config = ConfigDict(extra="forbid")
    job_id: int = Field(ge=1, le=MAX_JOB_ID, description="the slot's share of this round: a job this key solves")
    address: str = Field(max_length=260, description="host:port where this replica takes part in the exchange "
                         "(slot 0 hosts the round's store at that port; the others give port 0)")


class Peer(BaseModel):
    slot: int
    job_id: int
    address: str


class Peers(BaseModel):
    peers: list[Peer] = Field(description="the latest declaration of each slot that made one, by slot")


class Rendezvous:
    """(swarm, round) -> slot -> (job id, address, when): bounded and expiring."""

    def __init__(self):
        self.rounds: OrderedDict[tuple[int, int], dict[int, tuple[int, str, float]]] = OrderedDict()
        self.lock = threading.Lock()

    def declare(self, swarm_id: int, round_id: int, slot: int, job_id: int, address: str) -> None:
        with self.lock:
            self.rounds.setdefault((swarm_id, round_id), {})[slot] = (job_id, address, time.monotonic())
            self.rounds.move_to_end((swarm_id, round_id))
            while len(self.rounds) > ROUNDS_KEPT:
                self.rounds.popitem(last=False)

    def peers(self, swarm_id: int, round_id: int) -> list[Peer]:
        with self.lock:
            slots = self.rounds.get((swarm_id, round_id), {})
            fresh = time.monotonic() - KEPT_SECONDS
            return [Peer(slot=slot, job_id=job_id, address=address)
                    for slot, (job_id, address, at) in sorted(slots.items()) if at >= fresh]


def rendezvous(request: Request) -> Rendezvous:
    state = request.app.state
    if not hasattr(state, "rendezvous"):
        state.rendezvous = Rendezvous()
    return state.rendezvous


@router.put("/swarms/{swarm_id}/rounds/{round_id}/peers/{slot}", response_model=Peers, responses=responses(401, 403, 409, 503))
async def declare_peer(swarm_id: SwarmId, round_id: Round, slot: Slot, body: PeerDeclaration, signed: SignerDep,
                       request: Request) -> Peers:
    """A replica that submitted its share of the round says where it takes part in the round's exchange (a
    signed request from the share's solver); answers the round's peers so far."""
    port = int(body.address.rsplit(":", 1)[1]) if ADDRESS.match(body.address) else -1
    if not 0 <= port < 65536 or (slot == 0 and port == 0):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="address: host:port, port 0..65535 "
                            "(0: not hosting; slot 0 hosts the round's store, so it names its port)")
    chain = request.app.state.chain
    if chain.swarm is None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="this deployment has no Swarm contract")

    def check() -> None:
        try:
            share = chain.swarm.functions.replicaJob(swarm_id, round_id, slot).call()
            job = chain.job(body.job_id) if share == body.job_id else None
        except (ChainError, Web3Exception, OSError) as exc:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"chain unreachable: {exc}") from None
        if job is None:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"job {body.job_id} is not slot {slot}'s share of "
                                f"round {round_id} of swarm {swarm_id} (that is job {share})")
        if job["solver"].lower() != signed.signer.lower():
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"{signed.signer} does not solve job {body.job_id}")
        if job["state"] not in SUBMITTED:
            raise HTTPException(status.HTTP_409_CONFLICT, detail=f"job {body.job_id} is {job['state'].name.lower()}: "
                                "a replica meets the others once its result is submitted")

    await run_in_threadpool(check)
    meeting = rendezvous(request)
    meeting.declare(swarm_id, round_id, slot, body.job_id, body.address)
    return Peers(peers=meeting.peers(swarm_id, round_id))


@router.get("/swarms/{swarm_id}/rounds/{round_id}/peers", response_model=Peers)
async def round_peers(swarm_id: SwarmId, round_id: Round, request: Request) -> Peers:
    """Where the round's replicas that submitted their shares take part in its exchange."""
    return Peers(peers=rendezvous(request).peers(swarm_id, round_id))
