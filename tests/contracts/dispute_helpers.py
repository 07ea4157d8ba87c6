"""Toy step function, trajectories, actors and a game driver shared by the dispute tests.

The toy "training": state_{s+1} = keccak(abi.encode(state_s, s)); a state is its own hash. An artifact is
the "safetensors bytes" of a state, stored by its id in an in-memory artifact store.

The bisection is ARITY-way: a round's solver reveals its hashes at `points(lo, hi)`, and an honest challenger
picks the first segment whose end it disputes (`honest_segment`); `play_round` plays one such round.
"""

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from eth_abi import encode
from eth_utils import keccak
from market_helpers import COMMIT_WINDOW, REQUIRED_STAKE, ZERO32

from pinpoint.bisection import ARITY, max_rounds, points  # noqa: F401 (the parties' mirror of the game's rounds)
from pinpoint.merkle import checkpoint_tree

CHALLENGE_BOND = 10**17
AVAILABILITY_BOND = CHALLENGE_BOND // 10  # DisputeGame.availabilityBond: a tenth of the challenge bond
CLOCK = 3600
REFEREE_BOND = 10**17
ANSWER_WINDOW = 120  # a panel decides in 2 windows: well inside the audit reveal window (900)
EXIT_DELAY = 4 * 5 * ANSWER_WINDOW  # RefereeCourt: the least it accepts, 4 windows x MAX_ROUNDS (5) rounds
PANEL_SIZE = 3
CHALLENGER_REWARD = REQUIRED_STAKE // 2  # CHALLENGER_REWARD_BPS = 5_000

# IDisputeGame.Phase values.
P_NONE, REVEAL, RESPOND, SERVE, ADJUDICATING, RESOLVED = range(6)
# IDisputeGame.Kind values.
FAULT, AVAILABILITY, GENESIS = range(3)
GENESIS_STEP = 2**64 - 1  # DisputeGame.GENESIS_STEP: "the initial state, from the spec"
GENESIS_KEY = b"genesis"  # where a store holds the true initial state, which the toy spec alone would give
# IMarket.JobState values added for disputes.
DISPUTED, SLASHED = 7, 8


def toy_step(state: bytes, step: int) -> bytes:
    return keccak(encode(["bytes32", "uint256"], [state, step]))


def trajectory(initial: bytes, steps: int, deviate_at: int | None = None, wrong: bytes | None = None) -> list[bytes]:
    """States at steps 0..steps. With `deviate_at`, the state at that step is `wrong` (a cheater's fault)
    and every later state follows consistently from it."""
    states = [initial]
    for s in range(steps):
        states.append(wrong if s + 1 == deviate_at else toy_step(states[-1], s))
    return states


def artifact_id(state: bytes) -> bytes:
    return keccak(b"safetensors:" + state)


def _at(states) -> Callable[[int], bytes]:
    """A state lookup from a list (or mapping) of states by step, or a function of the step."""
    return states if callable(states) else states.__getitem__


def honest_segment(steps: Sequence[int], hashes: Sequence[bytes], truth) -> int:
    """The segment an honest challenger picks: the first whose end (a revealed point) is not the truth, or the
    last (whose end is the disputed hi) when every point is."""
    truth = _at(truth)
    return next((j for j, (step, h) in enumerate(zip(steps, hashes, strict=True)) if bytes(h) != truth(step)),
                len(hashes))


def play_round(game, dispute_id: int, claimed, truth, solver, challenger) -> int:
    """One bisection round: the solver reveals `claimed` (states by step, or a function of the step) at the
    dispute's points, the honest challenger (knowing `truth`) responds with the first disagreeing segment.
    Returns that segment."""
    steps = list(game.points(dispute_id))
    hashes = [_at(claimed)(step) for step in steps]
    game.reveal(dispute_id, hashes, sender=solver)
    segment = honest_segment(steps, hashes, truth)
    game.respond(dispute_id, hashes, segment, sender=challenger)
    return segment


def bisect(game, dispute_id: int, claimed, truth, solver, challenger) -> int:
    """`play_round` until one step is left (phase Serve); returns the number of rounds."""
    rounds = 0
    while game.getDispute(dispute_id).phase == REVEAL:
        play_round(game, dispute_id, claimed, truth, solver, challenger)
        rounds += 1
    return rounds


