"""DisputeGame: opening a dispute, each move, and every reason a move is refused.

The job under dispute: 4 checkpoints 8 steps apart; the solver deviates from the toy trajectory at step 13,
so checkpoint 1 (step 8) is agreed and checkpoint 2 (step 16) is disputed. Eight steps are fewer than ARITY: one
round cuts them into single steps (points 9..15), and the honest challenger's pick, the first point it
disputes (13), leaves step 12 -> 13.
"""

from itertools import pairwise

import ape
import pytest
from dispute_helpers import (
    ADJUDICATING,
    ARITY,
    AVAILABILITY,
    AVAILABILITY_BOND,
    CHALLENGE_BOND,
    CLOCK,
    DISPUTED,
    FAULT,
    GENESIS,
    RESOLVED,
    RESPOND,
    REVEAL,
    SERVE,
    SLASHED,
    Solver,
    adjudicate,
    artifact_id,
    assert_ledgers,
    bisect,
    challenge_opens_at,
    demand,
    honest_segment,
    max_rounds,
    seal,
    submit_open,
    submit_proven,
    trajectory,
)
from eth_utils import keccak
from market_helpers import RUNNING, SUBMITTED, ZERO32, logs

INITIAL = b"\x01" * 32
TRUTH = trajectory(INITIAL, 32)
CLAIMED = trajectory(INITIAL, 32, deviate_at=13, wrong=b"\xee" * 32)
INDEX = 1  # agreed checkpoint (step 8); checkpoint 2 (step 16) is disputed
POINTS = list(range(9, 16))  # the round over [8, 16]: eight one-step segments
# Revealed hashes that are nobody's state, so that where a dispute's new ends come from is plain.
MARKS = [bytes([0xA0 + j]) * 32 for j in range(ARITY - 1)]


@pytest.fixture
def proven(jobs, market, game, staked, solver):
    """The cheater's job, sealed, just after its audit commit window: open to challenges."""
    return submit_open(jobs, market, solver, CLAIMED, count=4, interval=8)


@pytest.fixture
def dispute(game, proven, challenger):
    tx = game.challenge(*proven.challenge_args(INDEX, TRUTH[16]), sender=challenger, value=CHALLENGE_BOND)
    return tx.return_value


@pytest.fixture
def span_dispute(jobs, market, game, staked, solver, challenger):
    """Opens a dispute over [span, 2 * span] (checkpoint 1 agreed, checkpoint 2 disputed) of a fresh job whose
    checkpoints are `span` steps apart; returns its id. The states are made up: only the bisection runs."""
    def open_(span: int) -> int:
        claimed = {i * span: keccak(b"claimed" + bytes([i])) for i in range(3)}
        job = submit_open(jobs, market, solver, claimed, count=2, interval=span)
        args = job.challenge_args(1, b"\x07" * 32)
        return game.challenge(*args, sender=challenger, value=CHALLENGE_BOND).return_value

    return open_


def reveal_claimed(game, dispute_id, solver) -> list[bytes]:
    """The solver reveals its claimed states at the round's points; returns them."""
    hashes = [CLAIMED[step] for step in game.points(dispute_id)]
    game.reveal(dispute_id, hashes, sender=solver)
    return hashes


def to_serve(game, dispute_id, solver, challenger):
    """The one honest round over [8, 16]: the challenger picks segment 4 (point 13 is the first it disputes)."""
    assert bisect(game, dispute_id, CLAIMED, TRUTH, solver, challenger) == 1
    d = game.getDispute(dispute_id)
    assert (d.lo, d.hi, d.phase) == (12, 13, SERVE)


# --- deployment ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, error",
    [
        (("0x" + "00" * 20, "court", CHALLENGE_BOND, CLOCK), "ZeroAddress"),
        (("market", "0x" + "00" * 20, CHALLENGE_BOND, CLOCK), "ZeroAddress"),
        (("market", "court", 0, CLOCK), "ZeroChallengeBond"),
        (("market", "court", CHALLENGE_BOND, 0), "ZeroClockDuration"),
    ],
)
def test_constructor_badArguments_revert(project, owner, market, court, args, error):
    args = [{"market": market, "court": court}.get(a, a) if isinstance(a, str) else a for a in args]
    with ape.reverts(getattr(project.DisputeGame, error)):
        owner.deploy(project.DisputeGame, *args)


