"""Element commitments (pinpoint/tensor_merkle.py): every element of tensors of awkward sizes is proven against the
root, and a proof with any part changed (word, sibling, index, count, path length) is refused."""

import numpy as np
import pytest

from pinpoint.tensor_merkle import ProofInvalid, element_at, element_proof, element_root


@pytest.mark.parametrize("count", [1, 7, 8, 9, 64, 100])
def test_every_element_is_proven_against_the_root(count):
    values = np.random.default_rng(count).standard_normal(count).astype(np.float32)
    root = element_root(values)
    bits = values.view(np.uint32)
    for index in range(count):
        word, path = element_proof(values, index)
        assert element_at(root, count, index, word, path) == bits[index]


def test_the_root_binds_every_bit_the_shape_free_count_and_nothing_else():
    values = np.arange(20, dtype=np.float32).reshape(4, 5)
    root = element_root(values)
    assert element_root(values.reshape(-1)) == root  # row-major elements; the shape is the operator's business
    flipped = values.copy()
    flipped.view(np.uint32)[2, 3] ^= 1
    assert element_root(flipped) != root
    assert element_root(values.reshape(-1)[:19]) != element_root(np.append(values.reshape(-1)[:19], np.float32(0)))


def test_tampered_proofs_are_refused():
    values = np.random.default_rng(0).standard_normal(50).astype(np.float32)
    root = element_root(values)
    word, path = element_proof(values, 17)
    with pytest.raises(ProofInvalid):
        element_at(root, 50, 17, bytes([word[0] ^ 1]) + word[1:], path)
    with pytest.raises(ProofInvalid):
        element_at(root, 50, 17, word, [path[0][:-1] + bytes([path[0][-1] ^ 1])] + path[1:])
    with pytest.raises(ProofInvalid):
        element_at(root, 50, 9, word, path)  # another word's position
    with pytest.raises(ProofInvalid):
        element_at(root, 51, 17, word, path)  # another count
    with pytest.raises(ProofInvalid):
        element_at(root, 50, 17, word, path[:-1])
    with pytest.raises(ProofInvalid):
        element_at(root, 50, 50, word, path)  # past the end: padding is never an element
