"""The referee role (v1 single-step adjudication): re-execute one disputed step from the served state, or
attest whether demanded checkpoint bytes can be fetched and hold the committed state.

Referees stake a bond in the RefereeCourt; the court draws one per request from a block hash that did
not exist when the request was made. The drawn referee downloads the state the solver served, checks
that it hashes to the agreed state, runs exactly one step, and posts the resulting state hash; the
dispute game compares it with the solver's claim. A referee that stays silent is slashed and replaced.
"""

from __future__ import annotations

import logging

from pinpoint.chain import Chain, ChainError
from pinpoint.client import CoordinatorClient, CoordinatorError
from pinpoint.spec import InferenceSpec
from worker.engine.checkpoint import (
    CheckpointFormatError,
    CheckpointHashMismatch,
    load_checkpoint,
)
from worker.engine.inference import InferenceInputError
from worker.availability import stored_state_hash
from worker.engine.training import Trainer
from worker.inference import referee_step

log = logging.getLogger(__name__)
UNAVAILABLE = b"\x00" * 32  # the served state is missing or is not the agreed one: the solver loses


class Referee:
    def __init__(self, chain: Chain, client: CoordinatorClient):
        self.chain = chain
        self.client = client
        self.next_request = 1

    def register(self, bond: int) -> None:
        if not self.chain.court.functions.isReferee(self.chain.address).call():
            self.chain.transact("RefereeCourt", "register", value=bond)
            log.info("registered as a referee with a bond of %s wei", bond)

    def tick(self) -> None:
        court = self.chain.court.functions
        count = court.requestCount().call()
        for request_id in range(self.next_request, count + 1):
            request = self.chain.struct("RefereeCourt", "getRequest", request_id)
            if request["done"]:
                if request_id == self.next_request:
                    self.next_request += 1
                continue
            try:
                self.advance(request_id, request)
            except ChainError as exc:
                log.debug("request %s: %s", request_id, exc)

    def advance(self, request_id: int, request: dict) -> None:
        drawn = int(request["referee"], 16)
        if not drawn:
            if self.chain.w3.eth.block_number > request["drawBlock"]:
                self.chain.transact("RefereeCourt", "draw", request_id)  # anyone may draw
        elif request["referee"].lower() == self.chain.address.lower():
            post_state = self.execute_step(request)
            self.chain.transact("RefereeCourt", "submitStep", request_id, post_state)
            log.info("request %s: step %s -> 0x%s", request_id, request["step"], post_state.hex())
        elif self.chain.now() > request["deadline"]:
            self.chain.transact("RefereeCourt", "redraw", request_id)  # the drawn referee is silent
            log.info("request %s: the drawn referee missed its deadline", request_id)

    def execute_step(self, request: dict) -> bytes:
        """The true state hash one step after the served pre-state, or UNAVAILABLE; for an availability
        request, the state hash the served bytes hold as the demanded checkpoint, or UNAVAILABLE."""
        spec = self.client.spec(self.chain.job(request["jobId"])["specHash"])
        if request["availability"]:
            try:
                blob = self.client.download_artifact(request["preStateArtifact"])
            except CoordinatorError as exc:
                log.info("demanded checkpoint unavailable: %s", exc)
                return UNAVAILABLE
            return stored_state_hash(spec, request["step"], blob) or UNAVAILABLE
        if isinstance(spec, InferenceSpec):  # one step = one input, recomputed from the spec's artifacts
            try:
                return referee_step(spec, request, self.client.download_artifact, UNAVAILABLE)
            except (CoordinatorError, InferenceInputError) as exc:
                log.info("cannot recompute the disputed input: %s", exc)
                return UNAVAILABLE
        try:
            blob = self.client.download_artifact(request["preStateArtifact"])
            state = load_checkpoint(blob, expected_state_hash=request["preStateHash"])
        except (CoordinatorError, CheckpointHashMismatch, CheckpointFormatError) as exc:
            log.info("served state unusable: %s", exc)
            return UNAVAILABLE
        if state.step != request["step"]:
            log.info("served state is at step %s, not %s", state.step, request["step"])
            return UNAVAILABLE
        trainer = Trainer(spec)
        trainer.restore(state)
        trainer.train_until(state.step + 1)
        return trainer.snapshot().state_hash
