"""One reproducible step as its operators (worker/engine/optrace.py): the trace computes exactly the step the trainer
takes, and a solver that computes any one operator otherwise is narrowed, by bisection over the operators, one
element and that element's sum tree, to one float32 operation on agreed operands that the judge decides against it."""

import math

import numpy as np
import pytest
import torch

from pinpoint.spec import example_mlp_spec, parse_spec
from pinpoint.step_game import KINDS
from worker.engine.operator_game import Party
from worker.engine.optrace import (
    JUDGED_ON_CHAIN,
    descend,
    judge,
    pairwise_tree,
    pinpoint_operation,
    trace_step,
)
from worker.engine.training import Trainer

SGD = {"name": "sgd", "lr": 0.05, "momentum": 0.9}


def trainer_after(steps: int, optimizer: dict | None = None) -> Trainer:
    spec = example_mlp_spec(profile={"ops": "reproducible"})
    if optimizer:
        spec = parse_spec({**spec.model_dump(mode="json"), "optimizer": optimizer})
    trainer = Trainer(spec)
    trainer.train_until(steps)
    return trainer


def flip(target: str, element: int = 5):
    """A solver that gets one element of operator `target` wrong (its lowest bit) and goes on from there."""
    def tamper(name: str, tensor: torch.Tensor) -> torch.Tensor:
        if name != target:
            return tensor
        tensor = tensor.clone()
        tensor.view(torch.int32).view(-1)[element] ^= 1
        return tensor
    return tamper


@pytest.mark.parametrize("optimizer", [None, SGD])
def test_the_trace_is_the_step_the_trainer_takes(optimizer):
    trainer = trainer_after(2, optimizer)
    trace = trace_step(trainer)
    trainer.train_step()
    for name, parameter in trainer.model.named_parameters():
        assert torch.equal(trace.values[f"update.model.{name}.param"], parameter.detach()), name
    if optimizer is None:
        state = trainer.optimizer.state[next(trainer.model.parameters())]
        assert torch.equal(trace.values["update.model.net.0.weight.m"], state["exp_avg"])
        assert torch.equal(trace.values["update.model.net.0.weight.v"], state["exp_avg_sq"])
    assert trace_step(trainer).chain() == trace_step(trainer).chain()  # recomputed: the same commitments


@pytest.mark.parametrize("target", ["forward.1.matmul", "forward.0.relu", "forward.2.bias", "backward.0.weight",
                                    "backward.2.bias", "backward.2.relu", "loss.shift", "update.model.net.2.weight.m",
                                    "update.model.net.0.bias.sqrt", "update.model.net.2.weight.ratio",
                                    "update.model.net.4.bias.param"])
def test_a_wrong_operator_is_pinpointed_to_one_operation_the_judge_decides(target):
    trainer = trainer_after(1)
    honest, cheat = trace_step(trainer), trace_step(trainer, tamper=flip(target, element=1))
    operation = pinpoint_operation(honest, cheat)
    assert operation.operator == target
    assert operation.kind in JUDGED_ON_CHAIN
    truth = judge(operation)
    assert np.float32(truth).view(np.uint32) == np.float32(operation.claims[0]).view(np.uint32)
    assert np.float32(truth).view(np.uint32) != np.float32(operation.claims[1]).view(np.uint32)
    # bisection over the operators, naming the element, and at most the depth of one sum's tree
    assert operation.moves <= math.ceil(math.log2(len(honest.operators))) + 1 + 6  # 134 operators, sums of <= 64


def test_a_liar_inside_a_sum_is_walked_down_to_one_product_or_one_addition():
    rng = np.random.default_rng(0)
    left, right = rng.standard_normal(100).astype(np.float32), rng.standard_normal(100).astype(np.float32)
    tree = pairwise_tree(left * right)
    lied_leaf = pairwise_tree(np.where(np.arange(100) == 37, np.float32(1.5), left * right).astype(np.float32))
    level, index, moves = descend(tree, lied_leaf)
    assert (level, index, moves) == (0, 37, len(tree) - 1)  # a product: judged as left[37] * right[37]
    lied_node = [level.copy() for level in tree]
    lied_node[3][5] += np.float32(1.0)  # one partial sum wrong, its children true, and the sums above follow it
    for up in range(4, len(tree)):
        lied_node[up] = (lied_node[up - 1][0::2] + lied_node[up - 1][1::2]).astype(np.float32)
    level, index, moves = descend(tree, lied_node)
    assert (level, index) == (3, 5)  # an addition of two children both accept


@pytest.mark.parametrize("optimizer", [None, SGD])
def test_the_trace_opens_the_state_hashes_the_trainer_commits(optimizer):
    """The operator game's leaf 0 and last leaf are the trainer's own state hashes before and after the step: the
    trace loads every entry of the pre-state, and every entry of the post-state is one of its operators' outputs
    (the program's layout), so the game's state entries are provable on chain."""
    trainer = trainer_after(2, optimizer)
    before = trainer.snapshot().state_hash
    party = Party(trace_step(trainer))
    trainer.train_step()
    assert (party.pre_hash, party.post_hash) == (before, trainer.snapshot().state_hash)
    assert Party(trace_step(trainer)).pre_hash == party.post_hash  # the next step starts where this one ended
    loads = [d for d in party.program if d.kind == KINDS["load"]]
    assert len(loads) == len(party.trace.entries)  # every entry loaded; only the batch is the referee's
    assert set(party.layout) <= set(range(1, party.op_count - 1))


def test_the_program_is_the_same_at_every_step():
    """A job's program root does not depend on the step (the bias corrections come from state, not constants)."""
    trainer = trainer_after(1)
    first = Party(trace_step(trainer)).program_tree.root
    trainer.train_until(3)
    assert Party(trace_step(trainer)).program_tree.root == first
