"""The operator game's data (contracts/OperatorGame.sol, docs/PROTOCOL.md "Operator game"): the program's operator
descriptors as the contract hashes them, and the positional Merkle trees both parties descend, four levels a move.
No torch: the coordinator (which checks a job's program root) and the workers (which play) share it.

    program = MerkleTree([d.leaf() for d in descriptors])
    trace = MerkleTree(leaves)                       # leaf 0 the pre-state hash, the last the post-state hash
    trace.reveal(depth=0, index=0)                   # the 16 nodes four levels below the root
"""

from __future__ import annotations

from dataclasses import astuple, dataclass

from eth_abi import encode
from eth_utils import keccak

SPAN = 4
"""Levels one reveal descends (16 nodes), as OperatorGame.SPAN."""

KINDS = {"add": 1, "sub": 2, "mul": 3, "div": 4, "sqrt": 5, "relu": 6, "relu_grad": 7, "matmul": 8, "sum": 9,
         "increment": 10, "load": 11, "state": 12}
"""IOperatorGame.Kind of each operator the chain decides; every other operator is Unjudged (0)."""

OPERATOR_ABI = "(uint8,uint8,uint8,bool,uint32,uint32,uint32,uint32,uint32,uint32)"


@dataclass(frozen=True)
class Descriptor:
    """IOperatorGame.Operator: what one operator computes, in the field order the contract encodes."""

    kind: int = 0
    layout_a: int = 0
    layout_b: int = 0
    has_scalar: bool = False
    scalar: int = 0  # float32 bits
    input_a: int = 0
    input_b: int = 0
    rows: int = 1
    cols: int = 1
    inner: int = 0

    def as_tuple(self) -> tuple:
        return astuple(self)

    def leaf(self) -> bytes:
        """keccak256(abi.encode(operator)): the program's leaf."""
        return keccak(encode([OPERATOR_ABI], [self.as_tuple()]))


def depth_for(leaves: int) -> int:
    """ceil(log2(leaves)): the depth of a positional tree over that many leaves."""
    return max(0, (leaves - 1).bit_length())


def span(tree_depth: int, depth: int) -> int:
    """Levels the next reveal descends from `depth` (as OperatorGame._span)."""
    return min(SPAN, tree_depth - depth)


class MerkleTree:
    """A positional binary tree over `leaves` padded with zero leaves to 2^depth; node = keccak256(left || right)."""

    def __init__(self, leaves: list[bytes], depth: int | None = None) -> None:
        depth = depth_for(len(leaves)) if depth is None else depth
        if len(leaves) > 1 << depth:
            raise ValueError(f"{len(leaves)} leaves do not fit a tree of depth {depth}")
        level = list(leaves) + [bytes(32)] * ((1 << depth) - len(leaves))
        self.levels = [level]  # bottom up
        while len(level) > 1:
            level = [keccak(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
            self.levels.append(level)

    @property
    def depth(self) -> int:
        return len(self.levels) - 1

    @property
    def root(self) -> bytes:
        return self.levels[-1][0]

    def path(self, position: int) -> list[bytes]:
        """The siblings of leaf `position`, lowest first."""
        out = []
        for level in self.levels[:-1]:
            out.append(level[position ^ 1])
            position //= 2
        return out

    def reveal(self, depth: int, index: int) -> list[bytes]:
        return reveal(self.levels, depth, index)


def reveal(levels: list, depth: int, index: int) -> list:
    """The 2^span nodes `span` levels below node `index` at `depth` (from the top) of a tree given bottom up."""
    tree_depth = len(levels) - 1
    s = span(tree_depth, depth)
    return list(levels[tree_depth - depth - s][index << s:(index + 1) << s])


def float_node(bits: int) -> bytes:
    """A float32 (its bits) as a revealed sum-tree node: a bytes32 with the bits in its low 32."""
    return int(bits).to_bytes(32, "big")


def operand_indices(d: Descriptor, element: int, k: int = 0) -> tuple[int, int | None]:
    """Which element of each input the judged operation reads (as OperatorGame._execute): output `element`, and for
    a product or a sum its leaf `k`. None where the operator has no second tensor input."""
    row, col = divmod(element, d.cols)
    if d.kind == KINDS["matmul"]:
        a = row * d.inner + k if d.layout_a == 0 else k * d.rows + row
        b = k * d.cols + col if d.layout_b == 0 else col * d.inner + k
        return a, b
    if d.kind == KINDS["sum"]:
        return (k * d.rows * d.cols + element if d.layout_a == 0 else element * d.inner + k), None
    if d.kind == KINDS["increment"]:
        return 0, None  # the counter's word (its two halves are elements 0 and 1)
    broadcast = (element, row, col, 0)
    unary = d.kind in (KINDS["sqrt"], KINDS["relu"]) or d.has_scalar
    return broadcast[d.layout_a], None if unary else broadcast[d.layout_b]
