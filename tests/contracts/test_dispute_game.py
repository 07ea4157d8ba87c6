"""DisputeGame: opening a dispute, each move, and every reason a move is refused.

The job under dispute: 4 checkpoints 8 steps apart; the solver deviates from the toy trajectory at step 13,
so checkpoint 1 (step 8) is agreed and checkpoint 2 (step 16) is disputed.
"""

import ape
import pytest
from dispute_helpers import (
    ADJUDICATING,
    AVAILABILITY_BOND,
    CHALLENGE_BOND,
    CLOCK,
    DISPUTED,
    FAULT,
    RESOLVED,
    RESPOND,
    REVEAL,
    SERVE,
    SLASHED,
    artifact_id,
    challenge_opens_at,
    seal,
    submit_open,
    submit_proven,
    trajectory,
)
from market_helpers import RUNNING, SUBMITTED, ZERO32, logs

INITIAL = b"\x01" * 32
TRUTH = trajectory(INITIAL, 32)
CLAIMED = trajectory(INITIAL, 32, deviate_at=13, wrong=b"\xee" * 32)
INDEX = 1  # agreed checkpoint (step 8); checkpoint 2 (step 16) is disputed


@pytest.fixture
def proven(jobs, market, game, staked, solver):
    """The cheater's job, sealed, just after its audit commit window: open to challenges."""
    return submit_open(jobs, market, solver, CLAIMED, count=4, interval=8)


@pytest.fixture
def dispute(game, proven, challenger):
    tx = game.challenge(*proven.challenge_args(INDEX, TRUTH[16]), sender=challenger, value=CHALLENGE_BOND)
    return tx.return_value


def reveal_and_respond(game, dispute_id, solver, challenger, agree):
    mid = game.midpoint(dispute_id)
    game.reveal(dispute_id, CLAIMED[mid], sender=solver)
    game.respond(dispute_id, agree, sender=challenger)


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


def test_maxRounds_isCeilLog2(game):
    assert [game.maxRounds(n) for n in (0, 1, 2, 3, 4, 5, 8, 9, 64, 65)] == [0, 0, 1, 2, 2, 3, 3, 4, 6, 7]


# --- challenge -----------------------------------------------------------------------------------------


def test_challenge_opensDisputeAndDisputesJob(game, market, proven, challenger, solver, chain):
    tx = game.challenge(*proven.challenge_args(INDEX, TRUTH[16]), sender=challenger, value=CHALLENGE_BOND)
    dispute_id = tx.return_value
    d = game.getDispute(dispute_id)
    assert (d.jobId, d.solver, d.challenger, d.lo, d.hi) == (proven.job_id, solver, challenger, 8, 16)
    assert (d.loHash, d.hiHash, d.phase) == (CLAIMED[8], CLAIMED[16], REVEAL)
    assert (d.kind, d.index, d.challengerHash, d.bond) == (FAULT, INDEX, TRUTH[16], CHALLENGE_BOND)
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


# --- reveal / respond / serve ----------------------------------------------------------------------------


def test_reveal_storesMidpointAndChargesSolverClock(game, dispute, solver, chain):
    start = game.getDispute(dispute).turnStart
    chain.pending_timestamp = start + 100
    tx = game.reveal(dispute, CLAIMED[12], sender=solver)
    d = game.getDispute(dispute)
    assert (game.midpoint(dispute), d.midHash, d.phase) == (12, CLAIMED[12], RESPOND)
    assert (d.solverClock, d.challengerClock, d.turnStart) == (CLOCK - 100, CLOCK, start + 100)
    assert logs(tx, game.MidpointRevealed) == [game.MidpointRevealed(dispute, 12, CLAIMED[12])]


def test_clocks_countTheRunningTurn(game, dispute, solver, chain):
    start = game.getDispute(dispute).turnStart
    chain.mine(timestamp=start + 40)
    assert game.clocks(dispute) == (CLOCK - 40, CLOCK)
    chain.mine(timestamp=start + CLOCK + 5)
    assert game.clocks(dispute) == (0, CLOCK)


@pytest.mark.parametrize("agree, lo, hi", [(True, 12, 16), (False, 8, 12)])
def test_respond_narrowsInterval(game, dispute, solver, challenger, agree, lo, hi):
    game.reveal(dispute, CLAIMED[12], sender=solver)
    tx = game.respond(dispute, agree, sender=challenger)
    d = game.getDispute(dispute)
    assert (d.lo, d.hi, d.loHash, d.hiHash, d.phase) == (lo, hi, CLAIMED[lo], CLAIMED[hi], REVEAL)
    assert logs(tx, game.Responded) == [game.Responded(dispute, agree, lo, hi)]


