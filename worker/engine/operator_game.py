"""One party's moves in the on-chain operator game (contracts/OperatorGame.sol) over a traced step (optrace.py).

The game's trace has leaf 0 the agreed pre-state hash, leaves 1..n the element roots of the step's n operators and
leaf n+1 the post-state hash (both tree hashes of the state's entries, worker/engine/state.py); its program has each
operator's descriptor (pinpoint/step_game.py) at the same leaf, then the layout: for each entry of the state, the leaf
whose output is its value after the step. The program is the same at every step of a job. `Party.move(state, ...)`
answers whatever the game asks of this party: the solver reveals what it committed to and proves what it claims,
the challenger picks the first revealed node that differs from its own computation.

    move = party.move(game_state, role="solver", leaf=leaf, revealed=last_reveal)
    getattr(contract, move.function)(game_id, *move.args, sender=account)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from eth_utils import keccak

from pinpoint.step_game import (
    KINDS,
    Descriptor,
    MerkleTree,
    depth_for,
    float_node,
    operand_indices,
    reveal,
)
from pinpoint.tensor_merkle import element_proof, element_root, element_tree, words
from worker.engine.optrace import StepTrace, element_leaves, flat_values, pairwise_tree
from worker.engine.state import entry_header

# IOperatorGame.Phase
(NONE, SOLVER_COMMIT, CHALLENGER_COMMIT, TRACE_REVEAL, TRACE_PICK, OPERATOR_REVEAL, ELEMENT_REVEAL, ELEMENT_PICK,
 WORD_REVEAL, WORD_PICK, SUM_REVEAL, SUM_PICK, PROVE, PROVE_SECOND, ENTRY_PROVE, RESOLVED) = range(16)
SOLVER_PHASES = {SOLVER_COMMIT, TRACE_REVEAL, OPERATOR_REVEAL, ELEMENT_REVEAL, WORD_REVEAL, SUM_REVEAL, PROVE,
                 PROVE_SECOND, ENTRY_PROVE}
# IOperatorGame.Outcome
SOLVER_WON, CHALLENGER_WON, UNJUDGED = 1, 2, 3

_LAYOUT = {"same": 0, "row": 1, "col": 2, "all": 3, "N": 0, "T": 1, "0": 0, "1": 1}


@dataclass(frozen=True)
class Move:
    function: str  # the OperatorGame function to call, after the game id
    args: tuple


def program(trace: StepTrace) -> tuple[list[Descriptor], list[int]]:
    """The step's program: a descriptor per leaf (the pre-state, the operators, the post-state) and its layout, the
    leaf whose output is each state entry's value after the step (program leaves past the descriptors)."""
    leaf_of = {operator.name: j + 1 for j, operator in enumerate(trace.operators)}
    entry_of = {name: k for k, name in enumerate(trace.entries)}
    entries = len(trace.entries)
    out = [Descriptor()]
    for operator in trace.operators:
        shape, count = tuple(operator.output.shape), flat_values(operator.output).size
        rows, cols = shape if len(shape) == 2 and operator.output.dtype == torch.float32 else (1, count)
        inputs = [leaf_of[name] for name in operator.inputs] + [0, 0]
        layout = [_LAYOUT[x] for x in operator.layout] + [0, 0]
        if operator.kind == "load":
            loaded = operator.name in entry_of  # the batch is loaded from the dataset: the referee's
            out.append(Descriptor(KINDS["load"], input_a=entry_of[operator.name], inner=entries) if loaded
                       else Descriptor())
            continue
        kind = KINDS.get(operator.kind, KINDS["sub"] if operator.kind == "rsub" else 0)
        if operator.kind == "rsub":
            layout[1] = 1  # the constant is the first operand
        inner = 0
        if operator.kind == "matmul":
            a = trace.values[operator.inputs[0]]
            inner = a.shape[1] if operator.layout[0] == "N" else a.shape[0]
        elif operator.kind == "sum":
            inner = trace.values[operator.inputs[0]].shape[int(operator.layout[0])]
        scalar = 0 if operator.constant is None else int(np.float32(operator.constant).view(np.uint32))
        out.append(Descriptor(kind, layout[0], layout[1], operator.constant is not None, scalar, inputs[0], inputs[1],
                              rows, cols, inner))
    out.append(Descriptor(KINDS["state"], inner=entries))
    return out, [leaf_of[trace.post[name]] for name in trace.entries]


def honest_sum_tree(trace: StepTrace, leaf: int, element: int) -> list[np.ndarray]:
    """The pairwise tree (bottom up) of one output element of a product or a sum, as repops computes it."""
    left, right = element_leaves(trace, trace.operators[leaf - 1], element)
    return pairwise_tree((left * right).astype(np.float32))