def test_constructor_availabilityBondIsATenthOfTheChallengeBond(project, owner, market, court, game):
    assert (game.challengeBond(), game.availabilityBond()) == (CHALLENGE_BOND, AVAILABILITY_BOND)
    assert AVAILABILITY_BOND == CHALLENGE_BOND // 10
    tiny = owner.deploy(project.DisputeGame, market, court, 9, CLOCK)
    assert tiny.availabilityBond() == 1  # never zero: a demand always risks something


def test_maxRounds_isCeilLog16(game):
    steps = (0, 1, 2, 15, 16, 17, 256, 257, 4096, 4097, 2**16, 2**16 + 1, 2**20, 2**64 - 1)
    rounds = [0, 0, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 16]
    assert game.ARITY() == ARITY == 16
    assert [game.maxRounds(n) for n in steps] == rounds == [max_rounds(n) for n in steps]


# --- challenge -----------------------------------------------------------------------------------------


def test_challenge_opensDisputeAndDisputesJob(game, market, proven, challenger, solver, chain):
    tx = game.challenge(*proven.challenge_args(INDEX, TRUTH[16]), sender=challenger, value=CHALLENGE_BOND)
    dispute_id = tx.return_value
    d = game.getDispute(dispute_id)
    assert (d.jobId, d.solver, d.challenger, d.lo, d.hi) == (proven.job_id, solver, challenger, 8, 16)
    assert (d.loHash, d.hiHash, d.phase) == (CLAIMED[8], CLAIMED[16], REVEAL)
    assert (d.kind, d.index, d.challengerHash, d.revealed) == (FAULT, INDEX, TRUTH[16], ZERO32)
    assert game.bondOf(dispute_id) == CHALLENGE_BOND
    assert (d.solverClock, d.challengerClock, d.turnStart) == (CLOCK, CLOCK, tx.timestamp)
    job = market.getJob(proven.job_id)
    assert (job.state, job.openDisputes) == (DISPUTED, 1)
    assert game.disputesOf(proven.job_id) == [dispute_id]
    assert game.decisiveDispute(proven.job_id) == 0  # nothing decided yet
    assert (game.totalBonds(), game.balance) == (CHALLENGE_BOND, CHALLENGE_BOND)
    assert logs(tx, game.DisputeOpened) == [
        game.DisputeOpened(dispute_id, proven.job_id, challenger, 8, 16, TRUTH[16])
    ]
    assert logs(tx, market.JobDisputed) == [market.JobDisputed(proven.job_id)]


@pytest.mark.parametrize("sent", [0, CHALLENGE_BOND - 1, CHALLENGE_BOND + 1])
def test_challenge_wrongBond_reverts(game, proven, challenger, sent):
    with ape.reverts(game.WrongBond, sent=sent, required=CHALLENGE_BOND):
        game.challenge(*proven.challenge_args(INDEX, TRUTH[16]), sender=challenger, value=sent)


def test_challenge_bySolver_reverts(game, proven, solver):
    with ape.reverts(game.SolverCannotChallenge):
        game.challenge(*proven.challenge_args(INDEX, TRUTH[16]), sender=solver, value=CHALLENGE_BOND)


def test_challenge_indexPastLastCheckpoint_reverts(game, proven, challenger):
    args = proven.challenge_args(INDEX, TRUTH[16])
    args[1] = 4
    with ape.reverts(game.IndexOutOfRange, index=4, checkpointCount=4):
        game.challenge(*args, sender=challenger, value=CHALLENGE_BOND)


def test_challenge_badAgreedProof_reverts(game, proven, challenger):
    args = proven.challenge_args(INDEX, TRUTH[16])
    args[2] = TRUTH[13]
    with ape.reverts(game.BadAgreedProof):
        game.challenge(*args, sender=challenger, value=CHALLENGE_BOND)


def test_challenge_badDisputedProof_reverts(game, proven, challenger):
    args = proven.challenge_args(INDEX, TRUTH[16])
    args[4] = TRUTH[16]
    with ape.reverts(game.BadDisputedProof):
        game.challenge(*args, sender=challenger, value=CHALLENGE_BOND)


def test_challenge_sameHashAsSolver_reverts(game, proven, challenger):
    with ape.reverts(game.NoDisagreement):
        game.challenge(*proven.challenge_args(INDEX, CLAIMED[16]), sender=challenger, value=CHALLENGE_BOND)


