"""OpenZeppelin StandardMerkleTree (`@openzeppelin/merkle-tree` v1) in Python, and the checkpoint tree.

The format is the one OZ `MerkleProof.verify` accepts on chain:
- leaf hash = keccak256(keccak256(abi.encode(types, value)))  (double hash: no second-preimage via nodes);
- the leaf hashes are sorted ascending and placed at the END of a flat array `tree` of 2n-1 nodes
  (leaf k of the sorted list at tree[len-1-k]); node i = keccak256(sort(tree[2i+1], tree[2i+2]));
- root = tree[0]; a proof is the sibling path from the leaf to the root.

    tree = checkpoint_tree(job_id, state_hashes, checkpoint_interval)
    tree.root, tree.get_proof(3)
    StandardMerkleTree.verify(tree.root, CHECKPOINT_LEAF_TYPES, tree.values[3], tree.get_proof(3))

Roots, hashes and proofs are "0x"-prefixed lowercase hex strings. Tested against the JS reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_abi import encode
from eth_abi.exceptions import EncodingError
from eth_utils import keccak

CHECKPOINT_LEAF_TYPES = ["uint256", "uint256", "uint256", "bytes32"]
"""Checkpoint leaf: (job id, checkpoint index, step, state hash)."""


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def _bytes32(node: str | bytes) -> bytes:
    b = bytes.fromhex(node[2:] if node.startswith("0x") else node) if isinstance(node, str) else bytes(node)
    if len(b) != 32:
        raise ValueError(f"Merkle nodes are 32 bytes, got {len(b)}")
    return b


def _normalize(types: Sequence[str], value: Sequence[Any]) -> list[Any]:
    """Accept '0x' hex strings for fixed-size bytes values (eth_abi wants bytes)."""
    if len(types) != len(value):
        raise ValueError(f"leaf has {len(value)} values for {len(types)} types")
    out = []
    for t, v in zip(types, value):
        if t.startswith("bytes") and t != "bytes" and isinstance(v, str):
            v = bytes.fromhex(v.removeprefix("0x"))
        out.append(v)
    return out


def standard_leaf_hash(types: Sequence[str], value: Sequence[Any]) -> bytes:
    """keccak256(keccak256(abi.encode(types, value)))."""
    return keccak(keccak(encode(list(types), _normalize(types, value))))


def standard_node_hash(a: bytes, b: bytes) -> bytes:
    """keccak256 of the two children, smaller first (what OZ `MerkleProof` computes)."""
    return keccak(a + b if a <= b else b + a)


def process_proof(leaf: bytes, proof: Sequence[str | bytes]) -> bytes:
    """The root implied by a leaf hash and its proof."""
    node = leaf
    for sibling in proof:
        node = standard_node_hash(node, _bytes32(sibling))
    return node


class StandardMerkleTree:
    """A Merkle tree over ABI-encoded values, byte-compatible with OZ's `StandardMerkleTree`."""

    def __init__(self, values: Sequence[Sequence[Any]], leaf_encoding: Sequence[str]):
        """Build the tree over `values` (each a tuple matching `leaf_encoding`, e.g. ["uint256", "bytes32"])."""
        if not values:
            raise ValueError("Expected non-zero number of leaves")
        self.leaf_encoding = list(leaf_encoding)
        self.values = [tuple(v) for v in values]
        self._build([standard_leaf_hash(self.leaf_encoding, v) for v in self.values])

    @classmethod
    def from_leaf_hashes(cls, leaf_hashes: Sequence[str | bytes], leaf_encoding: Sequence[str]) -> StandardMerkleTree:
        """The same tree when only the leaf hashes are known (the values behind them stay hidden): root,
        leaf hashes and proofs work; `values` are None."""
        if not leaf_hashes:
            raise ValueError("Expected non-zero number of leaves")
        tree = cls.__new__(cls)
        tree.leaf_encoding = list(leaf_encoding)
        tree.values = [None] * len(leaf_hashes)
        tree._build([_bytes32(h) for h in leaf_hashes])
        return tree

    def _build(self, leaf_hashes: list[bytes]) -> None:
        hashed = sorted(((leaf, i) for i, leaf in enumerate(leaf_hashes)), key=lambda hv: hv[0])
        n = len(hashed)
        tree: list[bytes] = [b""] * (2 * n - 1)
        self._tree_index = [0] * n
        for k, (leaf, value_index) in enumerate(hashed):
            tree[len(tree) - 1 - k] = leaf
            self._tree_index[value_index] = len(tree) - 1 - k
        for i in range(len(tree) - 1 - n, -1, -1):
            tree[i] = standard_node_hash(tree[2 * i + 1], tree[2 * i + 2])
        self._tree = tree

    @classmethod
    def of(cls, values: Sequence[Sequence[Any]], leaf_encoding: Sequence[str]) -> StandardMerkleTree:
        """Same as the constructor; mirrors the JS `StandardMerkleTree.of(values, leafEncoding)`."""
        return cls(values, leaf_encoding)

    @property
    def root(self) -> str:
        """The root as '0x' hex."""
        return _hex(self._tree[0])

    @property
    def tree(self) -> list[str]:
        """The flat node array as '0x' hex, as in OZ's `dump().tree`."""
        return [_hex(n) for n in self._tree]

    def __len__(self) -> int:
        return len(self.values)

    def leaf_hash(self, index: int) -> str:
        """Hash of the leaf for `values[index]`."""
        return _hex(self._tree[self._tree_index[index]])

    def get_proof(self, index: int) -> list[str]:
        """Sibling path for `values[index]` (index into the ORIGINAL values list, not the sorted leaves)."""
        if not 0 <= index < len(self.values):
            raise IndexError(f"index {index} out of range for {len(self.values)} leaves")
        i = self._tree_index[index]
        proof = []
        while i > 0:
            sibling = i - 1 if i % 2 == 0 else i + 1
            proof.append(_hex(self._tree[sibling]))
            i = (i - 1) // 2
        return proof

    @staticmethod
    def verify(root: str | bytes, leaf_encoding: Sequence[str], value: Sequence[Any],
               proof: Sequence[str | bytes]) -> bool:
        """True when `value` (encoded as `leaf_encoding`) is proven by `proof` against `root`."""
        try:
            leaf = standard_leaf_hash(leaf_encoding, value)
            return process_proof(leaf, proof) == _bytes32(root)
        except (ValueError, TypeError, OverflowError, EncodingError):
            return False