@dataclass
class ProvenJob:
    """A submitted job whose final root commits to `claimed` (the solver's states) at every checkpoint."""

    job_id: int
    count: int
    interval: int
    claimed: list[bytes]
    tree: object = None

    def checkpoint(self, index: int) -> tuple[bytes, list[str]]:
        return self.claimed[index * self.interval], self.tree.get_proof(index)

    def challenge_args(self, index: int, challenger_hash: bytes) -> list:
        agreed, agreed_proof = self.checkpoint(index)
        disputed, disputed_proof = self.checkpoint(index + 1)
        return [self.job_id, index, agreed, agreed_proof, disputed, disputed_proof, challenger_hash]


def submit_proven(jobs, market, solver, claimed: list[bytes], count: int, interval: int, **overrides) -> ProvenJob:
    """Awards a job to `solver` and submits the root over its claimed states at the checkpoints.
    `overrides` go to `jobs.awarded` (e.g. sampleCount, price, value)."""
    job_id = jobs.awarded(solver, checkpointCount=count, checkpointInterval=interval, **overrides)
    job = ProvenJob(job_id, count, interval, claimed)
    job.tree = checkpoint_tree(job_id, [claimed[i * interval] for i in range(count + 1)], interval)
    market.submitResult(job_id, job.tree.root, sender=solver)
    return job


def seal(chain, market, job_id, sender):
    """Mines the seed block (the one after submitResult) and seals the job's sample."""
    chain.mine(1)
    return market.sealSample(job_id, sender=sender)


def challenge_opens_at(market, job_id) -> int:
    """The last second in which the job cannot be challenged yet: the end of its audit commit window (the
    audits here are deployed with COMMIT_WINDOW)."""
    return market.getJob(job_id).sampleSealedAt + COMMIT_WINDOW


def open_challenges(chain, market, job_id, sender) -> None:
    """Seals the job's sample (unless it is sealed) and makes the next block land just after the audit's
    commit window: from then until its challenge deadline the job can be challenged."""
    if market.getJob(job_id).sampleSealedAt == 0:
        seal(chain, market, job_id, sender)
    chain.pending_timestamp = max(challenge_opens_at(market, job_id) + 1, chain.blocks.head.timestamp)


def submit_open(jobs, market, solver, claimed: list[bytes], count: int, interval: int, **overrides) -> ProvenJob:
    """`submit_proven`, then the sample sealed and time moved past the commit window: ready to challenge."""
    job = submit_proven(jobs, market, solver, claimed, count, interval, **overrides)
    open_challenges(jobs.chain, market, job.job_id, jobs.submitter)
    return job


# --- actors -------------------------------------------------------------------------------------------


@dataclass
class Solver:
    """Reveals from `states` and serves its state at lo. `arbitrary` (with an rng) sometimes reveals
    random or true hashes and sometimes serves an artifact nobody can download."""

    account: object
    states: list[bytes]
    store: dict
    rng: random.Random | None = None
    truth: list[bytes] | None = None

    def reveal(self, step: int) -> bytes:
        if self.rng is None:
            return self.states[step]
        return self.rng.choice([self.states[step], self.truth[step], self.rng.randbytes(32)])

    def reveal_all(self, steps: Sequence[int]) -> list[bytes]:
        """Its hashes at a round's points."""
        return [self.reveal(step) for step in steps]

    def serve(self, step: int) -> bytes:
        if self.rng is not None and self.rng.random() < 0.3:
            return self.rng.randbytes(32)
        state = self.states[step]
        self.store[artifact_id(state)] = state
        return artifact_id(state)


@dataclass
class Challenger:
    """Agrees iff the revealed hash is the truth; `mode` "random" / "agree" / "disagree" ignores the truth."""

    account: object
    truth: list[bytes]
    mode: str = "honest"
    rng: random.Random = field(default_factory=random.Random)

    def agrees(self, step: int, state_hash: bytes) -> bool:
        if self.mode == "honest":
            return state_hash == self.truth[step]
        if self.mode == "random":
            return self.rng.random() < 0.5
        return self.mode == "agree"

    def pick(self, steps: Sequence[int], hashes: Sequence[bytes]) -> int:
        """The segment it disputes: the first whose end it does not agree with (the last if it agrees with
        every point). Honest, that is `honest_segment`."""
        return next((j for j, (step, h) in enumerate(zip(steps, hashes, strict=True))
                     if not self.agrees(step, bytes(h))), len(hashes))


def referee_answer(store: dict, request) -> bytes:
    """An honest referee: for a genesis request, the true initial state (the store's GENESIS_KEY); else
    downloads the served pre-state and checks it is the agreed one; then runs one step,
    or for an availability request answers the fetched checkpoint's state hash (a toy state is its own hash).
    Zero when the bytes cannot be fetched or are not the named state."""
    if request.step == GENESIS_STEP:
        return store.get(GENESIS_KEY, ZERO32)
    state = store.get(bytes(request.preStateArtifact))
    if state is None or state != bytes(request.preStateHash):
        return ZERO32
    return state if request.availability else toy_step(state, request.step)


