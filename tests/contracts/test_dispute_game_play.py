"""Whole disputes: fuzzed games between honest and dishonest actors over the toy step function, timeouts,
and what a win or a loss does to stakes, bonds, credits and the job.

Invariants of every game, whichever side is dishonest:
- the honest side always wins;
- a game takes at most ceil(log16(interval)) bisection rounds (16-way: the solver reveals up to 15 points a
  round, the challenger picks the first segment whose end it disputes);
- a slashed solver's stake is split between the submitter (with the whole escrow) and the challenger, and the
  challenger gets its bond back; an honest solver gets the challenger's bond and its challenge window back;
- every contract's balance equals its ledger.
"""

import random

import pytest
from audit_helpers import approve, sampled
from dispute_helpers import (
    CHALLENGE_BOND,
    CHALLENGER_REWARD,
    CLOCK,
    REFEREE_BOND,
    RESOLVED,
    SLASHED,
    Challenger,
    Solver,
    adjudicate,
    artifact_id,
    assert_ledgers,
    bisect,
    max_rounds,
    play,
    submit_open,
    submit_proven,
    trajectory,
)
from market_helpers import FINALIZED, MAX_PRICE, PRICE, REQUIRED_STAKE, SUBMITTED, logs

COUNT = 3
# A dishonest solver (consistent with its own wrong trajectory, or answering arbitrarily) against an honest
# challenger, or an honest solver against a dishonest challenger (random, always disagreeing, always agreeing).
SCENARIOS = ["consistent cheater", "arbitrary cheater", "random", "disagree", "agree"]


def assert_settled(market, game, court, staking, job_id, dispute_id, solver, challenger, submitter, solver_won):
    d = game.getDispute(dispute_id)
    assert (d.phase, d.solverWon) == (RESOLVED, solver_won)
    assert market.getJob(job_id).openDisputes == (0 if solver_won else 1)
    assert game.decisiveDispute(job_id) == (0 if solver_won else dispute_id)
    job = market.getJob(job_id)
    if solver_won:
        assert job.state == SUBMITTED
        assert game.credits(solver) == CHALLENGE_BOND and game.credits(challenger) == 0
        assert staking.lockedStake(solver) == REQUIRED_STAKE
        assert market.credits(challenger) == 0
    else:
        assert job.state == SLASHED
        assert game.credits(challenger) == CHALLENGE_BOND and game.credits(solver) == 0
        assert staking.lockedStake(solver) == 0
        assert market.credits(challenger) == CHALLENGER_REWARD
        assert market.credits(submitter) == MAX_PRICE + REQUIRED_STAKE - CHALLENGER_REWARD
        assert market.totalEscrow() == 0
    assert_ledgers(market, game, court)


@pytest.mark.parametrize("seed", range(12))
def test_fuzzedGame_honestSideAlwaysWins(
    seed, chain, market, game, court, staking, jobs, staked, seated, solver, challenger, submitter, stranger
):
    rng = random.Random(seed)
    scenario = SCENARIOS[seed % len(SCENARIOS)]
    interval = rng.randint(8, 300)  # one to three 16-way rounds
    truth = trajectory(rng.randbytes(32), COUNT * interval)
    store = {}
    if "cheater" in scenario:
        deviate_at = rng.randint(1, COUNT * interval)  # the first wrong state
        claimed = trajectory(truth[0], COUNT * interval, deviate_at=deviate_at, wrong=rng.randbytes(32))
        index = (deviate_at - 1) // interval  # the last checkpoint that is still right
        challenger_hash = truth[(index + 1) * interval]
        arbitrary = scenario == "arbitrary cheater"
        the_solver = Solver(solver, claimed, store, rng if arbitrary else None, truth)
        the_challenger = Challenger(challenger, truth)
    else:
        claimed = truth
        index = rng.randrange(COUNT)
        challenger_hash = rng.randbytes(32)
        the_solver = Solver(solver, truth, store)
        the_challenger = Challenger(challenger, truth, scenario, rng)
    job = submit_open(jobs, market, solver, claimed, COUNT, interval)
    dispute_id = game.challenge(
        *job.challenge_args(index, challenger_hash), sender=challenger, value=CHALLENGE_BOND
    ).return_value

    rounds = play(chain, game, court, dispute_id, the_solver, the_challenger, seated, stranger)
    assert game.getDispute(dispute_id).requestId != 0  # every game here ends with the referee's verdict

    assert rounds <= max_rounds(interval) == game.maxRounds(interval)
    solver_honest = "cheater" not in scenario
    assert_settled(market, game, court, staking, job.job_id, dispute_id, solver, challenger, submitter, solver_honest)


# --- timeouts: no dispute can stall --------------------------------------------------------------------


@pytest.fixture
def cheat(jobs, market, game, staked, solver):
    """A job whose solver deviated at step 13 (checkpoints 8 steps apart), and the truth."""
    truth = trajectory(b"\x01" * 32, 32)
    claimed = trajectory(truth[0], 32, deviate_at=13, wrong=b"\xee" * 32)
    return submit_open(jobs, market, solver, claimed, 4, 8), truth


