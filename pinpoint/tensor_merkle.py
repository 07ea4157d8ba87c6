"""Element commitments of float32 tensors: a Merkle root from which one element can be proven on chain
(contracts/lib/TensorProof.sol), for the on-chain judge of one operation (docs/PROTOCOL.md, "Reproducible profile").

Layout: the n elements, little-endian, zero-padded to whole 32-byte words (8 elements a word); leaf = keccak256(word);
the leaves, padded with bytes32(0) to a power of two, form a positional binary tree, node = keccak256(left || right);
root = keccak256(uint256 n || tree root), so the count is bound and padding is never an element. A proof of element
i is its word (index i // 8) and the sibling path, lowest first. No torch: the coordinator and the workers share it.

    root = element_root(values)                       # values: float32 numpy array (any shape, row-major)
    word, path = element_proof(values, 5)
    element_at(root, values.size, 5, word, path)      # -> the element's 32 bits, or raises ProofInvalid
"""

from __future__ import annotations

import numpy as np
from eth_utils import keccak

ELEMENTS_PER_WORD = 8
ZERO = bytes(32)


class ProofInvalid(ValueError):
    """An element proof that does not lead to the root it claims."""


def words(values: np.ndarray) -> list[bytes]:
    flat = np.ascontiguousarray(values, dtype="<f4").reshape(-1)
    raw = flat.tobytes() + bytes(-flat.nbytes % 32)
    return [raw[i:i + 32] for i in range(0, len(raw), 32)] or [ZERO]


def element_tree(values: np.ndarray) -> list[list[bytes]]:
    """The tree bottom up: level 0 the padded leaves, the last level the tree root alone."""
    leaves = [keccak(word) for word in words(values)]
    width = 1 << (len(leaves) - 1).bit_length()
    level = leaves + [ZERO] * (width - len(leaves))
    levels = [level]
    while len(level) > 1:
        level = [keccak(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
        levels.append(level)
    return levels


def _bind(count: int, tree_root: bytes) -> bytes:
    return keccak(count.to_bytes(32, "big") + tree_root)


def element_root(values: np.ndarray) -> bytes:
    """The commitment of a float32 tensor's elements (32 bytes)."""
    return _bind(int(values.size), element_tree(values)[-1][0])


def element_proof(values: np.ndarray, index: int) -> tuple[bytes, list[bytes]]:
    """(the 32-byte word holding element `index`, its sibling path lowest first)."""
    if not 0 <= index < values.size:
        raise IndexError(f"element {index} of a tensor of {values.size}")
    levels = element_tree(values)
    position = index // ELEMENTS_PER_WORD
    word = words(values)[position]
    path = []
    for level in levels[:-1]:
        path.append(level[position ^ 1])
        position //= 2
    return word, path


def element_at(root: bytes, count: int, index: int, word: bytes, path: list[bytes]) -> int:
    """The 32 bits of element `index`, proven against `root`; raises ProofInvalid if the proof does not lead there."""
    if not 0 <= index < count or len(word) != 32:
        raise ProofInvalid(f"element {index} of {count} with a {len(word)}-byte word")
    word_count = -(-count // ELEMENTS_PER_WORD)
    if len(path) != (word_count - 1).bit_length():
        raise ProofInvalid(f"a tensor of {count} elements has proofs of {(word_count - 1).bit_length()} nodes, got {len(path)}")
    node, position = keccak(word), index // ELEMENTS_PER_WORD
    for sibling in path:
        node = keccak(sibling + node) if position & 1 else keccak(node + sibling)
        position //= 2
    if _bind(count, node) != root:
        raise ProofInvalid(f"element {index}: the proof does not lead to root 0x{root.hex()}")
    offset = (index % ELEMENTS_PER_WORD) * 4
    return int.from_bytes(word[offset:offset + 4], "little")