def lying_sum_tree(trace: StepTrace, leaf: int, element: int) -> list[np.ndarray]:
    """A cheat's sum tree (tests and benchmarks): where its claimed element is not what its true tree adds up to,
    a tree that does, the claim in the first leaf and zeros elsewhere. The chain accepts every reveal of it; the
    challenger walks it down to a product that refutes it."""
    tree = honest_sum_tree(trace, leaf, element)
    claimed = flat_values(trace.operators[leaf - 1].output)[element]
    if tree[-1][0].view(np.uint32) == claimed.view(np.uint32):
        return tree
    leaves = np.zeros(len(tree[0]), np.float32)
    leaves[0] = claimed
    return pairwise_tree(leaves)


class Party:
    """A solver's or challenger's side of the game over its `trace` of one step. The pre- and post-state hashes
    follow from the trace (its loads and the outputs the layout names; worker/engine/state.py's tree hash), unless
    `post_leaves` (tests: a solver that lies about the post-state only) replaces the post-state's entry leaves.
    `sum_tree(trace, leaf, element)` is what it reveals inside a sum (tests: a liar's; default the true tree)."""

    def __init__(self, trace: StepTrace, post_leaves: list[bytes] | None = None,
                 sum_tree: Callable[[StepTrace, int, int], list[np.ndarray]] = honest_sum_tree) -> None:
        self.trace, self.sum_tree = trace, sum_tree
        self.program, self.layout = program(trace)
        roots = [operator.root for operator in trace.operators]
        self.headers = [entry_header(name, trace.values[name]) for name in trace.entries]
        self.pre_tree = MerkleTree([keccak(h + trace.pre_roots[name]) for h, name in zip(self.headers, trace.entries)])
        self.post_tree = MerkleTree(post_leaves or [keccak(h + roots[self.layout[k] - 1])
                                                    for k, h in enumerate(self.headers)])
        self.leaves = [self.pre_tree.root] + roots + [self.post_tree.root]
        self.depth = depth_for(len(self.leaves) + len(self.layout))
        self.program_tree = MerkleTree([d.leaf() for d in self.program] + [_word(j) for j in self.layout], self.depth)
        self.trace_tree = MerkleTree(self.leaves, self.depth)
        self._element_trees: dict[int, list[list[bytes]]] = {len(self.leaves) - 1: self.post_tree.levels}

    @property
    def op_count(self) -> int:
        return len(self.leaves)

    @property
    def pre_hash(self) -> bytes:
        return self.leaves[0]

    @property
    def post_hash(self) -> bytes:
        return self.leaves[-1]

    def values(self, leaf: int) -> np.ndarray:
        return flat_values(self.trace.operators[leaf - 1].output)

    def element_tree(self, leaf: int) -> list[list[bytes]]:
        """Leaf's element tree, bottom up (the post-state's leaf: the tree of its entries)."""
        if leaf not in self._element_trees:
            self._element_trees[leaf] = element_tree(self.values(leaf))
        return self._element_trees[leaf]

    def move(self, state, role: str, leaf: int | None = None, revealed: list | None = None) -> Move | None:
        """This party's move in the game `state` (IOperatorGame.Game), or None if it is not its turn.
        `leaf`: the disputed operator (OperatorDisputed), once known; `revealed`: the solver's last reveal."""
        phase, depth, index = state.phase, state.depth, state.index
        if phase == RESOLVED or (phase in SOLVER_PHASES) != (role == "solver"):
            return None
        if phase in (SOLVER_COMMIT, CHALLENGER_COMMIT):
            last = len(self.leaves) - 1
            return Move("commitTrace", (self.trace_tree.root, self.trace_tree.path(0), self.leaves[last],
                                        self.trace_tree.path(last)))
        if phase == TRACE_REVEAL:
            return Move("revealTrace", (self.trace_tree.reveal(depth, index),))
        if phase == TRACE_PICK:
            return Move("pickTrace", (revealed, self.trace_tree.reveal(depth, index)))
        if phase == OPERATOR_REVEAL:
            descriptor, path = self.program[index].as_tuple(), self.program_tree.path(index)
            if self.program[index].kind == KINDS["load"]:
                k = self.program[index].input_a
                return Move("proveLoad", (descriptor, path, self.headers[k], self.pre_tree.path(k)))
            return Move("revealOperator", (descriptor, path, self.element_tree(index)[-1][0]))
        if phase == ENTRY_PROVE:
            source = self.layout[index]
            name = self.trace.entries[index]
            return Move("proveEntry", ((source, self.program_tree.path(self.op_count + index), self.headers[index],
                                        self.trace.pre_roots[name], self.pre_tree.path(index), self.leaves[source],
                                        self.trace_tree.path(source)),))
        if phase == ELEMENT_REVEAL:
            return Move("reveal", (reveal(self.element_tree(leaf), depth, index),))
        if phase == ELEMENT_PICK:
            mine = reveal(self.element_tree(leaf), depth, index)
            return Move("pick", (revealed, _first_difference(revealed, mine)))
        if phase == WORD_REVEAL:
            return Move("reveal", ([words(self.values(leaf))[index]],))
        if phase == WORD_PICK:
            theirs = np.frombuffer(revealed[0], "<f4")
            mine = np.frombuffer(words(self.values(leaf))[index], "<f4")
            return Move("pick", (revealed, _first_float_difference(theirs, mine)))
        if phase in (PROVE, PROVE_SECOND):
            operand = self.operands(leaf, state.element, index)[phase == PROVE_SECOND]
            return Move("prove", (self.program[leaf].as_tuple(), operand))
        levels = [level.view(np.uint32) for level in self.sum_tree(self.trace, leaf, state.element)]
        if phase == SUM_REVEAL:
            return Move("reveal", ([float_node(bits) for bits in reveal(levels, depth, index)],))
        theirs = np.array([int.from_bytes(node, "big") for node in revealed], np.uint32).view(np.float32)
        mine = np.array(reveal(levels, depth, index), np.uint32).view(np.float32)
        return Move("pick", (revealed, _first_float_difference(theirs, mine)))

    def operands(self, leaf: int, element: int, k: int) -> list[tuple]:
        """The judged operation's tensor operands, each proven against the trace and its tensor
        (IOperatorGame.Operand)."""
        descriptor = self.program[leaf]
        out = []
        for input_leaf, at in zip((descriptor.input_a, descriptor.input_b), operand_indices(descriptor, element, k)):
            if at is None:
                continue
            values = self.values(input_leaf)
            word, path = element_proof(values, at)
            out.append((self.leaves[input_leaf], self.trace_tree.path(input_leaf), values.size, word, path))
        return out


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _first_difference(theirs: list[bytes], mine: list[bytes]) -> int:
    return next(i for i, (a, b) in enumerate(zip(theirs, mine, strict=True)) if a != b)