@pytest.fixture
def cheat_dispute(game, cheat, challenger):
    job, truth = cheat
    return game.challenge(*job.challenge_args(1, truth[16]), sender=challenger, value=CHALLENGE_BOND).return_value


def test_silentSolver_losesAndIsSlashed(chain, market, game, court, staking, cheat, cheat_dispute, solver, challenger,
                                        submitter, stranger):
    job, _ = cheat
    chain.pending_timestamp = game.getDispute(cheat_dispute).turnStart + CLOCK + 1
    tx = game.claimTimeout(cheat_dispute, sender=stranger)
    assert logs(tx, game.DisputeResolved) == [game.DisputeResolved(cheat_dispute, job.job_id, False)]
    assert logs(tx, market.SolverSlashed) == [market.SolverSlashed(job.job_id, solver, REQUIRED_STAKE)]
    assert logs(tx, market.DisputeSettled) == [market.DisputeSettled(job.job_id, False)]
    assert_settled(market, game, court, staking, job.job_id, cheat_dispute, solver, challenger, submitter, False)


def test_solverSilentAtServe_loses(chain, market, game, court, staking, cheat, cheat_dispute, solver, challenger,
                                   submitter, stranger):
    job, truth = cheat
    assert bisect(game, cheat_dispute, job.claimed, truth, solver, challenger) == 1  # 8 steps: one round
    d = game.getDispute(cheat_dispute)
    assert (d.lo, d.hi) == (12, 13)
    chain.pending_timestamp = d.turnStart + d.solverClock + 1
    game.claimTimeout(cheat_dispute, sender=stranger)
    assert_settled(market, game, court, staking, job.job_id, cheat_dispute, solver, challenger, submitter, False)


def test_silentChallenger_losesBond_andTheDeadlineNeverMoved(chain, jobs, market, game, court, audit, staking, staked,
                                                           registered, solver, challenger, submitter, stranger):
    truth = trajectory(b"\x02" * 32, 32)
    job = submit_proven(jobs, market, solver, truth, 4, 8)
    approve(jobs, audit, sampled(chain, market, job, stranger), registered[0])  # then challenges are open
    opened = game.challenge(*job.challenge_args(2, b"\x07" * 32), sender=challenger, value=CHALLENGE_BOND)
    dispute_id = opened.return_value
    deadline = market.getJob(job.job_id).challengeDeadline
    game.reveal(dispute_id, [truth[step] for step in game.points(dispute_id)], sender=solver)
    chain.pending_timestamp = game.getDispute(dispute_id).turnStart + CLOCK + 1
    tx = game.claimTimeout(dispute_id, sender=stranger)
    assert_settled(market, game, court, staking, job.job_id, dispute_id, solver, challenger, submitter, True)
    assert logs(tx, market.DisputeSettled) == [market.DisputeSettled(job.job_id, True)]

    # Nobody was kept out meanwhile (disputes run side by side), so the window stands as it was.
    assert market.getJob(job.job_id).challengeDeadline == deadline
    jobs.after(deadline)
    market.finalize(job.job_id, sender=stranger)
    assert market.getJob(job.job_id).state == FINALIZED
    assert market.credits(solver) == PRICE
    assert staking.lockedStake(solver) == 0
    assert_ledgers(market, game, court, audit)


def test_silentReferee_isSlashedToTheParties_gameEnds(chain, market, game, court, staking, cheat, cheat_dispute,
                                                    seated, solver, challenger, submitter, stranger):
    job, truth = cheat
    store = {}
    bisect(game, cheat_dispute, job.claimed, truth, solver, challenger)
    assert (game.getDispute(cheat_dispute).lo, game.getDispute(cheat_dispute).hi) == (12, 13)
    store[artifact_id(truth[12])] = truth[12]
    game.serveState(cheat_dispute, artifact_id(truth[12]), sender=solver)
    request_id = game.getDispute(cheat_dispute).requestId

    silent = seated[0]  # on the panel (three equal stakes: three sure seats), never commits
    adjudicate(chain, court, seated, store, request_id, stranger, answers={silent.address: None})
    assert_settled(market, game, court, staking, job.job_id, cheat_dispute, solver, challenger, submitter, False)
    tx = court.slash(request_id, silent, sender=stranger)
    assert logs(tx, court.RefereeSlashed) == [court.RefereeSlashed(request_id, silent, REFEREE_BOND)]
    # To the parties, never to the caller.
    assert (court.credits(stranger), court.credits(solver), court.credits(challenger)) == (
        0, REFEREE_BOND // 2, REFEREE_BOND - REFEREE_BOND // 2)
    assert (court.isReferee(silent), court.stakeOf(silent), court.refereeCount()) == (False, 0, 2)
    assert (court.totalBonds(), court.totalCredits()) == (2 * REFEREE_BOND, REFEREE_BOND)
