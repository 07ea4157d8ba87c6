"""RefereeCourt: the referee set, drawing a referee for a step request, answering, replacing a silent
referee, and every reason an action is refused. Requests come from a real dispute over a job whose
checkpoints are one step apart, so the dispute goes straight to Serve."""

import ape
import pytest
from dispute_helpers import (
    ANSWER_WINDOW,
    CHALLENGE_BOND,
    CLOCK,
    DISPUTED,
    REFEREE_BOND,
    RESOLVED,
    answer,
    artifact_id,
    assert_ledgers,
    demand,
    submit_open,
    toy_step,
    trajectory,
)
from eth_abi import encode
from eth_utils import keccak
from market_helpers import REQUIRED_STAKE, SUBMITTED, ZERO32, logs

from pinpoint.merkle import checkpoint_tree

ZERO_ADDRESS = "0x" + "00" * 20
TRUTH = trajectory(b"\x03" * 32, 3)
CLAIMED = trajectory(TRUTH[0], 3, deviate_at=2, wrong=b"\xee" * 32)


@pytest.fixture
def request_id(jobs, market, game, staked, solver, challenger):
    """A step request: the solver served its state at step 1 (agreed) for the disputed step 1 -> 2."""
    job = submit_open(jobs, market, solver, CLAIMED, count=3, interval=1)
    dispute_id = game.challenge(*job.challenge_args(1, TRUTH[2]), sender=challenger, value=CHALLENGE_BOND).return_value
    return game.serveState(dispute_id, artifact_id(CLAIMED[1]), sender=solver).events[-1].requestId


@pytest.fixture
def drawn(court, chain, seated, request_id, stranger):
    chain.mine(1)
    court.draw(request_id, sender=stranger)
    referee = court.getRequest(request_id).referee
    return request_id, next(r for r in seated if r.address == referee)


# --- the referee set ------------------------------------------------------------------------------------


def test_setGame_setsOnce(project, owner, stranger):
    court = owner.deploy(project.RefereeCourt, REFEREE_BOND, ANSWER_WINDOW)
    assert (court.game(), court.minBond(), court.answerWindow()) == (ZERO_ADDRESS, REFEREE_BOND, ANSWER_WINDOW)
    with ape.reverts(court.OwnableUnauthorizedAccount, account=stranger):
        court.setGame(stranger, sender=stranger)
    with ape.reverts(court.ZeroAddress):
        court.setGame(ZERO_ADDRESS, sender=owner)
    tx = court.setGame(stranger, sender=owner)
    assert logs(tx, court.GameSet) == [court.GameSet(stranger)]
    with ape.reverts(court.GameAlreadySet, game=stranger):
        court.setGame(owner, sender=owner)


def test_register_keepsBond(court, referees):
    tx = court.register(sender=referees[0], value=REFEREE_BOND + 5)
    assert (court.refereeCount(), court.isReferee(referees[0]), court.bondOf(referees[0])) == (1, True, REFEREE_BOND + 5)
    assert court.balance == court.totalBonds() == REFEREE_BOND + 5
    assert logs(tx, court.RefereeRegistered) == [court.RefereeRegistered(referees[0], REFEREE_BOND + 5)]


def test_register_guards_revert(court, referees):
    with ape.reverts(court.BondTooLow, sent=REFEREE_BOND - 1, minBond=REFEREE_BOND):
        court.register(sender=referees[0], value=REFEREE_BOND - 1)
    court.register(sender=referees[0], value=REFEREE_BOND)
    with ape.reverts(court.AlreadyRegistered, referee=referees[0]):
        court.register(sender=referees[0], value=REFEREE_BOND)


def test_deregister_creditsBond_andClaimPaysIt(court, seated):
    leaving = seated[0]
    tx = court.deregister(sender=leaving)
    assert logs(tx, court.RefereeDeregistered) == [court.RefereeDeregistered(leaving, REFEREE_BOND)]
    assert (court.isReferee(leaving), court.refereeCount(), court.credits(leaving)) == (False, 2, REFEREE_BOND)
    assert court.isReferee(seated[2]) and court.isReferee(seated[1])  # the moved seat still counts
    assert court.balance == court.totalBonds() + court.totalCredits() == 3 * REFEREE_BOND
    before = leaving.balance
    claim = court.claim(sender=leaving)
    assert leaving.balance == before + REFEREE_BOND - claim.total_fees_paid
    with ape.reverts(court.NothingToClaim):
        court.claim(sender=leaving)
    with ape.reverts(court.NotRegistered, account=leaving):
        court.deregister(sender=leaving)