def test_challenge_runningJob_reverts(game, market, jobs, staked, solver2, challenger, proven):
    running = jobs.awarded(solver2)
    args = proven.challenge_args(INDEX, TRUTH[16])
    args[0] = running
    with ape.reverts(market.WrongJobState, expected=SUBMITTED, actual=RUNNING):
        game.challenge(*args, sender=challenger, value=CHALLENGE_BOND)


def test_challenge_unsealedResult_reverts(game, market, jobs, staked, solver2, challenger):
    job = submit_proven(jobs, market, solver2, CLAIMED, count=4, interval=8)
    jobs.after(market.getJob(job.job_id).submittedAt + 10 * CLOCK)  # however late: the review starts at the seal
    with ape.reverts(market.SampleNotSealed):
        game.challenge(*job.challenge_args(INDEX, TRUTH[16]), sender=challenger, value=CHALLENGE_BOND)
    assert (market.getJob(job.job_id).state, game.disputeCount(), game.balance) == (SUBMITTED, 0, 0)


def test_challenge_duringCommitWindow_reverts_opensRightAfter(game, market, jobs, staked, solver2, challenger,
                                                              stranger):
    """No challenge puts a hash on chain while verifiers can still commit theirs."""
    job = submit_proven(jobs, market, solver2, CLAIMED, count=4, interval=8)
    seal(jobs.chain, market, job.job_id, stranger)
    opens_at = challenge_opens_at(market, job.job_id)
    jobs.chain.pending_timestamp = opens_at
    with ape.reverts(market.ChallengeNotOpen, opensAt=opens_at):
        game.challenge(*job.challenge_args(INDEX, TRUTH[16]), sender=challenger, value=CHALLENGE_BOND)
    jobs.after(opens_at)
    game.challenge(*job.challenge_args(INDEX, TRUTH[16]), sender=challenger, value=CHALLENGE_BOND)
    assert market.getJob(job.job_id).state == DISPUTED


def test_challenge_atDeadline_isAccepted(game, market, jobs, proven, challenger):
    deadline = market.getJob(proven.job_id).challengeDeadline
    jobs.chain.pending_timestamp = deadline
    game.challenge(*proven.challenge_args(INDEX, TRUTH[16]), sender=challenger, value=CHALLENGE_BOND)
    assert market.getJob(proven.job_id).openDisputes == 1


def test_challenge_afterWindow_reverts(game, market, jobs, proven, challenger):
    deadline = market.getJob(proven.job_id).challengeDeadline
    jobs.after(deadline)
    with ape.reverts(market.ChallengeClosed, deadline=deadline):
        game.challenge(*proven.challenge_args(INDEX, TRUTH[16]), sender=challenger, value=CHALLENGE_BOND)


def test_challenge_secondWhileOpen_opensAnother(game, market, proven, dispute, stranger):
    second = game.challenge(*proven.challenge_args(INDEX, TRUTH[16]), sender=stranger, value=CHALLENGE_BOND).return_value
    assert game.disputesOf(proven.job_id) == [dispute, second]
    assert market.getJob(proven.job_id).openDisputes == 2


def test_challenge_oneStepInterval_startsAtServe(game, jobs, market, solver, staked, challenger):
    claimed = trajectory(INITIAL, 3, deviate_at=2, wrong=b"\xee" * 32)
    job = submit_open(jobs, market, solver, claimed, count=3, interval=1)
    dispute_id = game.challenge(*job.challenge_args(1, TRUTH[2]), sender=challenger, value=CHALLENGE_BOND).return_value
    d = game.getDispute(dispute_id)
    assert (d.lo, d.hi, d.phase) == (1, 2, SERVE)
    assert game.points(dispute_id) == []  # nothing left to reveal


# --- points ---------------------------------------------------------------------------------------------


# Offsets from lo of the points of a round over `span` steps: min(ARITY, span) segments, as even as integers allow.
SPAN_POINTS = {
    2: [1],
    15: list(range(1, 15)),
    16: list(range(1, 16)),
    17: list(range(1, 16)),  # 17 * j // 16 == j for j < 16: the last segment is two steps
    100: [6, 12, 18, 25, 31, 37, 43, 50, 56, 62, 68, 75, 81, 87, 93],
    2**16: [4096 * j for j in range(1, 16)],
}