def checkpoint_leaf(job_id: int, index: int, step: int, state_hash: bytes | str) -> tuple[int, int, int, bytes]:
    """The checkpoint leaf value (job id, checkpoint index, step, state hash)."""
    return (job_id, index, step, _bytes32(state_hash))


def checkpoint_leaf_hash(job_id: int, index: int, step: int, state_hash: bytes | str) -> str:
    """The hash of a checkpoint leaf (Market.checkpointLeaf), '0x' hex."""
    return _hex(standard_leaf_hash(CHECKPOINT_LEAF_TYPES, checkpoint_leaf(job_id, index, step, state_hash)))


def checkpoint_tree(job_id: int, state_hashes: Sequence[bytes | str], checkpoint_interval: int) -> StandardMerkleTree:
    """Tree over checkpoints 0..len(state_hashes)-1: leaf i = (job_id, i, i*checkpoint_interval, state_hashes[i]).

    Leaf 0 is the initial state, so a finished job with checkpoint_count n has n+1 leaves; a progress root
    is the same tree over a prefix of the state hashes.
    """
    if checkpoint_interval < 1:
        raise ValueError("checkpoint_interval must be >= 1")
    leaves = [checkpoint_leaf(job_id, i, i * checkpoint_interval, h) for i, h in enumerate(state_hashes)]
    return StandardMerkleTree(leaves, CHECKPOINT_LEAF_TYPES)


def _fast_keccak():
    """keccak256 without eth_utils' per-call dispatch (about 10x faster on 64 bytes), same digests."""
    try:
        from sha3 import keccak_256  # safe-pysha3, installed with eth-hash's backends
    except ImportError:  # pragma: no cover - fall back to the generic path
        return keccak
    return lambda data: keccak_256(data).digest()


def checkpoint_root(job_id: int, state_hashes: Sequence[bytes | str], checkpoint_interval: int,
                    leaf_cache: list[bytes] | None = None) -> str:
    """`checkpoint_tree(job_id, state_hashes, checkpoint_interval).root`, computed without building the tree.

    Leaves are encoded directly (abi.encode of (uint256, uint256, uint256, bytes32) is four 32-byte words)
    and, when the caller passes the same `leaf_cache` list on every call while appending state hashes (as a
    worker does at each checkpoint), only the new leaves are hashed; the cache must belong to this
    (job_id, checkpoint_interval) and a prefix of these state hashes. The nodes above the leaves are
    recomputed each call (n - 1 keccaks of 64 bytes), since sorting the leaves moves them around.
    """
    if checkpoint_interval < 1:
        raise ValueError("checkpoint_interval must be >= 1")
    if not state_hashes:
        raise ValueError("Expected non-zero number of leaves")
    kec = _KECCAK
    leaves = leaf_cache if leaf_cache is not None else []
    if len(leaves) > len(state_hashes):
        raise ValueError("leaf_cache holds more leaves than there are state hashes")
    for i in range(len(leaves), len(state_hashes)):
        if job_id < 0 or i * checkpoint_interval >= 2**256:
            raise ValueError("leaf values out of uint256 range")
        encoded = (job_id.to_bytes(32, "big") + i.to_bytes(32, "big") + (i * checkpoint_interval).to_bytes(32, "big")
                   + _bytes32(state_hashes[i]))
        leaves.append(kec(kec(encoded)))
    n = len(state_hashes)
    tree: list[bytes] = [b""] * (n - 1) + sorted(leaves[:n], reverse=True)  # sorted leaf k at tree[len-1-k]
    for i in range(n - 2, -1, -1):
        a, b = tree[2 * i + 1], tree[2 * i + 2]
        tree[i] = kec(a + b if a <= b else b + a)
    return _hex(tree[0])


_KECCAK = _fast_keccak()