def test_deregister_whileDrawn_reverts_untilAnswered(court, drawn):
    request_id, referee = drawn
    assert court.openDraws(referee) == 1
    with ape.reverts(court.RefereeBusy, openRequests=1):
        court.deregister(sender=referee)
    court.submitStep(request_id, toy_step(CLAIMED[1], 1), sender=referee)
    court.deregister(sender=referee)


# --- requests and draws ----------------------------------------------------------------------------------


def test_requestStep_notGame_reverts(court, game, stranger):
    with ape.reverts(court.NotGame, caller=stranger):
        court.requestStep(1, 1, 0, ZERO32, ZERO32, stranger, stranger, sender=stranger)


def test_requestStep_recordsRequest(court, game, request_id, solver, challenger):
    r = court.getRequest(request_id)
    assert court.requestCount() == request_id == 1
    assert (r.step, r.preStateHash, r.preStateArtifact) == (1, CLAIMED[1], artifact_id(CLAIMED[1]))
    assert (r.solver, r.challenger, r.referee, r.deadline, r.done) == (solver, challenger, ZERO_ADDRESS, 0, False)
    assert r.availability is False


def test_requestAvailability_notGame_reverts(court, game, stranger):
    with ape.reverts(court.NotGame, caller=stranger):
        court.requestAvailability(1, 1, 0, ZERO32, ZERO32, stranger, stranger, sender=stranger)
    assert court.requestCount() == 0


def test_requestAvailability_recordsAnAvailabilityCheck(court, game, jobs, market, staked, solver, challenger):
    job = submit_open(jobs, market, solver, TRUTH, count=3, interval=1)
    dispute_id = demand(game, job, 2, challenger)
    tx = answer(game, job, dispute_id, solver, store=None)
    request_id = tx.events[-1].requestId
    r = court.getRequest(request_id)
    assert (r.disputeId, r.jobId, r.step, r.availability) == (dispute_id, job.job_id, 2, True)
    assert (r.preStateHash, r.preStateArtifact) == (TRUTH[2], artifact_id(TRUTH[2]))
    assert (r.solver, r.challenger, r.drawBlock, r.requestedAt) == (solver, challenger, tx.block_number + 1,
                                                                   tx.timestamp)
    assert logs(tx, court.StepRequested) == [
        court.StepRequested(request_id, dispute_id, job.job_id, 2, TRUTH[2], artifact_id(TRUTH[2]))
    ]


def test_draw_picksFromTheHashOfTheDrawBlock(court, chain, seated, request_id, stranger):
    draw_block = court.getRequest(request_id).drawBlock
    with ape.reverts(court.DrawTooEarly, drawBlock=draw_block):
        court.draw(request_id, sender=stranger)
    chain.mine(1)
    tx = court.draw(request_id, sender=stranger)
    seed = keccak(encode(["bytes32", "uint256"], [bytes(chain.blocks[draw_block].hash), request_id]))
    expected = seated[int.from_bytes(seed, "big") % 3]
    assert court.getRequest(request_id).referee == expected
    assert logs(tx, court.RefereeDrawn) == [court.RefereeDrawn(request_id, expected, tx.timestamp + ANSWER_WINDOW)]
    with ape.reverts(court.AlreadyDrawn, referee=expected):
        court.draw(request_id, sender=stranger)


def test_draw_skipsTheParties(court, chain, referees, solver, challenger, request_id, stranger):
    for account in (solver, challenger, referees[0]):
        court.register(sender=account, value=REFEREE_BOND)
    chain.mine(1)
    court.draw(request_id, sender=stranger)
    assert court.getRequest(request_id).referee == referees[0]


def test_draw_onlyPartiesOrNobody_reverts(court, chain, solver, challenger, request_id, stranger):
    chain.mine(1)
    with ape.reverts(court.NoEligibleReferee):
        court.draw(request_id, sender=stranger)
    court.register(sender=solver, value=REFEREE_BOND)
    court.register(sender=challenger, value=REFEREE_BOND)
    with ape.reverts(court.NoEligibleReferee):
        court.draw(request_id, sender=stranger)


def test_draw_after256Blocks_rearms(court, chain, seated, request_id, stranger):
    chain.mine(300)
    tx = court.draw(request_id, sender=stranger)
    r = court.getRequest(request_id)
    assert (r.referee, r.drawBlock) == (ZERO_ADDRESS, tx.block_number + 1)
    assert logs(tx, court.DrawRearmed) == [court.DrawRearmed(request_id, tx.block_number + 1)]
    chain.mine(1)
    court.draw(request_id, sender=stranger)
    assert court.getRequest(request_id).referee in seated


def test_unknownRequest_reverts(court, stranger):
    for action in (court.draw, court.redraw):
        with ape.reverts(court.UnknownRequest, requestId=7):
            action(7, sender=stranger)
    with ape.reverts(court.UnknownRequest, requestId=7):
        court.submitStep(7, ZERO32, sender=stranger)


