"""Playing the dispute game: the challenger (a verifier) and the solver answer by themselves.

A fault dispute narrows the steps between an agreed state (step `lo`) and the solver's disputed claim
(step `hi`) sixteen ways a round (pinpoint/bisection.py): the solver reveals its state hashes at the points
that cut [lo, hi], the challenger picks the first segment whose end it disagrees with. Both compute their
answers the same way, by replaying from the disputed interval's start checkpoint (its bytes from the artifact
store, checked against the committed leaf); they differ only in the trainer they replay with: the challenger's
is honest, the solver's is whatever it really ran. At one step apart the solver serves its state at `lo`, and a
referee re-executes that single step; or, for a job whose
submitter registered its program (the reproducible profile), both play the operator game the router opens over
that step (worker/engine/operator_game.py): no referee, one float32 operation executed on chain.

A genesis dispute questions the initial state (leaf 0): nobody moves; the referees recompute it from the spec.

An availability dispute demands one checkpoint: the solver answers with its state hash, the Merkle proof
and the bytes' id (uploading its own kept copy if the store lacks them); a referee fetches and hashes them.
When the solver's clock runs out in either kind, the other side claims the timeout.

While the court's proposed verdict can be appealed, a party appeals it (with the appeal bond, if it can afford
it) when it goes against what the party knows: the solver wins iff the verdict is its claim `hiHash`, so the
solver appeals any other answer; the challenger appeals the solver's claim when its own replay of the step
gives another hash (for a demand: when the named bytes do not hold the proven hash).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

from pinpoint import bisection
from pinpoint.chain import Chain, ChainError, DisputeKind, Phase
from pinpoint.client import CoordinatorClient, CoordinatorError
from pinpoint.merkle import checkpoint_tree
from pinpoint.spec import InferenceSpec, JobSpec
from pinpoint.units import format_eth
from worker.availability import holds
from worker.cheats import Conduct
from worker.engine import operator_game as og
from worker.engine.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from worker.engine.optrace import trace_step
from worker.genesis import genesis_state_hash
from worker.inference import weights_artifact
from worker.solver import TrainerFactory, kept_checkpoint

log = logging.getLogger(__name__)


def as_bytes(value) -> bytes:
    """A bytes32 as read from the chain (hex text or bytes)."""
    return bytes.fromhex(value[2:]) if isinstance(value, str) else bytes(value)


def proof_bytes(proof: list[str]) -> list[bytes]:
    return [bytes.fromhex(p[2:]) for p in proof]


def open_challenge(chain: Chain, job_id: int, interval: int, hashes: list[bytes], checkpoint_interval: int,
                   our_hash: bytes) -> int:
    """Challenge checkpoint interval+1 of a job, accepting checkpoint `interval`; returns the dispute id."""
    tree = checkpoint_tree(job_id, hashes, checkpoint_interval)
    receipt = chain.transact(
        "DisputeGame", "challenge", job_id, interval,
        hashes[interval], proof_bytes(tree.get_proof(interval)),
        hashes[interval + 1], proof_bytes(tree.get_proof(interval + 1)),
        our_hash, value=chain.game.functions.challengeBond().call(),
    )
    dispute_id = chain.game.events.DisputeOpened().process_receipt(receipt)[0]["args"]["disputeId"]
    log.info("job %s: challenged checkpoint %s as dispute %s", job_id, interval + 1, dispute_id)
    return dispute_id


def challenge_genesis(chain: Chain, job_id: int, solver_hash: bytes, proof: list[str], our_hash: bytes) -> int:
    """Dispute the solver's initial state (`solver_hash`, leaf 0 with its proof) with ours; returns the dispute id."""
    receipt = chain.transact("DisputeGame", "challengeGenesis", job_id, solver_hash, proof_bytes(proof), our_hash,
                             value=chain.game.functions.challengeBond().call())
    dispute_id = chain.game.events.GenesisChallenged().process_receipt(receipt)[0]["args"]["disputeId"]
    log.info("job %s: challenged the initial state as dispute %s", job_id, dispute_id)
    return dispute_id


def demand_checkpoint(chain: Chain, job_id: int, index: int) -> int:
    """Open an availability dispute over checkpoint `index` of a job; returns the dispute id."""
    receipt = chain.transact("DisputeGame", "challengeAvailability", job_id, index,
                             value=chain.game.functions.availabilityBond().call())
    dispute_id = chain.game.events.AvailabilityChallenged().process_receipt(receipt)[0]["args"]["disputeId"]
    log.info("job %s: demanded checkpoint %s on chain as dispute %s", job_id, index, dispute_id)
    return dispute_id