def commitment(request_id: int, referee: str, answer: bytes, salt: bytes) -> bytes:
    """What a panel member commits: keccak256(abi.encode(requestId, referee, answer, salt))."""
    return keccak(encode(["uint256", "address", "bytes32", "bytes32"], [request_id, referee, answer, salt]))


def adjudicate(chain, court, referees, store, request_id, keeper, answers: dict | None = None,
               appeal_window: bool = True) -> object:
    """Draws the panel (on the next block); every one of `referees` on it commits and reveals the honest
    answer (or `answers[address]` for those listed; None: stays silent); the keeper decides once the reveal
    window closed, which proposes the leading answer; unless `appeal_window` is False it then lets the appeal
    window pass unappealed and decides again (the verdict goes to the game). Returns the receipt of the last
    `decide`."""
    chain.mine(1)
    court.draw(request_id, sender=keeper)
    request = court.getRequest(request_id)
    honest = referee_answer(store, request)
    panel = [r for r in referees if court.onPanel(request_id, r)]
    chosen = {r.address: (answers or {}).get(r.address, honest) for r in panel}
    salt = keccak(b"salt")
    for r in panel:
        if chosen[r.address] is not None:
            court.commitAnswer(request_id, commitment(request_id, r.address, chosen[r.address], salt), sender=r)
    chain.pending_timestamp = request.commitDeadline + 1
    for r in panel:
        if chosen[r.address] is not None:
            court.revealAnswer(request_id, chosen[r.address], salt, sender=r)
    chain.pending_timestamp = request.revealDeadline + 1
    tx = court.decide(request_id, sender=keeper)
    return finalize(chain, court, request_id, keeper) or tx if appeal_window else tx


def finalize(chain, court, request_id, keeper):
    """If a verdict is proposed: moves time past its appeal window and decides again (the verdict goes to the
    game, the appeal bonds settle). Returns that receipt, or None when nothing awaited finalization."""
    request = court.getRequest(request_id)
    if request.done or request.appealDeadline == 0:
        return None
    chain.pending_timestamp = max(request.appealDeadline + 1, chain.blocks.head.timestamp + 1)
    return court.decide(request_id, sender=keeper)


def play(chain, game, court, dispute_id, solver: Solver, challenger: Challenger, referees, keeper) -> int:
    """Plays the dispute to the end with these actors; returns the number of bisection rounds."""
    rounds, revealed = 0, []
    while True:
        d = game.getDispute(dispute_id)
        if d.phase == REVEAL:
            revealed = solver.reveal_all(game.points(dispute_id))
            game.reveal(dispute_id, revealed, sender=solver.account)
        elif d.phase == RESPOND:
            segment = challenger.pick(game.points(dispute_id), revealed)
            game.respond(dispute_id, revealed, segment, sender=challenger.account)
            rounds += 1
        elif d.phase == SERVE:
            game.serveState(dispute_id, solver.serve(d.lo), sender=solver.account)
        elif d.phase == ADJUDICATING:
            adjudicate(chain, court, referees, solver.store, d.requestId, keeper)
        else:
            return rounds


def demand(game, job: ProvenJob, index: int, challenger) -> int:
    """An availability challenge of checkpoint `index` (with the availability bond); returns its dispute id."""
    return game.challengeAvailability(job.job_id, index, sender=challenger, value=AVAILABILITY_BOND).return_value


def answer(game, job: ProvenJob, dispute_id: int, solver, store: dict | None):
    """The solver answers an availability dispute with its committed state hash and proof, naming the bytes
    of the checkpoint; with a `store` it uploads them there (else nobody can fetch them)."""
    index = game.getDispute(dispute_id).index
    state, proof = job.checkpoint(index)
    if store is not None:
        store[artifact_id(state)] = state
    return game.answerAvailability(dispute_id, state, proof, artifact_id(state), sender=solver)


def assert_ledgers(market, game, court, audit=None):
    """Every contract's balance equals its ledger."""
    assert market.balance == market.totalEscrow() + market.totalCredits()
    assert game.balance == game.totalBonds() + game.totalCredits()
    assert court.balance == court.totalBonds() + court.totalCredits()
    assert court.totalBonds() == court.totalStake() + court.totalExiting() + court.totalAppealBonds()
    if audit is not None:
        assert audit.balance == audit.totalHeld() + audit.totalCredits()