@pytest.mark.parametrize("span", [1, 2, 15, 16, 17, 100, 2**16])
def test_points_cutTheIntervalIntoAtMostArityEvenSegments(game, span_dispute, span):
    dispute_id = span_dispute(span)
    d = game.getDispute(dispute_id)
    assert (d.lo, d.hi, d.phase) == (span, 2 * span, SERVE if span == 1 else REVEAL)
    steps = list(game.points(dispute_id))
    assert len(steps) == min(ARITY, span) - 1
    assert [step - span for step in steps] == SPAN_POINTS.get(span, [])
    ends = [d.lo, *steps, d.hi]
    assert all(a < b for a, b in pairwise(ends)), "strictly increasing, inside (lo, hi)"
    n = len(ends) - 1
    assert {b - a for a, b in pairwise(ends)} <= {span // n, -(-span // n)}  # each floor or ceil of span / n


def test_points_unknownDispute_isEmpty(game):
    assert game.points(7) == []


# --- reveal / respond / serve ----------------------------------------------------------------------------


def test_reveal_storesTheHashOfItsHashesAndChargesSolverClock(game, dispute, solver, chain):
    start = game.getDispute(dispute).turnStart
    chain.pending_timestamp = start + 100
    assert game.points(dispute) == POINTS
    hashes = [CLAIMED[step] for step in POINTS]
    tx = game.reveal(dispute, hashes, sender=solver)
    d = game.getDispute(dispute)
    assert (d.revealed, d.phase) == (keccak(b"".join(hashes)), RESPOND)
    assert (d.lo, d.hi, d.loHash, d.hiHash) == (8, 16, CLAIMED[8], CLAIMED[16])  # nothing narrowed yet
    assert (d.solverClock, d.challengerClock, d.turnStart) == (CLOCK - 100, CLOCK, start + 100)
    assert logs(tx, game.Revealed) == [game.Revealed(dispute, 8, 16, hashes)]


@pytest.mark.parametrize("count", [0, 6, 8, 15])
def test_reveal_wrongPointCount_reverts(game, dispute, solver, count):
    with ape.reverts(game.WrongPointCount, given=count, expected=7):
        game.reveal(dispute, MARKS[:count], sender=solver)
    assert game.getDispute(dispute).phase == REVEAL


def test_clocks_countTheRunningTurn(game, dispute, solver, chain):
    start = game.getDispute(dispute).turnStart
    chain.mine(timestamp=start + 40)
    assert game.clocks(dispute) == (CLOCK - 40, CLOCK)
    chain.mine(timestamp=start + CLOCK + 5)
    assert game.clocks(dispute) == (0, CLOCK)


def test_respond_honestPick_isTheFirstDisputedPoint(game, dispute, solver, challenger, chain):
    hashes = reveal_claimed(game, dispute, solver)
    segment = honest_segment(POINTS, hashes, TRUTH)
    assert segment == POINTS.index(13) == 4  # agrees up to step 12, disputes step 13
    start = game.getDispute(dispute).turnStart
    chain.pending_timestamp = start + 70
    tx = game.respond(dispute, hashes, segment, sender=challenger)
    d = game.getDispute(dispute)
    assert (d.lo, d.hi, d.loHash, d.hiHash, d.phase) == (12, 13, CLAIMED[12], CLAIMED[13], SERVE)
    assert d.loHash == TRUTH[12] and d.hiHash != TRUTH[13]  # agreed at lo, disputed at hi
    assert (d.solverClock, d.challengerClock, d.turnStart) == (CLOCK, CLOCK - 70, start + 70)
    assert logs(tx, game.Responded) == [game.Responded(dispute, 4, 12, 13)]


@pytest.mark.parametrize("segment, lo, hi, lo_hash, hi_hash", [
    (0, 8, 9, "agreed", 0),  # the first segment keeps the agreed lo
    (3, 11, 12, 2, 3),  # a middle one takes both ends from the revealed hashes
    (6, 14, 15, 5, 6),
    (7, 15, 16, 6, "claimed"),  # the last keeps the solver's claim at hi
])
def test_respond_oneStepSegment_takesItsEnds_andGoesToServe(game, dispute, solver, challenger, segment, lo, hi,
                                                            lo_hash, hi_hash):
    hashes = MARKS[:7]
    game.reveal(dispute, hashes, sender=solver)
    tx = game.respond(dispute, hashes, segment, sender=challenger)
    d = game.getDispute(dispute)
    lo_hash = CLAIMED[8] if lo_hash == "agreed" else MARKS[lo_hash]
    hi_hash = CLAIMED[16] if hi_hash == "claimed" else MARKS[hi_hash]
    assert (d.lo, d.hi, d.loHash, d.hiHash, d.phase) == (lo, hi, lo_hash, hi_hash, SERVE)
    assert logs(tx, game.Responded) == [game.Responded(dispute, segment, lo, hi)]


@pytest.mark.parametrize("segment, lo, hi, lo_hash, hi_hash", [
    (0, 100, 106, "agreed", 0),
    (7, 143, 150, 6, 7),
    (15, 193, 200, 14, "claimed"),
])
def test_respond_wideSegment_takesItsEnds_andGoesOnToReveal(game, span_dispute, solver, challenger, segment, lo, hi,
                                                            lo_hash, hi_hash):
    dispute_id = span_dispute(100)
    before = game.getDispute(dispute_id)
    game.reveal(dispute_id, MARKS, sender=solver)
    tx = game.respond(dispute_id, MARKS, segment, sender=challenger)
    d = game.getDispute(dispute_id)
    lo_hash = before.loHash if lo_hash == "agreed" else MARKS[lo_hash]
    hi_hash = before.hiHash if hi_hash == "claimed" else MARKS[hi_hash]
    assert (d.lo, d.hi, d.loHash, d.hiHash, d.phase) == (lo, hi, lo_hash, hi_hash, REVEAL)
    assert logs(tx, game.Responded) == [game.Responded(dispute_id, segment, lo, hi)]
    # The next round is over the segment: one point per step inside it.
    assert game.points(dispute_id) == list(range(lo + 1, hi))
    with ape.reverts(game.WrongPointCount, given=15, expected=hi - lo - 1):
        game.reveal(dispute_id, MARKS, sender=solver)


def test_respond_notTheRevealedHashes_reverts(game, dispute, solver, challenger):
    hashes = reveal_claimed(game, dispute, solver)
    altered = list(hashes)
    altered[4] = TRUTH[13]  # the challenger cannot put its own hash in the solver's mouth
    for wrong in (altered, hashes[:-1], [*hashes, CLAIMED[16]], list(reversed(hashes)), []):
        with ape.reverts(game.NotRevealed):
            game.respond(dispute, wrong, 4, sender=challenger)
    game.respond(dispute, hashes, 4, sender=challenger)
    assert game.getDispute(dispute).phase == SERVE


def test_respond_hashesOfAnEarlierRound_revert(game, span_dispute, solver, challenger):
    dispute_id = span_dispute(100)
    game.reveal(dispute_id, MARKS, sender=solver)
    game.respond(dispute_id, MARKS, 7, sender=challenger)  # [143, 150]: six points next
    game.reveal(dispute_id, MARKS[8:14], sender=solver)
    with ape.reverts(game.NotRevealed):
        game.respond(dispute_id, MARKS, 7, sender=challenger)
    with ape.reverts(game.NotRevealed):
        game.respond(dispute_id, MARKS[:6], 0, sender=challenger)
    game.respond(dispute_id, MARKS[8:14], 0, sender=challenger)
    d = game.getDispute(dispute_id)
    assert (d.lo, d.hi, d.loHash, d.hiHash, d.phase) == (143, 144, MARKS[6], MARKS[8], SERVE)


@pytest.mark.parametrize("segment", [8, 9, 2**256 - 1])
def test_respond_segmentOutOfRange_reverts(game, dispute, solver, challenger, segment):
    hashes = reveal_claimed(game, dispute, solver)
    with ape.reverts(game.SegmentOutOfRange, segment=segment, count=8):
        game.respond(dispute, hashes, segment, sender=challenger)
    assert game.getDispute(dispute).phase == RESPOND


def test_fullDispute_over2To16Steps_takesMaxRounds_andPinpointsTheCheat(chain, jobs, market, game, court, staked,
                                                                     seated, solver, challenger, stranger):
    """One interval of 2^16 steps and a cheat deep inside it: 16 segments a round, 4 rounds (maxRounds) to the
    cheated step, and the referees' verdict on it slashes the solver."""
    steps, cheat = 2**16, 43_981
    truth = trajectory(INITIAL, steps)
    claimed = truth[:cheat] + trajectory(b"\xee" * 32, steps - cheat)  # wrong from step `cheat` on
    job = submit_open(jobs, market, solver, claimed, count=1, interval=steps, sampleCount=1)
    dispute_id = game.challenge(*job.challenge_args(0, truth[steps]), sender=challenger,
                                value=CHALLENGE_BOND).return_value
    spans = []
    while (d := game.getDispute(dispute_id)).phase == REVEAL:
        spans.append(d.hi - d.lo)
        round_points = list(game.points(dispute_id))
        assert len(round_points) == ARITY - 1
        hashes = [claimed[step] for step in round_points]
        game.reveal(dispute_id, hashes, sender=solver)
        game.respond(dispute_id, hashes, honest_segment(round_points, hashes, truth), sender=challenger)
        d = game.getDispute(dispute_id)
        assert d.lo < cheat <= d.hi  # agreed at lo, disputed at hi: the cheat stays inside
        assert (d.loHash, d.hiHash) == (truth[d.lo], claimed[d.hi])
    assert spans == [2**16, 2**12, 2**8, 2**4]
    assert len(spans) == game.maxRounds(steps) == 4
    assert (d.lo, d.hi, d.phase) == (cheat - 1, cheat, SERVE)

    store = {}
    game.serveState(dispute_id, Solver(solver, claimed, store).serve(d.lo), sender=solver)
    request = court.getRequest(game.getDispute(dispute_id).requestId)
    assert (request.step, request.preStateHash) == (cheat - 1, truth[cheat - 1])
    adjudicate(chain, court, seated, store, game.getDispute(dispute_id).requestId, stranger)
    d = game.getDispute(dispute_id)
    assert (d.phase, d.solverWon) == (RESOLVED, False)
    assert market.getJob(job.job_id).state == SLASHED
    assert_ledgers(market, game, court)


def test_bondOf_eachKind(game, proven, dispute, challenger, stranger):
    solver_hash, proof = proven.checkpoint(0)
    genesis = game.challengeGenesis(proven.job_id, solver_hash, proof, b"\x07" * 32, sender=stranger,
                                    value=CHALLENGE_BOND).return_value
    availability = demand(game, proven, 2, challenger)
    kinds = [game.getDispute(i).kind for i in (dispute, genesis, availability)]
    assert kinds == [FAULT, GENESIS, AVAILABILITY]
    bonds = [game.bondOf(i) for i in (dispute, genesis, availability)]
    assert bonds == [CHALLENGE_BOND, CHALLENGE_BOND, AVAILABILITY_BOND]
    assert game.totalBonds() == game.balance == sum(bonds)


def test_serveState_requestsStepFromCourt(game, court, dispute, solver, challenger):
    to_serve(game, dispute, solver, challenger)
    tx = game.serveState(dispute, artifact_id(CLAIMED[12]), sender=solver)
    d = game.getDispute(dispute)
    assert (d.phase, d.preStateArtifact, d.requestId) == (ADJUDICATING, artifact_id(CLAIMED[12]), 1)
    request = court.getRequest(1)
    assert (request.disputeId, request.jobId, request.step, request.preStateHash) == (dispute, d.jobId, 12, CLAIMED[12])
    assert (request.solver, request.challenger, request.seedBlock) == (solver, challenger, tx.block_number + 1)
    assert logs(tx, game.StateServed) == [game.StateServed(dispute, 12, artifact_id(CLAIMED[12]), 1)]


def test_moves_unknownDispute_revert(game, solver, challenger):
    with ape.reverts(game.UnknownDispute, disputeId=9):
        game.reveal(9, [], sender=solver)
    with ape.reverts(game.UnknownDispute, disputeId=9):
        game.respond(9, [], 0, sender=challenger)
    with ape.reverts(game.UnknownDispute, disputeId=9):
        game.serveState(9, b"\x01" * 32, sender=solver)
    with ape.reverts(game.UnknownDispute, disputeId=9):
        game.claimTimeout(9, sender=challenger)


def test_moves_wrongPhase_revert(game, dispute, solver, challenger):
    with ape.reverts(game.WrongPhase, expected=RESPOND, actual=REVEAL):
        game.respond(dispute, [], 0, sender=challenger)
    with ape.reverts(game.WrongPhase, expected=SERVE, actual=REVEAL):
        game.serveState(dispute, b"\x01" * 32, sender=solver)
    hashes = reveal_claimed(game, dispute, solver)
    with ape.reverts(game.WrongPhase, expected=REVEAL, actual=RESPOND):
        game.reveal(dispute, hashes, sender=solver)


def test_moves_notYourTurn_revert(game, dispute, solver, challenger):
    with ape.reverts(game.NotYourTurn, expected=solver):
        game.reveal(dispute, [CLAIMED[step] for step in POINTS], sender=challenger)
    hashes = reveal_claimed(game, dispute, solver)
    with ape.reverts(game.NotYourTurn, expected=challenger):
        game.respond(dispute, hashes, 4, sender=solver)


def test_serveState_emptyArtifact_reverts(game, dispute, solver, challenger):
    to_serve(game, dispute, solver, challenger)
    with ape.reverts(game.NotYourTurn, expected=solver):
        game.serveState(dispute, b"\x01" * 32, sender=challenger)
    with ape.reverts(game.EmptyArtifact):
        game.serveState(dispute, ZERO32, sender=solver)


def test_moves_afterClock_revert(game, dispute, solver, challenger, chain):
    start = game.getDispute(dispute).turnStart
    chain.pending_timestamp = start + CLOCK  # the last second of the solver's clock still counts
    hashes = reveal_claimed(game, dispute, solver)
    chain.pending_timestamp = start + 2 * CLOCK + 1
    with ape.reverts(game.ClockExpired):
        game.respond(dispute, hashes, 4, sender=challenger)


def test_serveState_afterClock_reverts(game, dispute, solver, challenger, chain):
    to_serve(game, dispute, solver, challenger)
    d = game.getDispute(dispute)
    chain.pending_timestamp = d.turnStart + d.solverClock + 1
    with ape.reverts(game.ClockExpired):
        game.serveState(dispute, artifact_id(CLAIMED[12]), sender=solver)


# --- stepVerified / claimTimeout / claim -------------------------------------------------------------------


def test_stepVerified_notStepVerifier_reverts(game, dispute, stranger):
    with ape.reverts(game.NotStepVerifier, caller=stranger):
        game.stepVerified(dispute, CLAIMED[16], sender=stranger)


def test_stepVerified_notAdjudicating_reverts(project, owner, market, stranger):
    game = owner.deploy(project.DisputeGame, market, stranger, CHALLENGE_BOND, CLOCK)
    with ape.reverts(game.UnknownDispute, disputeId=1):
        game.stepVerified(1, CLAIMED[16], sender=stranger)


def test_claimTimeout_clockRunning_reverts(game, dispute, stranger, chain):
    start = game.getDispute(dispute).turnStart
    chain.pending_timestamp = start + CLOCK
    with ape.reverts(game.ClockNotExpired, remaining=0):
        game.claimTimeout(dispute, sender=stranger)
    chain.pending_timestamp = start + CLOCK + 30
    game.claimTimeout(dispute, sender=stranger)
    assert game.getDispute(dispute).phase == RESOLVED
    with ape.reverts(game.NoClockRunning, phase=RESOLVED):
        game.claimTimeout(dispute, sender=stranger)


def test_claimTimeout_adjudicating_reverts(game, dispute, solver, challenger, stranger, chain):
    to_serve(game, dispute, solver, challenger)
    game.serveState(dispute, artifact_id(CLAIMED[12]), sender=solver)
    chain.pending_timestamp += 10 * CLOCK
    with ape.reverts(game.NoClockRunning, phase=ADJUDICATING):
        game.claimTimeout(dispute, sender=stranger)


def test_claim_paysCreditOnce(game, market, proven, dispute, challenger, solver, stranger, chain):
    chain.pending_timestamp = game.getDispute(dispute).turnStart + CLOCK + 1
    game.claimTimeout(dispute, sender=stranger)  # the silent solver loses; the bond goes back
    assert market.getJob(proven.job_id).state == SLASHED
    assert game.decisiveDispute(proven.job_id) == dispute  # the dispute that slashed the solver
    assert game.credits(challenger) == CHALLENGE_BOND
    before = challenger.balance
    tx = game.claim(sender=challenger)
    assert challenger.balance == before + CHALLENGE_BOND - tx.total_fees_paid
    assert (game.credits(challenger), game.totalCredits(), game.balance) == (0, 0, 0)
    assert logs(tx, game.Claimed) == [game.Claimed(challenger, CHALLENGE_BOND)]
    with ape.reverts(game.NothingToClaim):
        game.claim(sender=challenger)
