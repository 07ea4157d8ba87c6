"""The operator game (contracts/OperatorGame.sol) played on chain over real traced steps of a reproducible MLP job
(worker/engine/optrace.py, operator_game.py): a solver that gets one operator wrong loses to an honest challenger
with no referee, through the trace, its output's elements and that element's sum tree down to one float32 operation
executed on chain; a lying challenger loses to an honest solver; withholding loses by the clock; every move stays
under the gas the issue allows."""

import ape
import pytest
import torch
from eth_utils import keccak

from pinpoint.spec import example_mlp_spec
from worker.engine import operator_game as og
from worker.engine.optrace import trace_step
from worker.engine.training import Trainer

MOVE_TIMEOUT = 600
MAX_MOVE_GAS = 80_000  # issue 14: gas per bisection move


@pytest.fixture(scope="module")
def trainer():
    trainer = Trainer(example_mlp_spec(profile={"ops": "reproducible"}))
    trainer.train_until(1)
    return trainer


@pytest.fixture(scope="module")
def honest(trainer):
    return trace_step(trainer)


@pytest.fixture(scope="module")
def operators(project, owner):
    """An operator game whose opener is `owner` (the router's role)."""
    return owner.deploy(project.OperatorGame, owner, MOVE_TIMEOUT)


def party(trace, **kwargs) -> og.Party:
    return og.Party(trace, **kwargs)


def flip(target: str, element: int, bit: int = 31):
    """A party that gets one 32-bit word of operator `target`'s output wrong, and goes on from there."""
    def tamper(name, tensor):
        if name != target:
            return tensor
        flat = tensor.clone().reshape(-1)
        flat.view(torch.int32)[element] ^= 1 << bit
        return flat.reshape(tensor.shape)
    return tamper


def open_game(operators, owner, solver_party, solver, challenger) -> int:
    receipt = operators.open(solver, challenger, solver_party.program_tree.root, solver_party.op_count,
                        solver_party.depth, solver_party.pre_hash, solver_party.post_hash, sender=owner)
    return receipt.events[0].gameId


def play(operators, game_id, sides: dict, withhold: int | None = None) -> og.Played:
    accounts = {role: account for role, (account, _) in sides.items()}

    def send(role, move):
        receipt = getattr(operators, move.function)(game_id, *move.args, sender=accounts[role])
        events = {event.event_name: event for event in receipt.events}
        revealed = events.get("Revealed")
        disputed = events.get("OperatorDisputed")
        return (receipt.gas_used, revealed and [bytes(node) for node in revealed.nodes],
                disputed and disputed.leaf)

    return og.play(lambda: operators.game(game_id), send, {role: side for role, (_, side) in sides.items()}, withhold)


@pytest.mark.parametrize("target, element", [
    ("forward.0.relu", 1),                   # elementwise, one word in
    ("backward.1.weight", 700),              # a matrix product: its sum tree down to one product
    ("forward.1.matmul", 3),
    ("update.model.net.2.weight.sqrt", 9),   # the optimizer's update
    ("forward.1.bias", 130),                 # a broadcast operand (the bias per column)
    ("update.model.net.0.weight.step.corrected", 77),  # divided by a one-element tensor (the bias correction)
    ("update.model.net.4.bias.correction1", 0),        # 1 - beta1^t: the constant first
    ("cursor.next", 0),                      # the step counter, an int64 plus one
])
def test_a_solver_that_gets_one_operator_wrong_loses_with_no_referee(operators, owner, solver, challenger, trainer,
                                                                    honest, target, element):
    cheat = party(trace_step(trainer, tamper=flip(target, element)), sum_tree=og.lying_sum_tree)
    game_id = open_game(operators, owner, cheat, solver, challenger)
    played = play(operators, game_id, {"solver": (solver, cheat), "challenger": (challenger, party(honest))})
    assert played.outcome == og.CHALLENGER_WON
    assert honest.operators[played.leaf - 1].name == target
    assert played.moves[-1][0] == "prove"  # decided by the operation executed on chain, not by a clock
    if target in ("backward.1.weight", "forward.1.matmul"):  # the product's sum tree: every reveal accepted, then one product
        assert [name for name, _ in played.moves].count("reveal") >= 4
    assert max(gas for _, gas in played.moves) <= MAX_MOVE_GAS, played.moves


def test_a_challenger_that_lies_about_an_operator_loses_to_the_honest_solver(operators, owner, solver, challenger,
                                                                             trainer, honest):
    honest_side = party(honest)
    liar = party(trace_step(trainer, tamper=flip("backward.0.weight", 33)), sum_tree=og.lying_sum_tree)
    game_id = open_game(operators, owner, honest_side, solver, challenger)
    played = play(operators, game_id, {"solver": (solver, honest_side), "challenger": (challenger, liar)})
    assert played.outcome == og.SOLVER_WON
    assert played.moves[-1][0] == "prove"  # the honest product, executed on chain, matches torch's bit for bit


