"""The referee role (v1 single-step adjudication): re-execute one disputed step from the served state, or
attest whether demanded checkpoint bytes can be fetched and hold the committed state.

Referees stake in the RefereeCourt; for each request the court draws a stake-weighted panel from stakes
fixed before the seed (a later block hash) existed. A panel member downloads the state the solver served,
checks that it hashes to the agreed state, runs exactly one step, and commits to the resulting state hash
(hash of answer and a random salt); once the commit window closes it reveals, and once the reveal window
closes anyone decides: the answer with the most revealed stake is proposed. Either party may appeal it to a
larger panel within one more window (worker/disputes.py does); otherwise anyone decides again and the
proposal goes to the dispute game as the verdict. Silent, hidden or wrong panel members (judged against the
final verdict, in every round) lose their bond to the parties.

Each tick moves every open request one step, whoever's it is: draw once the seed block is mined, commit and
reveal while on the panel, decide once the reveal window closed (proposes), and again once the appeal window
closed unappealed (finalizes). Salts are kept in memory and under the
worker's home (`<home>/referee/<address>.json`), so a restarted referee still reveals what it committed.
"""

from __future__ import annotations

import json
import logging
import secrets
from pathlib import Path

from eth_abi import encode
from eth_utils import keccak
from web3.exceptions import ContractCustomError, ContractLogicError

from pinpoint.chain import Chain, ChainError
from pinpoint.client import CoordinatorClient, CoordinatorError
from pinpoint.spec import InferenceSpec
from pinpoint.units import format_eth
from worker.availability import stored_state_hash
from worker.engine.checkpoint import (
    CheckpointFormatError,
    CheckpointHashMismatch,
    load_checkpoint,
)
from worker.engine.artifacts import ArtifactHashMismatch, ArtifactUnavailable
from worker.engine.inference import InferenceInputError
from worker.engine.training import InitialWeightsInvalid, Trainer
from worker.genesis import GENESIS_STEP, genesis_state_hash
from worker.inference import referee_step

log = logging.getLogger(__name__)
UNAVAILABLE = b"\x00" * 32  # the served state is missing or is not the agreed one: the solver loses
ZERO = "0x" + "00" * 32


def answer_commitment(request_id: int, referee: str, answer: bytes, salt: bytes) -> bytes:
    """keccak256(abi.encode(requestId, referee, answer, salt)), as RefereeCourt.commitAnswer expects."""
    return keccak(encode(["uint256", "address", "bytes32", "bytes32"], [request_id, referee, answer, salt]))