# --- answers and redraws ---------------------------------------------------------------------------------


def test_submitStep_resolvesTheDispute(court, game, drawn, stranger):
    request_id, referee = drawn
    tx = court.submitStep(request_id, TRUTH[2], sender=referee)
    assert logs(tx, court.StepAnswered) == [court.StepAnswered(request_id, TRUTH[2])]
    r = court.getRequest(request_id)
    assert (r.done, court.openDraws(referee)) == (True, 0)
    d = game.getDispute(r.disputeId)
    assert (d.phase, d.solverWon) == (RESOLVED, False)  # the true post-state is not the solver's claim
    for action in (court.draw, court.redraw):
        with ape.reverts(court.RequestDone, requestId=request_id):
            action(request_id, sender=stranger)
    with ape.reverts(court.RequestDone, requestId=request_id):
        court.submitStep(request_id, TRUTH[2], sender=referee)


def test_submitStep_zeroAnswer_solverLoses(court, game, drawn):
    request_id, referee = drawn
    court.submitStep(request_id, ZERO32, sender=referee)
    assert game.getDispute(court.getRequest(request_id).disputeId).solverWon is False


def test_submitStep_notTheDrawnReferee_reverts(court, chain, seated, request_id, stranger):
    with ape.reverts(court.NotDrawnReferee, referee=ZERO_ADDRESS):
        court.submitStep(request_id, TRUTH[2], sender=seated[0])
    chain.mine(1)
    court.draw(request_id, sender=stranger)
    referee = court.getRequest(request_id).referee
    with ape.reverts(court.NotDrawnReferee, referee=referee):
        court.submitStep(request_id, TRUTH[2], sender=stranger)


def test_submitStep_afterDeadline_reverts(court, chain, drawn):
    request_id, referee = drawn
    deadline = court.getRequest(request_id).deadline
    chain.pending_timestamp = deadline + 1
    with ape.reverts(court.AnswerWindowClosed, deadline=deadline):
        court.submitStep(request_id, TRUTH[2], sender=referee)


def test_redraw_guards_revert(court, chain, seated, request_id, stranger):
    with ape.reverts(court.NotDrawn):
        court.redraw(request_id, sender=stranger)
    chain.mine(1)
    court.draw(request_id, sender=stranger)
    deadline = court.getRequest(request_id).deadline
    chain.pending_timestamp = deadline
    with ape.reverts(court.AnswerWindowOpen, deadline=deadline):
        court.redraw(request_id, sender=stranger)


def test_redraw_slashesSilentReferee_andRearms(court, chain, drawn, stranger):
    request_id, silent = drawn
    chain.pending_timestamp = court.getRequest(request_id).deadline + 1
    tx = court.redraw(request_id, sender=stranger)
    r = court.getRequest(request_id)
    assert (r.referee, r.deadline, r.drawBlock) == (ZERO_ADDRESS, 0, tx.block_number + 1)
    assert (court.isReferee(silent), court.bondOf(silent), court.openDraws(silent)) == (False, 0, 0)
    assert (court.credits(stranger), court.totalBonds()) == (REFEREE_BOND, 2 * REFEREE_BOND)
    assert court.balance == court.totalBonds() + court.totalCredits()
    chain.mine(1)
    court.draw(request_id, sender=stranger)
    assert court.getRequest(request_id).referee not in (ZERO_ADDRESS, silent)


# --- abandon: no dispute stalls when no referee can be drawn ----------------------------------------------


def abandonable_at(court, request_id):
    return court.getRequest(request_id).requestedAt + ANSWER_WINDOW


def test_requestStep_recordsRequestTime(court, game, request_id):
    r = court.getRequest(request_id)
    assert r.requestedAt > 0
    assert r.requestedAt == game.getDispute(r.disputeId).turnStart  # the Serve move made the request


