"""Genesis disputes: the solver's initial state (leaf 0) is checked against the spec, not taken on trust.

No step leads to the initial state, so bisection cannot reach it: a solver that trains honestly from a state of
its own choosing (weights with a backdoor, say) would replay correctly in every interval. A challenger disputes
leaf 0 itself; the step verifier recomputes the initial state from the spec (step GENESIS_STEP) and the solver
wins iff that is its leaf.
"""

import ape
import pytest
from dispute_helpers import (
    ADJUDICATING,
    CHALLENGE_BOND,
    CHALLENGER_REWARD,
    DISPUTED,
    GENESIS,
    GENESIS_KEY,
    GENESIS_STEP,
    RESOLVED,
    SLASHED,
    adjudicate,
    assert_ledgers,
    submit_open,
    trajectory,
)
from market_helpers import MAX_PRICE, REQUIRED_STAKE, RUNNING, SUBMITTED, ZERO32, logs

TRUE_INITIAL = b"\x01" * 32
BACKDOORED = b"\xbd" * 32
HONEST = trajectory(TRUE_INITIAL, 32)
# Every step honest, from the wrong start: no interval replays differently.
FROM_BACKDOOR = trajectory(BACKDOORED, 32)


@pytest.fixture
def backdoored(jobs, market, game, staked, solver):
    return submit_open(jobs, market, solver, FROM_BACKDOOR, count=4, interval=8)


@pytest.fixture
def honest(jobs, market, game, staked, solver):
    return submit_open(jobs, market, solver, HONEST, count=4, interval=8)


def genesis_args(job, challenger_hash: bytes) -> list:
    solver_hash, proof = job.checkpoint(0)
    return [job.job_id, solver_hash, proof, challenger_hash]


def test_challengeGenesis_asksTheStepVerifierForTheInitialState(game, court, market, backdoored, challenger, solver):
    tx = game.challengeGenesis(*genesis_args(backdoored, TRUE_INITIAL), sender=challenger, value=CHALLENGE_BOND)
    dispute_id = tx.return_value
    d = game.getDispute(dispute_id)
    assert (d.kind, d.jobId, d.solver, d.challenger, d.phase) == (GENESIS, backdoored.job_id, solver, challenger, ADJUDICATING)
    assert (d.hiHash, d.challengerHash, game.bondOf(dispute_id), d.requestId) == (BACKDOORED, TRUE_INITIAL,
                                                                                 CHALLENGE_BOND, 1)
    request = court.getRequest(1)
    assert (request.disputeId, request.jobId, request.step) == (dispute_id, backdoored.job_id, GENESIS_STEP)
    assert (request.preStateHash, request.preStateArtifact) == (ZERO32, ZERO32)
    assert (request.solver, request.challenger) == (solver, challenger)
    assert market.getJob(backdoored.job_id).state == DISPUTED
    assert game.GENESIS_STEP() == GENESIS_STEP
    assert logs(tx, game.GenesisChallenged) == [
        game.GenesisChallenged(dispute_id, backdoored.job_id, challenger, BACKDOORED, TRUE_INITIAL, 1)]
    assert game.clocks(dispute_id) == (d.solverClock, d.challengerClock)  # nobody's clock runs


def test_backdooredStart_isSlashed(chain, game, court, market, staking, backdoored, challenger, solver, submitter, seated,
                                   stranger):
    dispute_id = game.challengeGenesis(*genesis_args(backdoored, TRUE_INITIAL), sender=challenger,
                                       value=CHALLENGE_BOND).return_value
    adjudicate(chain, court, seated, {GENESIS_KEY: TRUE_INITIAL}, game.getDispute(dispute_id).requestId, stranger)
    d = game.getDispute(dispute_id)
    assert (d.phase, d.solverWon) == (RESOLVED, False)
    assert market.getJob(backdoored.job_id).state == SLASHED
    assert game.decisiveDispute(backdoored.job_id) == dispute_id
    assert staking.lockedStake(solver) == 0
    assert market.credits(challenger) == CHALLENGER_REWARD
    assert market.credits(submitter) == MAX_PRICE + REQUIRED_STAKE - CHALLENGER_REWARD
    assert game.credits(challenger) == CHALLENGE_BOND
    assert_ledgers(market, game, court)


def test_honestStart_challengedFalsely_solverWinsTheBond(chain, game, court, market, staking, honest, challenger,
                                                        solver, seated, stranger):
    dispute_id = game.challengeGenesis(*genesis_args(honest, BACKDOORED), sender=challenger,
                                       value=CHALLENGE_BOND).return_value
    adjudicate(chain, court, seated, {GENESIS_KEY: TRUE_INITIAL}, game.getDispute(dispute_id).requestId, stranger)
    d = game.getDispute(dispute_id)
    assert (d.phase, d.solverWon) == (RESOLVED, True)
    assert market.getJob(honest.job_id).state == SUBMITTED
    assert staking.lockedStake(solver) == REQUIRED_STAKE
    assert game.credits(solver) == CHALLENGE_BOND and game.credits(challenger) == 0
    assert_ledgers(market, game, court)


@pytest.mark.parametrize("sent", [0, CHALLENGE_BOND - 1, CHALLENGE_BOND + 1])
def test_challengeGenesis_wrongBond_reverts(game, backdoored, challenger, sent):
    with ape.reverts(game.WrongBond, sent=sent, required=CHALLENGE_BOND):
        game.challengeGenesis(*genesis_args(backdoored, TRUE_INITIAL), sender=challenger, value=sent)


def test_challengeGenesis_bySolver_reverts(game, backdoored, solver):
    with ape.reverts(game.SolverCannotChallenge):
        game.challengeGenesis(*genesis_args(backdoored, TRUE_INITIAL), sender=solver, value=CHALLENGE_BOND)


def test_challengeGenesis_notTheSolversLeaf0_reverts(game, backdoored, challenger):
    _, proof = backdoored.checkpoint(0)
    with ape.reverts(game.BadGenesisProof):
        game.challengeGenesis(backdoored.job_id, TRUE_INITIAL, proof, BACKDOORED, sender=challenger,
                              value=CHALLENGE_BOND)
    leaf1, proof1 = backdoored.checkpoint(1)  # a real leaf, but not leaf 0
    with ape.reverts(game.BadGenesisProof):
        game.challengeGenesis(backdoored.job_id, leaf1, proof1, TRUE_INITIAL, sender=challenger, value=CHALLENGE_BOND)


def test_challengeGenesis_sameHash_reverts(game, backdoored, challenger):
    with ape.reverts(game.NoDisagreement):
        game.challengeGenesis(*genesis_args(backdoored, BACKDOORED), sender=challenger, value=CHALLENGE_BOND)


def test_challengeGenesis_runningJob_reverts(game, market, jobs, staked, solver, challenger):
    job_id = jobs.awarded(solver, checkpointCount=4, checkpointInterval=8)
    with ape.reverts(market.WrongJobState, expected=SUBMITTED, actual=RUNNING):
        game.challengeGenesis(job_id, BACKDOORED, [], TRUE_INITIAL, sender=challenger, value=CHALLENGE_BOND)