class Referee:
    def __init__(self, chain: Chain, client: CoordinatorClient, home: Path = Path(".pinpoint")):
        self.chain = chain
        self.client = client
        self.next_request = 1
        self.answers: dict[int, bytes] = {}  # request id -> the answer computed for it (it never changes)
        self.secrets_file = Path(home) / "referee" / f"{chain.address}.json"
        self.commits = self._load()  # "requestId:round" -> {"answer": hex, "salt": hex, "revealed": bool}
        self.watched: set[int] = set()  # requests this process saw open: checked for faults once decided
        self.referees: set[str] = set()  # every address that ever registered (from the court's events)
        self.scanned = int(chain.deployment.get("block", 0)) - 1

    def register(self, bond: int) -> None:
        if not self.chain.court.functions.isReferee(self.chain.address).call():
            self.chain.transact("RefereeCourt", "register", value=bond)
            log.info("registered as a referee with a stake of %s", format_eth(bond),
                     extra={"event": "referee_registered", "stake": format_eth(bond)})

    def tick(self) -> None:
        court = self.chain.court.functions
        count = court.requestCount().call()
        for request_id in range(self.next_request, count + 1):
            request = self.chain.struct("RefereeCourt", "getRequest", request_id)
            if request["done"]:
                if request_id == self.next_request:
                    self.next_request += 1
                if request_id in self.watched:
                    self.watched.discard(request_id)
                    self.slash_faults(request_id)
                continue
            self.watched.add(request_id)
            try:
                self.advance(request_id, request)
            except ChainError as exc:
                log.debug("request %s: %s", request_id, exc)

    def advance(self, request_id: int, request: dict) -> None:
        court = self.chain.court.functions
        now = self.chain.now()
        if request.get("appealDeadline"):  # a proposed verdict: final once nobody appealed in its window
            if now > request["appealDeadline"]:
                self.chain.transact("RefereeCourt", "decide", request_id)
                log.info("request %s: not appealed; verdict %s final after %s appeal(s)", request_id,
                         request["proposed"], request.get("appeals", 0))
            return
        if request["seed"] == ZERO:
            if self.chain.w3.eth.block_number > request["seedBlock"]:
                if court.eligibleStake(request_id).call():
                    self.chain.transact("RefereeCourt", "draw", request_id)  # anyone may draw
                    drawn = self.chain.struct("RefereeCourt", "getRequest", request_id)
                    if drawn["seed"] != ZERO:
                        log.info("request %s: round %s drawn, commits until %s", request_id, drawn["round"],
                                 drawn["commitDeadline"])
                elif now > request["armedAt"] + court.answerWindow().call():
                    self.chain.transact("RefereeCourt", "decide", request_id)
                    if request.get("hasProposal"):
                        log.info("request %s: nobody but the parties can sit on the appeal; verdict %s stands",
                                 request_id, request["proposed"])
                    else:
                        log.info("request %s: nobody but the parties can sit; abandoned", request_id)
            return
        key = f"{request_id}:{request['round']}"
        if now <= request["commitDeadline"]:
            if key not in self.commits and court.onPanel(request_id, self.chain.address).call():
                self.commit(request_id, request, key)
        elif now <= request["revealDeadline"]:
            entry = self.commits.get(key)
            if entry and not entry.get("revealed"):
                answer, salt = bytes.fromhex(entry["answer"]), bytes.fromhex(entry["salt"])
                self.chain.transact("RefereeCourt", "revealAnswer", request_id, answer, salt)
                entry["revealed"] = True
                self._save()
                log.info("request %s: revealed 0x%s", request_id, entry["answer"])
        else:
            self.chain.transact("RefereeCourt", "decide", request_id)  # anyone may decide
            decided = self.chain.struct("RefereeCourt", "getRequest", request_id)
            if decided["hasVerdict"]:
                log.info("request %s: the appeal rounds stayed empty; verdict %s stands", request_id,
                         decided["verdict"])
            elif decided["done"]:
                log.info("request %s: abandoned after %s empty rounds", request_id, decided["round"])
            elif decided.get("appealDeadline"):
                log.info("request %s: round %s proposes %s (panel of ~%s); appealable until %s", request_id,
                         decided["round"], decided["proposed"], court.panelSizeOf(request_id).call(),
                         decided["appealDeadline"])
            else:
                log.info("request %s: nobody revealed; round %s armed", request_id, decided["round"])

    def commit(self, request_id: int, request: dict, key: str) -> None:
        """On the panel: compute the answer (once per request), commit to it with a fresh salt, keep both."""
        if request_id not in self.answers:
            self.answers[request_id] = self.execute_step(request)
        answer, salt = self.answers[request_id], secrets.token_bytes(32)
        # Kept before sending: a commit that lands while the process dies can still be revealed.
        self.commits[key] = {"answer": answer.hex(), "salt": salt.hex(), "revealed": False}
        self._save()
        try:
            self.chain.transact("RefereeCourt", "commitAnswer", request_id,
                                answer_commitment(request_id, self.chain.address, answer, salt))
        except ChainError:
            del self.commits[key]  # refused (a revert sends nothing): try again next tick while the window is open
            self._save()
            raise
        log.info("request %s: on the panel; step %s -> 0x%s committed", request_id, request["step"], answer.hex())

    def slash_faults(self, request_id: int) -> None:
        """Once a request is decided: slash every referee that failed its seat on one of its panels (silent,
        hidden or wrong). The court decides who is slashable (a call that would revert is skipped) and pays
        the bond to the dispute's parties, not to this referee: this keeps silence costly, nothing more."""
        court = self.chain.court
        latest = self.chain.w3.eth.block_number
        if latest > self.scanned:
            for event in court.events.RefereeRegistered().get_logs(from_block=self.scanned + 1, to_block=latest):
                self.referees.add(event["args"]["referee"])
            self.scanned = latest
        for referee in sorted(self.referees):
            try:
                court.functions.slash(request_id, referee).call({"from": self.chain.address})
            except (ContractLogicError, ContractCustomError, ValueError):
                continue  # not slashable: it answered the verdict, sat on no panel, or was slashed already
            try:
                receipt = self.chain.transact("RefereeCourt", "slash", request_id, referee)
            except ChainError as exc:
                log.debug("request %s: slashing %s: %s", request_id, referee, exc)
                continue
            amount = court.events.RefereeSlashed().process_receipt(receipt)[0]["args"]["amount"]
            log.info("request %s: slashed %s (%s to the parties) for a failed seat", request_id, referee,
                     format_eth(amount), extra={"event": "referee_slashed", "request_id": request_id,
                                                "referee": referee, "amount": format_eth(amount)})

    def _load(self) -> dict:
        try:
            return json.loads(self.secrets_file.read_text())
        except (OSError, ValueError):
            return {}

    def _save(self) -> None:
        self.secrets_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.secrets_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.commits))
        tmp.replace(self.secrets_file)

    def execute_step(self, request: dict) -> bytes:
        """The true state hash one step after the served pre-state, or UNAVAILABLE; for an availability
        request, the state hash the served bytes hold as the demanded checkpoint, or UNAVAILABLE; for a genesis
        request, the initial state from the spec (UNAVAILABLE only when the spec's own artifacts cannot be had:
        the solver fetched them before it bid, and may upload its copy)."""
        spec = self.client.spec(self.chain.job(request["jobId"])["specHash"])
        if request["step"] == GENESIS_STEP:  # the initial state, from the spec alone
            try:
                return genesis_state_hash(spec, self.client.download_artifact)
            except (CoordinatorError, ArtifactUnavailable, ArtifactHashMismatch, InitialWeightsInvalid,
                    InferenceInputError) as exc:
                log.info("cannot recompute the initial state: %s", exc)
                return UNAVAILABLE
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


def answer_alone(chain: Chain, request_id: int, answer: bytes, advance) -> dict[str, int]:
    """One whole court round played by a referee that holds a sure seat (e.g. the only staked referee, as in
    the benchmarks): draw, commit, reveal, decide, moving the chain's clock past each window with
    `advance(seconds)`. Returns the gas of each step."""
    court = chain.court.functions
    salt = secrets.token_bytes(32)
    window = court.answerWindow().call()
    gas = {"draw": chain.transact("RefereeCourt", "draw", request_id)["gasUsed"]}
    gas["commitAnswer"] = chain.transact("RefereeCourt", "commitAnswer", request_id,
                                         answer_commitment(request_id, chain.address, answer, salt))["gasUsed"]
    advance(window + 1)
    gas["revealAnswer"] = chain.transact("RefereeCourt", "revealAnswer", request_id, answer, salt)["gasUsed"]
    advance(window + 1)
    gas["decide"] = chain.transact("RefereeCourt", "decide", request_id)["gasUsed"]  # proposes
    advance(window + 1)  # nobody appeals
    gas["finalize"] = chain.transact("RefereeCourt", "decide", request_id)["gasUsed"]
    return gas