def test_abandon_noReferee_endsDisputeWithNoWinner(chain, court, game, market, staking, jobs, request_id, solver,
                                                   challenger, submitter, stranger):
    r = court.getRequest(request_id)
    dispute_id, job_id = r.disputeId, r.jobId
    time_left = market.getJob(job_id).challengeTimeLeft
    assert court.hasEligibleReferee(request_id) is False
    chain.pending_timestamp = abandonable_at(court, request_id)  # the referees' window includes its end
    with ape.reverts(court.AbandonTooEarly, abandonableAt=abandonable_at(court, request_id)):
        court.abandon(request_id, sender=stranger)

    chain.pending_timestamp = abandonable_at(court, request_id) + 1
    tx = court.abandon(request_id, sender=stranger)
    assert logs(tx, court.RequestAbandoned) == [court.RequestAbandoned(request_id, dispute_id)]
    assert logs(tx, game.DisputeAbandoned) == [game.DisputeAbandoned(dispute_id, job_id)]
    assert logs(tx, market.DisputeSettled) == [market.DisputeSettled(job_id, True)]
    assert not logs(tx, game.DisputeResolved) and not logs(tx, market.SolverSlashed)
    assert court.getRequest(request_id).done is True
    d = game.getDispute(dispute_id)
    assert (d.phase, d.abandoned, d.solverWon) == (RESOLVED, True, False)
    assert game.activeDispute(job_id) == 0
    # Nobody won: the bond goes back to the challenger, the solver keeps its stake locked on the job.
    assert (game.credits(challenger), game.credits(solver), game.totalBonds()) == (CHALLENGE_BOND, 0, 0)
    assert staking.lockedStake(solver) == REQUIRED_STAKE
    assert market.credits(challenger) == market.credits(submitter) == 0
    job = market.getJob(job_id)
    assert (job.state, job.challengeDeadline, job.challengeTimeLeft) == (SUBMITTED, tx.timestamp + time_left, 0)
    assert_ledgers(market, game, court)
    for action in (court.abandon, court.draw, court.redraw):
        with ape.reverts(court.RequestDone, requestId=request_id):
            action(request_id, sender=stranger)

    # The job is open to another challenge for the rest of its window; after it, it finalizes.
    tree = checkpoint_tree(job_id, CLAIMED, 1)
    game.challenge(job_id, 1, CLAIMED[1], tree.get_proof(1), CLAIMED[2], tree.get_proof(2), TRUTH[2],
                   sender=stranger, value=CHALLENGE_BOND)
    assert market.getJob(job_id).state == DISPUTED
    before = challenger.balance
    claim = game.claim(sender=challenger)
    assert challenger.balance == before + CHALLENGE_BOND - claim.total_fees_paid


def test_abandon_whenOnlyThePartiesAreReferees(chain, court, game, solver, challenger, request_id, stranger):
    court.register(sender=solver, value=REFEREE_BOND)
    court.register(sender=challenger, value=REFEREE_BOND)
    chain.mine(1)
    with ape.reverts(court.NoEligibleReferee):
        court.draw(request_id, sender=stranger)
    chain.pending_timestamp = abandonable_at(court, request_id) + 1
    court.abandon(request_id, sender=solver)  # anyone, the parties included
    assert game.getDispute(court.getRequest(request_id).disputeId).abandoned is True
    assert court.totalBonds() == 2 * REFEREE_BOND  # the parties' referee bonds are untouched


def test_abandon_afterTheLastRefereeWasSlashed(chain, court, game, market, referees, request_id, stranger):
    court.register(sender=referees[0], value=REFEREE_BOND)
    chain.mine(1)
    court.draw(request_id, sender=stranger)
    chain.pending_timestamp = court.getRequest(request_id).deadline + 1
    court.redraw(request_id, sender=stranger)
    assert court.refereeCount() == 0
    court.abandon(request_id, sender=stranger)
    assert game.getDispute(court.getRequest(request_id).disputeId).abandoned is True
    assert court.credits(stranger) == REFEREE_BOND  # the keeper reward stays
    assert_ledgers(market, game, court)


def test_abandon_eligibleRefereeOrDrawn_reverts(chain, court, seated, request_id, stranger):
    chain.pending_timestamp = abandonable_at(court, request_id) + 1
    assert court.hasEligibleReferee(request_id) is True
    with ape.reverts(court.EligibleRefereeExists):  # an undrawn request with a referee available: draw it
        court.abandon(request_id, sender=stranger)
    court.draw(request_id, sender=stranger)
    referee = court.getRequest(request_id).referee
    for other in (r for r in seated if r.address != referee):
        court.deregister(sender=other)  # only the drawn referee is left: still no abandoning
    with ape.reverts(court.AlreadyDrawn, referee=referee):  # a drawn referee answers or is redrawn
        court.abandon(request_id, sender=stranger)


def test_abandon_unknownRequest_reverts(court, stranger):
    with ape.reverts(court.UnknownRequest, requestId=7):
        court.abandon(7, sender=stranger)


def test_stepUnresolved_notStepVerifier_reverts(project, owner, market, game, stranger):
    with ape.reverts(game.NotStepVerifier, caller=stranger):
        game.stepUnresolved(1, sender=stranger)
    bare = owner.deploy(project.DisputeGame, market, stranger, CHALLENGE_BOND, CLOCK)
    with ape.reverts(bare.UnknownDispute, disputeId=1):
        bare.stepUnresolved(1, sender=stranger)