def _first_float_difference(theirs: np.ndarray, mine: np.ndarray) -> int:
    """The first float that is not the same value (NaNs are one value, as Float32.same)."""
    for i, (a, b) in enumerate(zip(theirs, mine, strict=True)):
        if not (a.view(np.uint32) == b.view(np.uint32) or (np.isnan(a) and np.isnan(b))):
            return i
    raise ValueError("nothing revealed differs from this party's computation")


@dataclass
class Played:
    outcome: int | None  # IOperatorGame.Outcome; None if the solver withheld
    moves: list[tuple[str, int]]  # (function, gas) in order
    leaf: int | None  # the disputed operator's leaf


def play(read_state: Callable[[], object], send: Callable[[str, Move], tuple[int, list | None, int | None]],
         sides: dict[str, Party], withhold: int | None = None, max_moves: int = 128) -> Played:
    """Both sides (role -> Party) move until the game resolves, or until the solver withholds at phase `withhold`.
    `read_state()` returns IOperatorGame.Game; `send(role, move)` submits the move and returns (gas used, the nodes
    of a Revealed event or None, the leaf of an OperatorDisputed event or None)."""
    leaf, revealed, moves = None, None, []
    for _ in range(max_moves):
        state = read_state()
        if state.phase == RESOLVED or state.phase == withhold:
            return Played(state.outcome if state.phase == RESOLVED else None, moves, leaf)
        role, move = next((role, m) for role, side in sides.items()
                          if (m := side.move(state, role, leaf=leaf, revealed=revealed)) is not None)
        gas, nodes, disputed = send(role, move)
        moves.append((move.function, gas))
        revealed = nodes if nodes is not None else revealed
        leaf = disputed if disputed is not None else leaf
    raise RuntimeError(f"the game did not end within {max_moves} moves")


def entry_leaves(tensors: dict[str, torch.Tensor]) -> list[bytes]:
    """A tree-hashed state's entry leaves in name order (worker/engine/state.py): its post-state as a party claims
    it, whatever trace it can show for it."""
    return [keccak(entry_header(name, t) + element_root(flat_values(t))) for name, t in sorted(tensors.items())]


def spec_program(spec) -> tuple[bytes, int, int] | None:
    """(root, operator count, depth) of the program every step of `spec` runs (the same at every step), or None
    for a spec the operator game does not cover (not an MLP job on the reproducible profile)."""
    from pinpoint.spec import JobSpec, MLPSpec
    from worker.engine.optrace import trace_step
    from worker.engine.training import Trainer

    if not isinstance(spec, JobSpec) or not isinstance(spec.model, MLPSpec) or spec.profile.ops != "reproducible":
        return None
    key = spec.spec_hash()
    if key not in _PROGRAMS:
        party = Party(trace_step(Trainer(spec)))
        _PROGRAMS[key] = (party.program_tree.root, party.op_count, party.depth)
    return _PROGRAMS[key]


_PROGRAMS: dict[str, tuple[bytes, int, int]] = {}  # spec hash -> its program: one traced step each
