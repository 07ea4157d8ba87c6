"""Python StandardMerkleTree vs the JS reference (@openzeppelin/merkle-tree), plus tamper tests.

Run: .venv/bin/python -m pytest -p no:ape_test tests/protocol/test_merkle.py
"""

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from pinpoint.merkle import CHECKPOINT_LEAF_TYPES, StandardMerkleTree, checkpoint_tree

REPO = Path(__file__).resolve().parents[2]
REFERENCE_JS = Path(__file__).with_name("oz_merkle_reference.js")
SIZES = [1, 2, 3, 5, 8, 13]


def random_leaves(rng: random.Random, n: int) -> list[tuple[int, int, int, bytes]]:
    job_id = rng.getrandbits(256)
    return [(job_id, i, i * 7, rng.randbytes(32)) for i in range(n)]


def to_json(v: int | bytes | str) -> str:
    """uint256 as a decimal string, bytes32 as 0x hex, addresses as given."""
    return str(v) if isinstance(v, int) else v if isinstance(v, str) else "0x" + v.hex()


def js_reference(cases: list[tuple[list[str], list[tuple]]]) -> list[dict]:
    if shutil.which("node") is None or not (REPO / "node_modules/@openzeppelin/merkle-tree").is_dir():
        pytest.skip("node or @openzeppelin/merkle-tree not installed")
    payload = [
        {"types": types, "values": [[to_json(v) for v in value]
                                    for value in values]}
        for types, values in cases
    ]
    out = subprocess.run(["node", str(REFERENCE_JS)], input=json.dumps(payload), capture_output=True,
                         text=True, cwd=REPO, check=True, timeout=60)
    return json.loads(out.stdout)


def test_roots_and_every_proof_match_the_js_reference():
    rng = random.Random(20261122)
    cases = [(CHECKPOINT_LEAF_TYPES, random_leaves(rng, n)) for n in SIZES]
    cases.append((["address", "uint256"], [("0x" + rng.randbytes(20).hex(), rng.getrandbits(64)) for _ in range(5)]))
    reference = js_reference(cases)
    for (types, values), ref in zip(cases, reference):
        tree = StandardMerkleTree.of(values, types)
        assert tree.root == ref["root"], f"root differs for {len(values)} leaves"
        for i, value in enumerate(values):
            assert tree.get_proof(i) == ref["proofs"][i], f"proof {i} of {len(values)} differs"
            assert StandardMerkleTree.verify(tree.root, types, value, tree.get_proof(i))


def test_checkpoint_tree_leaves_are_job_index_step_hash():
    hashes = [bytes([i]) * 32 for i in range(4)]
    tree = checkpoint_tree(job_id=9, state_hashes=hashes, checkpoint_interval=5)
    assert tree.values[3] == (9, 3, 15, hashes[3])
    assert StandardMerkleTree.verify(tree.root, CHECKPOINT_LEAF_TYPES, (9, 3, 15, "0x" + hashes[3].hex()),
                                     tree.get_proof(3))
    # A progress root is the tree over a prefix: it differs from the final root.
    assert checkpoint_tree(9, hashes[:2], 5).root != tree.root


@pytest.mark.parametrize("n", [2, 5, 13])
def test_tampered_value_or_proof_fails(n):
    rng = random.Random(n)
    values = random_leaves(rng, n)
    tree = StandardMerkleTree.of(values, CHECKPOINT_LEAF_TYPES)
    i = n // 2
    proof = tree.get_proof(i)
    job, index, step, state = values[i]
    assert StandardMerkleTree.verify(tree.root, CHECKPOINT_LEAF_TYPES, values[i], proof)
    assert not StandardMerkleTree.verify(tree.root, CHECKPOINT_LEAF_TYPES, (job, index, step + 1, state), proof)
    assert not StandardMerkleTree.verify(tree.root, CHECKPOINT_LEAF_TYPES, (job, index, step, rng.randbytes(32)), proof)
    assert not StandardMerkleTree.verify(tree.root, CHECKPOINT_LEAF_TYPES, values[(i + 1) % n], proof)
    bad = list(proof)
    bad[0] = "0x" + bytes(32).hex()
    assert not StandardMerkleTree.verify(tree.root, CHECKPOINT_LEAF_TYPES, values[i], bad)
    assert not StandardMerkleTree.verify(tree.root, CHECKPOINT_LEAF_TYPES, values[i], proof[:-1])
    assert not StandardMerkleTree.verify("0x" + "11" * 32, CHECKPOINT_LEAF_TYPES, values[i], proof)
    assert not StandardMerkleTree.verify(tree.root, CHECKPOINT_LEAF_TYPES, (-1, index, step, state), proof)


def test_empty_tree_and_bad_index_are_rejected():
    with pytest.raises(ValueError):
        StandardMerkleTree.of([], CHECKPOINT_LEAF_TYPES)
    tree = StandardMerkleTree.of([(1, 0, 0, bytes(32))], CHECKPOINT_LEAF_TYPES)
    assert tree.get_proof(0) == [] and tree.root == tree.leaf_hash(0)
    with pytest.raises(IndexError):
        tree.get_proof(1)
