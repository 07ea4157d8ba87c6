"""Disputes side by side. Nobody, not even the solver's own allies, can keep an honest challenger out or
hold a result past its window plus one dispute: any number of disputes of a job may be open at once, the
challenge deadline never moves, the first dispute that proves the solver wrong slashes it, and the others
become moot (bond back, nothing else changes; a late verdict for one of them is ignored).

The cheat: 4 checkpoints 8 steps apart, the solver deviates at step 13 (checkpoint 2 is wrong). The solver's
ally is `stranger` (or its `Staller` contract, contracts/testing/); `owner` plays an uninvolved keeper."""

import ape
import pytest
from dispute_helpers import (
    ADJUDICATING,
    CHALLENGE_BOND,
    CHALLENGER_REWARD,
    CLOCK,
    DISPUTED,
    RESOLVED,
    SLASHED,
    Challenger,
    Solver,
    assert_ledgers,
    bisect,
    commitment,
    play,
    referee_answer,
    submit_open,
    trajectory,
)
from market_helpers import MAX_PRICE, REQUIRED_STAKE, SUBMITTED, UNVERIFIED, logs

TRUTH = trajectory(b"\x01" * 32, 32)
CLAIMED = trajectory(TRUTH[0], 32, deviate_at=13, wrong=b"\xee" * 32)
FRIVOLOUS = b"\x07" * 32  # a made-up hash for checkpoint 1, which the solver got right


@pytest.fixture
def cheat(jobs, market, game, staked, solver):
    return submit_open(jobs, market, solver, CLAIMED, 4, 8)


def stall(game, job, ally) -> int:
    """The ally's frivolous dispute over interval 0 (which is right), opened first."""
    return game.challenge(*job.challenge_args(0, FRIVOLOUS), sender=ally, value=CHALLENGE_BOND).return_value


def test_allyOpensFirst_honestChallengerStillGetsIn_andTheCheaterIsSlashed(
    chain, market, game, court, staking, cheat, seated, solver, challenger, submitter, stranger, owner
):
    ally = stranger
    stalled = stall(game, cheat, ally)
    honest = game.challenge(*cheat.challenge_args(1, TRUTH[16]), sender=challenger, value=CHALLENGE_BOND).return_value
    assert market.getJob(cheat.job_id).openDisputes == 2

    play(chain, game, court, honest, Solver(solver, CLAIMED, {}), Challenger(challenger, TRUTH), seated, owner)
    assert game.decisiveDispute(cheat.job_id) == honest
    assert market.getJob(cheat.job_id).state == SLASHED

    # The stalling dispute decides nothing now: anyone closes it, its bond goes back, and only once.
    tx = game.closeMoot(stalled, sender=owner)
    assert logs(tx, game.DisputeAbandoned) == [game.DisputeAbandoned(stalled, cheat.job_id)]
    d = game.getDispute(stalled)
    assert (d.phase, d.abandoned, d.solverWon) == (RESOLVED, True, False)
    with ape.reverts(game.NotMoot, disputeId=stalled):
        game.closeMoot(stalled, sender=owner)

    # The coalition lost the whole stake; the honest challenger and the submitter were made whole and more.
    assert (game.credits(ally), game.credits(solver)) == (CHALLENGE_BOND, 0)
    assert (game.credits(challenger), market.credits(challenger)) == (CHALLENGE_BOND, CHALLENGER_REWARD)
    assert market.credits(submitter) == MAX_PRICE + REQUIRED_STAKE - CHALLENGER_REWARD
    assert (staking.lockedStake(solver), market.credits(solver), game.totalBonds()) == (0, 0, 0)
    assert_ledgers(market, game, court)


def test_lateVerdictForAMootDispute_isIgnored(chain, jobs, market, game, court, cheat, seated, solver, challenger,
                                              stranger, owner):
    ally = stranger
    stalled = stall(game, cheat, ally)
    honest = game.challenge(*cheat.challenge_args(1, TRUTH[16]), sender=challenger, value=CHALLENGE_BOND).return_value
    # The ally's dispute reaches the court, whose panel answers; the verdict is not decided yet.
    bisect(game, stalled, CLAIMED, TRUTH, solver, ally)  # the ally picks honestly: to step 7 -> 8
    store = {}
    game.serveState(stalled, Solver(solver, CLAIMED, store).serve(game.getDispute(stalled).lo), sender=solver)
    assert game.getDispute(stalled).phase == ADJUDICATING
    request_id = game.getDispute(stalled).requestId
    chain.mine(1)
    court.draw(request_id, sender=owner)
    request = court.getRequest(request_id)
    answer, salt = referee_answer(store, request), b"\x5a" * 32
    panel = [r for r in seated if court.onPanel(request_id, r)]
    for r in panel:
        court.commitAnswer(request_id, commitment(request_id, r.address, answer, salt), sender=r)
    jobs.after(request.commitDeadline)
    for r in panel:
        court.revealAnswer(request_id, answer, salt, sender=r)

    # Meanwhile the solver let the honest dispute run out: slashed; the ally's dispute is moot and closed.
    jobs.after(max(game.getDispute(honest).turnStart + CLOCK, request.revealDeadline))
    game.claimTimeout(honest, sender=owner)
    assert market.getJob(cheat.job_id).state == SLASHED
    game.closeMoot(stalled, sender=owner)

    # The court still reaches its verdict; the game takes it without reverting and changes nothing.
    court.decide(request_id, sender=owner)  # proposes; after the appeal window the verdict goes to the game
    jobs.after(court.getRequest(request_id).appealDeadline)
    court.decide(request_id, sender=owner)
    assert court.getRequest(request_id).done
    d = game.getDispute(stalled)
    assert (d.phase, d.abandoned, d.solverWon) == (RESOLVED, True, False)
    assert game.decisiveDispute(cheat.job_id) == honest
    assert (game.credits(ally), game.credits(challenger), game.totalBonds()) == (CHALLENGE_BOND, CHALLENGE_BOND, 0)
    assert_ledgers(market, game, court)