def test_serveState_requestsStepFromCourt(game, court, dispute, solver, challenger):
    for agree in (True, False, True):  # 8..16 -> 12..16 -> 12..14 -> 13..14
        reveal_and_respond(game, dispute, solver, challenger, agree)
    d = game.getDispute(dispute)
    assert (d.lo, d.hi, d.phase) == (13, 14, SERVE)
    tx = game.serveState(dispute, artifact_id(CLAIMED[13]), sender=solver)
    d = game.getDispute(dispute)
    assert (d.phase, d.preStateArtifact, d.requestId) == (ADJUDICATING, artifact_id(CLAIMED[13]), 1)
    request = court.getRequest(1)
    assert (request.disputeId, request.jobId, request.step, request.preStateHash) == (dispute, d.jobId, 13, CLAIMED[13])
    assert (request.solver, request.challenger, request.seedBlock) == (solver, challenger, tx.block_number + 1)
    assert logs(tx, game.StateServed) == [game.StateServed(dispute, 13, artifact_id(CLAIMED[13]), 1)]


def test_moves_unknownDispute_revert(game, solver, challenger):
    with ape.reverts(game.UnknownDispute, disputeId=9):
        game.reveal(9, ZERO32, sender=solver)
    with ape.reverts(game.UnknownDispute, disputeId=9):
        game.respond(9, True, sender=challenger)
    with ape.reverts(game.UnknownDispute, disputeId=9):
        game.serveState(9, b"\x01" * 32, sender=solver)
    with ape.reverts(game.UnknownDispute, disputeId=9):
        game.claimTimeout(9, sender=challenger)


def test_moves_wrongPhase_revert(game, dispute, solver, challenger):
    with ape.reverts(game.WrongPhase, expected=RESPOND, actual=REVEAL):
        game.respond(dispute, True, sender=challenger)
    with ape.reverts(game.WrongPhase, expected=SERVE, actual=REVEAL):
        game.serveState(dispute, b"\x01" * 32, sender=solver)
    game.reveal(dispute, CLAIMED[12], sender=solver)
    with ape.reverts(game.WrongPhase, expected=REVEAL, actual=RESPOND):
        game.reveal(dispute, CLAIMED[12], sender=solver)


def test_moves_notYourTurn_revert(game, dispute, solver, challenger):
    with ape.reverts(game.NotYourTurn, expected=solver):
        game.reveal(dispute, CLAIMED[12], sender=challenger)
    game.reveal(dispute, CLAIMED[12], sender=solver)
    with ape.reverts(game.NotYourTurn, expected=challenger):
        game.respond(dispute, True, sender=solver)


def test_serveState_emptyArtifact_reverts(game, dispute, solver, challenger):
    for agree in (True, False, True):
        reveal_and_respond(game, dispute, solver, challenger, agree)
    with ape.reverts(game.NotYourTurn, expected=solver):
        game.serveState(dispute, b"\x01" * 32, sender=challenger)
    with ape.reverts(game.EmptyArtifact):
        game.serveState(dispute, ZERO32, sender=solver)


def test_moves_afterClock_revert(game, dispute, solver, challenger, chain):
    start = game.getDispute(dispute).turnStart
    chain.pending_timestamp = start + CLOCK  # the last second of the solver's clock still counts
    game.reveal(dispute, CLAIMED[12], sender=solver)
    chain.pending_timestamp = start + 2 * CLOCK + 1
    with ape.reverts(game.ClockExpired):
        game.respond(dispute, True, sender=challenger)


def test_serveState_afterClock_reverts(game, dispute, solver, challenger, chain):
    for agree in (True, False, True):
        reveal_and_respond(game, dispute, solver, challenger, agree)
    d = game.getDispute(dispute)
    chain.pending_timestamp = d.turnStart + d.solverClock + 1
    with ape.reverts(game.ClockExpired):
        game.serveState(dispute, artifact_id(CLAIMED[13]), sender=solver)


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
    for agree in (True, False, True):
        reveal_and_respond(game, dispute, solver, challenger, agree)
    game.serveState(dispute, artifact_id(CLAIMED[13]), sender=solver)
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