@pytest.mark.parametrize("liar", ["solver", "challenger"])
def test_a_load_is_decided_by_the_agreed_pre_state(operators, owner, solver, challenger, trainer, honest, liar, chain):
    """Loading other weights than the pre-state's: the liar is the one whose load is not the pre-state's entry."""
    wrong = party(trace_step(trainer, tamper=flip("model.net.2.weight", 3)))
    sides = {"solver": (solver, wrong if liar == "solver" else party(honest)),
             "challenger": (challenger, party(honest) if liar == "solver" else wrong)}
    game_id = open_game(operators, owner, sides["solver"][1], solver, challenger)
    if liar == "solver":  # its pre-state hash is the agreed one, its load is not: it cannot prove the load
        assert play(operators, game_id, sides, withhold=og.OPERATOR_REVEAL).outcome is None
        leaf = operators.game(game_id).index
        with ape.reverts(operators.WrongOperator):  # nor send it to the court as an operator the chain skips
            operators.revealOperator(game_id, wrong.program[leaf].as_tuple(), wrong.program_tree.path(leaf),
                                     bytes(32), sender=solver)
        chain.pending_timestamp += MOVE_TIMEOUT + 1
        operators.timeout(game_id, sender=challenger)
        assert operators.game(game_id).outcome == og.CHALLENGER_WON
    else:
        played = play(operators, game_id, sides)
        assert played.outcome == og.SOLVER_WON and played.moves[-1][0] == "proveLoad"


def test_a_post_state_that_is_not_the_traced_outputs_loses(operators, owner, solver, challenger, honest):
    """A solver whose every operator is right but whose claimed post-state holds other bytes for one entry."""
    truth = party(honest)
    k = honest.entries.index("model.net.0.bias")
    forged = list(truth.post_tree.levels[0][:len(honest.entries)])
    forged[k] = keccak(b"other weights")
    cheat = party(honest, post_leaves=forged)
    game_id = open_game(operators, owner, cheat, solver, challenger)
    played = play(operators, game_id, {"solver": (solver, cheat), "challenger": (challenger, truth)})
    assert played.outcome == og.CHALLENGER_WON
    assert played.moves[-1][0] == "proveEntry" and played.leaf == truth.op_count - 1
    assert max(gas for _, gas in played.moves) <= MAX_MOVE_GAS, played.moves


def test_an_operator_the_chain_does_not_execute_goes_to_the_referee(operators, owner, solver, challenger, trainer, honest):
    cheat = party(trace_step(trainer, tamper=flip("loss.exp", 2)))
    game_id = open_game(operators, owner, cheat, solver, challenger)
    played = play(operators, game_id, {"solver": (solver, cheat), "challenger": (challenger, party(honest))})
    assert played.outcome == og.UNJUDGED
    assert honest.operators[played.leaf - 1].name == "loss.exp"


def test_a_solver_that_withholds_its_trace_loses_by_the_clock(operators, owner, solver, challenger, trainer, honest,
                                                              chain):
    cheat = party(trace_step(trainer, tamper=flip("backward.0.weight", 5)), sum_tree=og.lying_sum_tree)
    game_id = open_game(operators, owner, cheat, solver, challenger)
    sides = {"solver": (solver, cheat), "challenger": (challenger, party(honest))}
    assert play(operators, game_id, sides, withhold=og.WORD_REVEAL).outcome is None
    with ape.reverts(operators.DeadlineNotPassed):
        operators.timeout(game_id, sender=challenger)
    chain.pending_timestamp += MOVE_TIMEOUT + 1
    operators.timeout(game_id, sender=challenger)
    assert operators.game(game_id).outcome == og.CHALLENGER_WON


def test_moves_that_do_not_follow_the_commitments_are_refused(operators, owner, solver, challenger, stranger, trainer,
                                                              honest):
    honest_side = party(honest)
    game_id = open_game(operators, owner, honest_side, solver, challenger)
    with ape.reverts(operators.NotOpener):
        operators.open(solver, challenger, bytes(32), 136, 8, bytes(32), bytes(32), sender=stranger)
    with ape.reverts(operators.NotYourTurn):
        operators.commitTrace(game_id, *honest_side.move(operators.game(game_id), "solver").args, sender=challenger)
    operators.commitTrace(game_id, *honest_side.move(operators.game(game_id), "solver").args, sender=solver)
    with ape.reverts(operators.NoDisagreement):  # a challenger that agrees with the solver's post-state
        operators.commitTrace(game_id, *honest_side.move(operators.game(game_id), "challenger").args, sender=challenger)
    liar = party(trace_step(trainer, tamper=flip("update.model.net.0.bias.param", 0)))
    operators.commitTrace(game_id, *liar.move(operators.game(game_id), "challenger").args, sender=challenger)
    nodes = honest_side.trace_tree.reveal(0, 0)
    with ape.reverts(operators.BadReveal):  # not the nodes under its committed root
        operators.revealTrace(game_id, nodes[::-1], sender=solver)
    operators.revealTrace(game_id, nodes, sender=solver)
    with ape.reverts(operators.BadReveal):  # the challenger must hand back exactly what the solver revealed
        operators.pickTrace(game_id, liar.trace_tree.reveal(0, 0), liar.trace_tree.reveal(0, 0), sender=challenger)