def test_resultIsFinalOnlyAfterEveryOpenDispute_andFrivolousChallengersPayTheSolver(
    chain, jobs, market, game, court, staked, solver, challenger, stranger, owner
):
    job = submit_open(jobs, market, solver, TRUTH, 4, 8)
    deadline = market.getJob(job.job_id).challengeDeadline
    first = game.challenge(*job.challenge_args(0, FRIVOLOUS), sender=challenger, value=CHALLENGE_BOND).return_value
    second = game.challenge(*job.challenge_args(2, FRIVOLOUS), sender=stranger, value=CHALLENGE_BOND).return_value
    for dispute_id in (first, second):  # then the challengers go silent
        game.reveal(dispute_id, [TRUTH[step] for step in game.points(dispute_id)], sender=solver)
    jobs.after(deadline)
    with ape.reverts(market.WrongJobState, expected=SUBMITTED, actual=DISPUTED):
        market.finalize(job.job_id, sender=owner)

    jobs.after(game.getDispute(second).turnStart + CLOCK)  # both challengers' clocks ran out
    game.claimTimeout(first, sender=owner)
    assert market.getJob(job.job_id).state == DISPUTED  # one dispute is still open
    game.claimTimeout(second, sender=owner)
    reviewed = market.getJob(job.job_id)
    assert (reviewed.state, reviewed.openDisputes, reviewed.challengeDeadline) == (SUBMITTED, 0, deadline)
    market.finalize(job.job_id, sender=owner)  # past the deadline that never moved: final at once
    assert market.getJob(job.job_id).state == UNVERIFIED  # nobody audited it here; the solver is not slashed
    assert game.credits(solver) == 2 * CHALLENGE_BOND
    assert game.credits(challenger) == game.credits(stranger) == 0
    assert_ledgers(market, game, court)


def test_closeMoot_guards(chain, market, game, court, cheat, challenger, stranger, owner):
    with ape.reverts(game.NotMoot, disputeId=99):
        game.closeMoot(99, sender=owner)
    stalled = stall(game, cheat, stranger)
    with ape.reverts(game.NotMoot, disputeId=stalled):  # its job is still under review
        game.closeMoot(stalled, sender=owner)
    chain.pending_timestamp = game.getDispute(stalled).turnStart + CLOCK + 1
    game.claimTimeout(stalled, sender=owner)  # the solver never revealed: slashed by this very dispute
    with ape.reverts(game.NotMoot, disputeId=stalled):  # decided, not moot
        game.closeMoot(stalled, sender=owner)
    assert game.decisiveDispute(cheat.job_id) == stalled
    assert_ledgers(market, game, court)


def test_stallerContract_manyDisputesAndChainedRechallenges_keepNobodyOut(
    chain, jobs, project, market, game, court, staking, staked, seated, solver, challenger, submitter, stranger, owner
):
    # A long window, so the staller has time to chain: claim its own timeout and re-challenge in one transaction.
    job = submit_open(jobs, market, solver, CLAIMED, 4, 8, challengeDuration=4 * CLOCK)
    staller = stranger.deploy(project.Staller)
    args = job.challenge_args(0, FRIVOLOUS)
    first, second = staller.challengeMany(game, 2, *args, sender=stranger, value=2 * CHALLENGE_BOND).return_value
    for dispute_id in (first, second):  # the solver answers; the staller never does
        game.reveal(dispute_id, [CLAIMED[step] for step in game.points(dispute_id)], sender=solver)
    jobs.after(game.getDispute(first).turnStart + CLOCK)
    third = staller.timeoutAndRechallenge(game, first, *args, sender=stranger, value=CHALLENGE_BOND).return_value
    honest = game.challenge(*job.challenge_args(1, TRUTH[16]), sender=challenger, value=CHALLENGE_BOND).return_value
    assert game.getDispute(first).solverWon and market.getJob(job.job_id).openDisputes == 3  # second, third, honest

    # The honest dispute runs beside the stalls and slashes the cheater; the stalls are moot.
    play(chain, game, court, honest, Solver(solver, CLAIMED, {}), Challenger(challenger, TRUTH), seated, owner)
    assert market.getJob(job.job_id).state == SLASHED
    for dispute_id in (second, third):
        game.closeMoot(dispute_id, sender=owner)
    # A contract that refuses ETH strands only its own credit; every other party is paid.
    assert game.credits(staller) == 2 * CHALLENGE_BOND and game.credits(solver) == CHALLENGE_BOND
    with ape.reverts():
        staller.claimFrom(game, sender=stranger)
    for account, contract in ((challenger, game), (challenger, market), (submitter, market), (solver, game)):
        contract.claim(sender=account)
    assert game.balance == game.credits(staller) == game.totalCredits() and game.totalBonds() == 0
    assert_ledgers(market, game, court)
