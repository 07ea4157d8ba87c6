"""The step router (contracts/StepRouter.sol) behind a real market and dispute game, with no referee registered: a
reproducible MLP job whose submitter registered its program, a solver that gets one operator of one step wrong, an
honest challenger; the bisection over steps ends at that step, the router opens an operator game, the game ends
at one float32 operation executed on chain, and the solver is slashed. Jobs without a program, and operators the
chain does not execute, still go to the court."""

import ape
import pytest
from dispute_helpers import (
    ADJUDICATING,
    ANSWER_WINDOW,
    CHALLENGE_BOND,
    CLOCK,
    EXIT_DELAY,
    PANEL_SIZE,
    REFEREE_BOND,
    SLASHED,
    Solver,
    bisect,
    open_challenges,
)
from eth_utils import keccak
from market_helpers import UNBONDING_DELAY, JobFactory, deploy_market
from test_operator_game import flip, play

from pinpoint.merkle import checkpoint_tree
from pinpoint.spec import example_mlp_spec
from worker.engine import operator_game as og
from worker.engine.optrace import trace_step
from worker.engine.training import Trainer

MOVE_TIMEOUT = 600
COUNT, INTERVAL = 2, 2  # checkpoints at steps 0, 2 and 4
CHEAT_STEP = 2  # the step the solver gets wrong: its state at step 3 is not the one step 2 leads to
TARGET = "backward.1.weight"


@pytest.fixture(scope="module")
def stack(project, owner):
    """A market of its own (a staking has one market) whose dispute game's step verifier is the router, and a
    court with no referee at all."""
    staking = owner.deploy(project.Staking, UNBONDING_DELAY)
    market = deploy_market(project, owner, staking)
    court = owner.deploy(project.RefereeCourt, REFEREE_BOND, ANSWER_WINDOW, EXIT_DELAY, PANEL_SIZE)
    router = owner.deploy(project.StepRouter, court, MOVE_TIMEOUT)
    game = owner.deploy(project.DisputeGame, market, router, CHALLENGE_BOND, CLOCK)
    market.setDisputeGame(game, sender=owner)
    court.setGame(router, sender=owner)
    router.setGame(game, sender=owner)
    return {"staking": staking, "market": market, "court": court, "router": router, "game": game,
            "operators": project.OperatorGame.at(router.operators())}


@pytest.fixture(scope="module")
def steps():
    """The honest parties' traces of steps 0..3 of a reproducible MLP job, and the cheat's of step CHEAT_STEP."""
    trainer = Trainer(example_mlp_spec(profile={"ops": "reproducible"}))
    honest, cheat = [], None
    for step in range(COUNT * INTERVAL):
        honest.append(og.Party(trace_step(trainer)))
        if step == CHEAT_STEP:
            cheat = og.Party(trace_step(trainer, tamper=flip(TARGET, 700)), sum_tree=og.lying_sum_tree)
        trainer.train_step()
    truth = [party.pre_hash for party in honest] + [honest[-1].post_hash]
    return honest, cheat, truth


def post_with_program(stack, jobs, submitter, program: og.Party, spec_hash: bytes) -> int:
    stack["router"].setProgram(spec_hash, program.program_tree.root, program.op_count, program.depth, sender=submitter)
    return jobs.post(checkpointCount=COUNT, checkpointInterval=INTERVAL, specHash=spec_hash)


def award_and_submit(stack, jobs, solver, job_id: int, claimed: list[bytes]):
    market = stack["market"]
    market.bid(job_id, 10**17, sender=solver)
    jobs.after(market.getJob(job_id).biddingDeadline)
    market.closeBidding(job_id, sender=jobs.submitter)
    tree = checkpoint_tree(job_id, [claimed[i * INTERVAL] for i in range(COUNT + 1)], INTERVAL)
    market.submitResult(job_id, tree.root, sender=solver)
    open_challenges(jobs.chain, market, job_id, jobs.submitter)
    return tree


def dispute_to_the_step(stack, job_id, tree, claimed, truth, solver, challenger) -> int:
    """Challenges checkpoint 2 (agreeing with checkpoint 1) and bisects to one step."""
    game = stack["game"]
    args = [job_id, 1, claimed[INTERVAL], tree.get_proof(1), claimed[2 * INTERVAL], tree.get_proof(2), truth[2 * INTERVAL]]
    dispute_id = game.challenge(*args, sender=challenger, value=CHALLENGE_BOND).return_value
    bisect(game, dispute_id, claimed, truth, solver, challenger)
    d = game.getDispute(dispute_id)
    game.serveState(dispute_id, Solver(solver, claimed, {}).serve(d.lo), sender=solver)
    assert game.getDispute(dispute_id).phase == ADJUDICATING
    return dispute_id