def program_is_specs(chain: Chain, job_id: int, spec) -> bool:
    """Whether the job's disputed steps would be played over its spec's own program: none is registered (the court
    decides them), or the one the spec gives (one traced step, worker/engine/operator_game.py)."""
    if chain.router is None:
        return True
    program = chain.struct("StepRouter", "programOf", job_id)
    if int(program["root"], 16) == 0:
        return True
    return (bytes.fromhex(program["root"][2:]), program["opCount"], program["depth"]) == og.spec_program(spec)


class DisputePlayer:
    """Makes this key's moves in every open dispute it is a party to."""

    def __init__(self, chain: Chain, client: CoordinatorClient, trainer: TrainerFactory, lie: bool = False,
                 home: Path = Path(".pinpoint"), conduct: Conduct = Conduct(),
                 on_answered: Callable[[int], None] | None = None):
        self.chain = chain
        self.client = client
        self.trainer = trainer
        self.lie = lie  # a challenger that disagrees with everything: for tests and demos of false challenges
        self.home = home  # where this key's solver kept its checkpoints
        self.conduct = conduct  # a solver that withholds (tests and demos) does not serve
        self.on_answered = on_answered  # our demand was answered: the data is out, verify the job again
        self.seen = 0
        self.open: set[int] = set()
        self.appealed: set[str] = set()  # "requestId:round" proposals already weighed for an appeal
        self.parties: dict[int, og.Party | None] = {}  # dispute -> our side of its operator game
        self.forwarded: dict[int, int] = {}  # dispute -> the court request its Unjudged operator game went to
        self.opening_block: dict[int, int] = {}  # fault dispute -> the block it opened in

    def tick(self) -> None:
        count = self.chain.game.functions.disputeCount().call()
        me = self.chain.address.lower()
        for dispute_id in range(self.seen + 1, count + 1):
            dispute = self.chain.dispute(dispute_id)
            if me in (dispute["solver"].lower(), dispute["challenger"].lower()):
                self.open.add(dispute_id)
        self.seen = count
        for dispute_id in sorted(self.open):
            dispute = self.chain.dispute(dispute_id)
            if dispute["phase"] in (Phase.RESOLVED, Phase.NONE):
                self.open.discard(dispute_id)
                self.ended(dispute)
                continue
            try:
                self.move(dispute_id, dispute)
            except (ChainError, CoordinatorError) as exc:
                log.warning("dispute %s: %s", dispute_id, exc)

    def ended(self, dispute: dict) -> None:
        ours = dispute["challenger"].lower() == self.chain.address.lower()
        if ours and dispute["kind"] == DisputeKind.AVAILABILITY and dispute["solverWon"] and self.on_answered:
            log.info("job %s: checkpoint %s was served; verifying again", dispute["jobId"], dispute["index"])
            self.on_answered(dispute["jobId"])

    def move(self, dispute_id: int, dispute: dict) -> None:
        me = self.chain.address.lower()
        solver_turn = dispute["phase"] in (Phase.REVEAL, Phase.SERVE)
        if dispute["phase"] == Phase.ADJUDICATING:
            if not self.play_operator_game(dispute_id, dispute):
                # The referees' turn; a proposed verdict may be appealed.
                self.maybe_appeal(dispute_id, dispute, dispute["requestId"])
            return
        my_turn = (dispute["solver"].lower() == me) == solver_turn
        if not my_turn:
            solver_left, challenger_left = self.chain.game.functions.clocks(dispute_id).call()
            if (solver_left if solver_turn else challenger_left) == 0 and self.chain.now() > dispute["turnStart"]:
                self.chain.transact("DisputeGame", "claimTimeout", dispute_id)
                log.info("dispute %s: the other side ran out of time", dispute_id)
            return
        job = self.chain.job(dispute["jobId"])
        spec = self.client.spec(job["specHash"])
        if dispute["phase"] == Phase.SERVE and not self.conduct.serves:
            return  # a withholding cheat (tests): let the clock run out
        if dispute["kind"] == DisputeKind.AVAILABILITY:
            self.answer_demand(dispute_id, dispute, spec)
        elif dispute["phase"] == Phase.REVEAL:
            steps = bisection.points(dispute["lo"], dispute["hi"])
            hashes = [state.state_hash for state in self.states_at(dispute, spec, steps)]
            self.chain.transact("DisputeGame", "reveal", dispute_id, hashes)
            log.info("dispute %s: revealed steps %s..%s", dispute_id, steps[0], steps[-1])
        elif dispute["phase"] == Phase.RESPOND:
            steps = bisection.points(dispute["lo"], dispute["hi"])
            revealed = self.revealed(dispute_id)
            ours = [state.state_hash for state in self.states_at(dispute, spec, steps)]
            segment = 0 if self.lie else bisection.pick_segment(ours, revealed)
            self.chain.transact("DisputeGame", "respond", dispute_id, revealed, segment)
            lo, hi = bisection.narrow(dispute["lo"], dispute["hi"], segment)
            log.info("dispute %s: disputed steps %s..%s", dispute_id, lo, hi)
        elif dispute["phase"] == Phase.SERVE and isinstance(spec, InferenceSpec):
            # Inputs are independent: the only pre-state a referee needs is the model, already in the store.
            artifact = weights_artifact(spec)
            self.chain.transact("DisputeGame", "serveState", dispute_id, bytes.fromhex(artifact[2:]))
            log.info("dispute %s: served the weights %s for input %s", dispute_id, artifact, dispute["lo"])
        elif dispute["phase"] == Phase.SERVE:
            state = self.state_at(dispute, spec, dispute["lo"])
            artifact = self.client.upload_artifact(save_checkpoint(state))
            self.chain.transact("DisputeGame", "serveState", dispute_id, bytes.fromhex(artifact[2:]))
            log.info("dispute %s: served the state at step %s as %s", dispute_id, dispute["lo"], artifact)

    def play_operator_game(self, dispute_id: int, dispute: dict) -> bool:
        """Our move in the operator game deciding the dispute's step, if the router opened one (a job with a
        program); False if the court decides it. Either party settles the game once it has ended and claims a
        missed deadline; our side is our own trace of the step (the challenger's honest, the solver's the one it
        ran, backing the post-state it claimed)."""
        game_id = dispute["requestId"]
        if self.chain.router is None or not game_id:
            return False
        adjudication = self.chain.struct("StepRouter", "adjudication", game_id)
        if adjudication["disputeId"] != dispute_id:
            return False  # a court request
        if adjudication["settled"]:
            # Still adjudicating once settled: Unjudged, so the router asked the court, whose verdict is appealed
            # like any other (its request is the court's, not the game's id the dispute holds).
            forwarded = self.forwarded_request(dispute_id)
            if forwarded is not None:
                self.maybe_appeal(dispute_id, dispute, forwarded)
            return True
        game = self.chain.struct("OperatorGame", "game", game_id)
        if game["phase"] == og.RESOLVED:
            try:
                self.chain.transact("StepRouter", "settle", game_id)
            except ChainError as exc:
                if exc.reason != "NotSettleable":
                    raise
                return True  # the other side settled it first
            log.info("dispute %s: settled operator game %s (%s)", dispute_id, game_id,
                     {og.SOLVER_WON: "the solver won", og.CHALLENGER_WON: "the challenger won"}.get(
                         game["outcome"], "not decided on chain: the court decides"))
            return True
        role = "solver" if dispute["solver"].lower() == self.chain.address.lower() else "challenger"
        if (game["phase"] in og.SOLVER_PHASES) != (role == "solver"):
            if self.chain.now() > game["deadline"]:
                self.chain.transact("OperatorGame", "timeout", game_id)
                log.info("dispute %s: the other side missed its move in operator game %s", dispute_id, game_id)
            return True
        if role == "solver" and not self.conduct.serves:
            return True  # a withholding cheat (tests): let the deadline pass
        party = self.operator_party(dispute_id, dispute, role)
        if party is None:
            return True  # nothing we can show for our claim: the deadline decides
        events = self.chain.operators.events
        start = self.opened_at(dispute_id)
        revealed = events.Revealed().get_logs(from_block=start, argument_filters={"gameId": game_id})
        disputed = events.OperatorDisputed().get_logs(from_block=start, argument_filters={"gameId": game_id})
        move = party.move(SimpleNamespace(**game), role, leaf=disputed[-1]["args"]["leaf"] if disputed else None,
                          revealed=[bytes(n) for n in revealed[-1]["args"]["nodes"]] if revealed else None)
        if move is not None:
            self.chain.transact("OperatorGame", move.function, game_id, *move.args)
            log.info("dispute %s: %s in operator game %s", dispute_id, move.function, game_id)
        return True

    def operator_party(self, dispute_id: int, dispute: dict, role: str) -> og.Party | None:
        """Our side of the dispute's step (built once): the trace of the step from the agreed state at `lo`,
        with, for the solver, the post-state it claimed. None if it does not lead from the agreed state to
        what we claim (a party that cannot back its claim only waits for the deadline)."""
        if dispute_id not in self.parties:
            spec = self.client.spec(self.chain.job(dispute["jobId"])["specHash"])
            trainer = self.trainer(spec)
            pre, post = self.states_at(dispute, spec, [dispute["lo"], dispute["lo"] + 1])
            trainer.restore(pre)
            claimed = post.tensors if role == "solver" else None
            party = og.Party(trace_step(trainer), post_leaves=claimed and og.entry_leaves(claimed))
            if party.pre_hash != as_bytes(dispute["loHash"]) or (role == "solver" and party.post_hash != as_bytes(dispute["hiHash"])):
                log.warning("dispute %s: our trace of step %s does not lead from the agreed state to our claim",
                            dispute_id, dispute["lo"])
                party = None
            self.parties[dispute_id] = party
        return self.parties[dispute_id]

    def forwarded_request(self, dispute_id: int) -> int | None:
        """The court's request for a dispute whose operator game the router forwarded to it (Unjudged), found
        once by the dispute's id in the court's StepRequested events."""
        if dispute_id not in self.forwarded:
            logs = self.chain.court.events.StepRequested().get_logs(
                from_block=self.opened_at(dispute_id), argument_filters={"disputeId": dispute_id})
            if not logs:
                return None
            self.forwarded[dispute_id] = logs[-1]["args"]["requestId"]
        return self.forwarded[dispute_id]

    def maybe_appeal(self, dispute_id: int, dispute: dict, request_id: int) -> None:
        """Appeals the court's proposed verdict on request `request_id` to a larger panel when it goes against
        what we know."""
        if not request_id:
            return
        court = self.chain.court.functions
        request = self.chain.struct("RefereeCourt", "getRequest", request_id)
        if request["done"] or not request["appealDeadline"] or self.chain.now() > request["appealDeadline"]:
            return
        proposal = f"{request_id}:{request['round']}"
        if proposal in self.appealed:
            return  # weighed already
        self.appealed.add(proposal)
        if request["appeals"] >= court.MAX_APPEALS().call() or request["round"] >= court.MAX_ROUNDS().call():
            return
        proposed, claim = as_bytes(request["proposed"]), as_bytes(dispute["hiHash"])
        if dispute["solver"].lower() == self.chain.address.lower():
            if proposed == claim or not self.conduct.appeals:
                return  # the verdict we claimed (fault) or proved (availability), or one we know is right
            why = f"our claim 0x{claim.hex()}"
        else:
            if self.lie or proposed != claim:
                return  # the verdict goes our way, or we do not know better (a challenger of everything)
            ours = self.our_answer(dispute, request)
            if ours == claim:
                return  # our own replay agrees with the solver: the verdict is right
            why = "our replay's 0x" + ours.hex() if ours else "the output we challenged"
        bond = court.appealBond(request_id).call()
        if self.chain.w3.eth.get_balance(self.chain.address) < 2 * bond:  # the bond plus room for gas
            log.warning("dispute %s: the court proposes 0x%s against %s, but the appeal bond %s is beyond us",
                        dispute_id, proposed.hex(), why, format_eth(bond),
                        extra={"event": "appeal_unaffordable", "dispute_id": dispute_id, "bond": format_eth(bond)})
            return
        self.chain.transact("RefereeCourt", "appeal", request_id, value=bond)
        log.info("dispute %s: appealed the proposed verdict 0x%s (request %s, round %s) against %s with %s;"
                 " a panel of about %s decides", dispute_id, proposed.hex(), request_id, request["round"], why,
                 format_eth(bond), court.panelSizeOf(request_id).call(),
                 extra={"event": "appealed", "dispute_id": dispute_id, "request_id": request_id,
                        "round": request["round"], "bond": format_eth(bond)})

    def our_answer(self, dispute: dict, request: dict) -> bytes | None:
        """What the challenger knows the step (or the demanded bytes) gives. None for an inference input: the
        challenger disagreed with the claimed output when it challenged, and keeps to that."""
        spec = self.client.spec(self.chain.job(dispute["jobId"])["specHash"])
        claim = as_bytes(dispute["hiHash"])
        if dispute["kind"] == DisputeKind.AVAILABILITY:
            artifact = "0x" + as_bytes(request["preStateArtifact"]).hex()
            return claim if self.stored(spec, artifact, dispute["lo"], claim) else b"\x00" * 32
        if dispute["kind"] == DisputeKind.GENESIS:
            return genesis_state_hash(spec, self.client.download_artifact)
        if isinstance(spec, InferenceSpec):
            return None
        return self.state_at(dispute, spec, dispute["lo"] + 1).state_hash

    def answer_demand(self, dispute_id: int, dispute: dict, spec: JobSpec | InferenceSpec) -> None:
        """Prove checkpoint `index`'s state hash on chain and name bytes the store holds for it."""
        job_id, index = dispute["jobId"], dispute["index"]
        reported = {c["index"]: c for c in self.client.job(job_id)["checkpoints"]}  # signed: the solver sees all
        if any(reported.get(i, {}).get("state_hash") is None for i in range(spec.checkpoint_count + 1)):
            raise ChainError(f"job {job_id}: our checkpoint reports are incomplete; cannot prove checkpoint {index}")
        hashes = [bytes.fromhex(reported[i]["state_hash"][2:]) for i in range(spec.checkpoint_count + 1)]
        tree = checkpoint_tree(job_id, hashes, spec.checkpoint_interval)
        if isinstance(spec, InferenceSpec) and index == 0:
            artifact = weights_artifact(spec)
        else:
            artifact = reported[index]["artifact"]
            if not self.stored(spec, artifact, dispute["lo"], hashes[index]):  # serve our own copy
                kept = kept_checkpoint(self.home, self.chain.address, job_id, index)
                if kept is None or not holds(spec, dispute["lo"], kept, hashes[index]):
                    raise ChainError(f"job {job_id}: checkpoint {index} is neither in the store nor kept here")
                artifact = self.client.upload_artifact(kept)
        self.chain.transact("DisputeGame", "answerAvailability", dispute_id, hashes[index],
                            proof_bytes(tree.get_proof(index)), bytes.fromhex(artifact[2:]))
        log.info("dispute %s: answered the demand for checkpoint %s with %s", dispute_id, index, artifact)

    def stored(self, spec: JobSpec | InferenceSpec, artifact: str, step: int, state_hash: bytes) -> bool:
        try:
            return holds(spec, step, self.client.download_artifact(artifact), state_hash)
        except CoordinatorError:
            return False

    def opened_at(self, dispute_id: int) -> int:
        """The block a fault dispute opened in (found once): none of its events, nor its operator game's or its
        court request's, is older, so scans start there rather than at the deployment."""
        if dispute_id not in self.opening_block:
            start = self.chain.deployment.get("block", 0)
            logs = self.chain.game.events.DisputeOpened().get_logs(from_block=start,
                                                                   argument_filters={"disputeId": dispute_id})
            self.opening_block[dispute_id] = logs[0]["blockNumber"] if logs else start
        return self.opening_block[dispute_id]

    def revealed(self, dispute_id: int) -> list[bytes]:
        """The state hashes the solver revealed in the dispute's current round (its latest Revealed event)."""
        logs = self.chain.game.events.Revealed().get_logs(from_block=self.opened_at(dispute_id),
                                                          argument_filters={"disputeId": dispute_id})
        return [bytes(h) for h in logs[-1]["args"]["hashes"]]

    def state_at(self, dispute: dict, spec: JobSpec, step: int) -> Checkpoint:
        """Our state at `step`, replayed from the disputed interval's start checkpoint."""
        return self.states_at(dispute, spec, [step])[0]

    def states_at(self, dispute: dict, spec: JobSpec, steps: list[int]) -> list[Checkpoint]:
        """Our states at `steps` (ascending), in one replay from the disputed interval's start checkpoint."""
        index = dispute["lo"] // spec.checkpoint_interval
        start = checkpoint_from_store(self.chain, self.client, dispute["jobId"], index, spec)
        trainer = self.trainer(spec)
        trainer.restore(start)
        states = []
        for step in steps:
            if step == start.step:
                states.append(start)
                continue
            trainer.train_until(step)
            states.append(trainer.snapshot())
        return states


def checkpoint_from_store(chain: Chain, client: CoordinatorClient, job_id: int, index: int, spec: JobSpec) -> Checkpoint:
    """Checkpoint `index` of a job from the artifact store, checked against the solver's committed root."""
    reported = {c["index"]: c for c in client.job(job_id)["checkpoints"]}
    hashes = [bytes.fromhex(reported[i]["state_hash"][2:]) for i in range(spec.checkpoint_count + 1)]
    if checkpoint_tree(job_id, hashes, spec.checkpoint_interval).root != chain.job(job_id)["finalRoot"]:
        raise ChainError(f"job {job_id}: the reported checkpoints do not rebuild the committed root")
    return load_checkpoint(client.download_artifact(reported[index]["artifact"]), expected_state_hash=hashes[index])