def test_a_cheating_solver_is_slashed_with_no_referee_registered(stack, chain, accounts, steps, solver, challenger):
    honest, cheat, truth = steps
    submitter = accounts[1]
    jobs = JobFactory(stack["market"], submitter, chain)
    stack["staking"].deposit(sender=solver, value=4 * 10**18)
    claimed = truth[:CHEAT_STEP + 1] + [cheat.post_hash] + [keccak(b"whatever follows")]
    job_id = post_with_program(stack, jobs, submitter, honest[0], keccak(b"spec one"))
    tree = award_and_submit(stack, jobs, solver, job_id, claimed)
    dispute_id = dispute_to_the_step(stack, job_id, tree, claimed, truth, solver, challenger)
    d = stack["game"].getDispute(dispute_id)
    assert (d.lo, d.hi) == (CHEAT_STEP, CHEAT_STEP + 1)
    assert stack["court"].requestCount() == 0  # nothing went to the court
    game_id = d.requestId
    a = stack["router"].adjudication(game_id)  # one slot: the rest is read from the dispute when it settles
    assert (a.disputeId, a.settled) == (dispute_id, False)
    with ape.reverts(stack["router"].NotSettleable):  # not before the operator game ends
        stack["router"].settle(game_id, sender=challenger)
    played = play(stack["operators"], game_id,
                                {"solver": (solver, cheat), "challenger": (challenger, honest[CHEAT_STEP])})
    assert played.outcome == og.CHALLENGER_WON and played.moves[-1][0] == "prove"
    with ape.reverts(stack["router"].NotSettleable):
        stack["router"].settle(game_id + 1, sender=challenger)
    stack["router"].settle(game_id, sender=accounts[4])  # anyone
    assert stack["router"].adjudication(game_id).settled
    assert stack["market"].getJob(job_id).state == SLASHED
    with ape.reverts(stack["router"].NotSettleable):  # once
        stack["router"].settle(game_id, sender=challenger)


def test_a_program_is_a_submitters_term_for_the_jobs_it_posts_after(stack, chain, accounts, steps, stranger):
    honest, _, _ = steps
    submitter = accounts[1]
    jobs = JobFactory(stack["market"], submitter, chain)
    router, spec_hash = stack["router"], keccak(b"spec three")
    root, count, depth = honest[0].program_tree.root, honest[0].op_count, honest[0].depth
    before = jobs.post(specHash=spec_hash)
    with ape.reverts(router.BadProgram):
        router.setProgram(spec_hash, root, count, 4, sender=submitter)  # more operators than 2^4 leaves
    router.setProgram(spec_hash, root, count, depth, sender=submitter)
    with ape.reverts(router.ProgramLocked):  # never changed
        router.setProgram(spec_hash, keccak(b"another"), count, depth, sender=submitter)
    after = jobs.post(specHash=spec_hash)
    assert router.programOf(before).root == bytes(32)  # posted before: its terms had no program
    assert router.programOf(after).root == root
    others = JobFactory(stack["market"], stranger, chain).post(specHash=spec_hash)
    assert router.programOf(others).root == bytes(32)  # another submitter's job of the same spec
    with ape.reverts(router.NotAllowed):
        router.requestStep(1, after, 0, bytes(32), bytes(32), submitter, stranger, sender=stranger)
    with ape.reverts(router.NotAllowed):
        router.stepVerified(1, bytes(32), sender=stranger)


def test_an_operator_the_chain_does_not_execute_goes_on_to_the_court(stack, chain, accounts, solver, challenger):
    trainer = Trainer(example_mlp_spec(profile={"ops": "reproducible"}))
    trainer.train_until(CHEAT_STEP)
    honest = og.Party(trace_step(trainer))
    cheat = og.Party(trace_step(trainer, tamper=flip("loss.exp", 2)))
    truth = [keccak(bytes([i])) for i in range(CHEAT_STEP)] + [honest.pre_hash, honest.post_hash, keccak(b"4")]
    claimed = truth[:CHEAT_STEP + 1] + [cheat.post_hash, keccak(b"the cheat's 4")]
    submitter = accounts[1]
    jobs = JobFactory(stack["market"], submitter, chain)
    stack["staking"].deposit(sender=solver, value=4 * 10**18)
    job_id = post_with_program(stack, jobs, submitter, honest, keccak(b"spec two"))
    tree = award_and_submit(stack, jobs, solver, job_id, claimed)
    dispute_id = dispute_to_the_step(stack, job_id, tree, claimed, truth, solver, challenger)
    game_id = stack["game"].getDispute(dispute_id).requestId
    played = play(stack["operators"], game_id, {"solver": (solver, cheat), "challenger": (challenger, honest)})
    assert played.outcome == og.UNJUDGED
    requests = stack["court"].requestCount()
    stack["router"].settle(game_id, sender=challenger)
    assert stack["court"].requestCount() == requests + 1
    request = stack["court"].getRequest(requests + 1)
    assert (request.disputeId, request.step, bytes(request.preStateHash)) == (dispute_id, CHEAT_STEP, honest.pre_hash)
    d = stack["game"].getDispute(dispute_id)  # the court gets the dispute's step, served state and parties
    assert (request.jobId, request.preStateArtifact) == (job_id, d.preStateArtifact)
    assert (request.solver, request.challenger) == (solver, challenger)
