"""verifyCheckpoint accepts proofs from the reference tree (@openzeppelin/merkle-tree) and rejects forgeries."""

import json
import subprocess
from pathlib import Path

import pytest
from market_helpers import CHECKPOINT_COUNT, CHECKPOINT_INTERVAL

REPO_ROOT = Path(__file__).resolve().parents[2]

# Reads [[jobId, index, step, stateHash], ...] on stdin; prints the root and one proof per value.
BUILD_TREE_JS = """
const { StandardMerkleTree } = require('@openzeppelin/merkle-tree');
const values = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const tree = StandardMerkleTree.of(values, ['uint256', 'uint256', 'uint256', 'bytes32']);
console.log(JSON.stringify({ root: tree.root, proofs: values.map((_, i) => tree.getProof(i)) }));
"""


def state_hash(index: int) -> str:
    return "0x" + f"{index + 1:02x}" * 32


def build_tree(values):
    out = subprocess.run(
        ["node", "-e", BUILD_TREE_JS],
        input=json.dumps(values),
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
    ).stdout
    tree = json.loads(out)
    return bytes.fromhex(tree["root"][2:]), [[bytes.fromhex(p[2:]) for p in proof] for proof in tree["proofs"]]


@pytest.fixture
def proven_job(market, jobs, staked, solver):
    """A submitted job whose final root is the reference tree over its CHECKPOINT_COUNT + 1 checkpoints,
    plus two leaves a cheating solver slipped in: one past the last index and one off the step grid."""
    job_id = jobs.awarded(solver)
    leaves = [[job_id, i, i * CHECKPOINT_INTERVAL, state_hash(i)] for i in range(CHECKPOINT_COUNT + 1)]
    beyond = CHECKPOINT_COUNT + 1
    leaves += [[job_id, beyond, beyond * CHECKPOINT_INTERVAL, state_hash(beyond)], [job_id, 1, 1, state_hash(1)]]
    root, proofs = build_tree([[str(v) if isinstance(v, int) else v for v in leaf] for leaf in leaves])
    market.submitResult(job_id, root, sender=solver)
    return job_id, leaves[:-2], proofs[:-2], list(zip(leaves[-2:], proofs[-2:]))


def test_verifyCheckpoint_referenceProofs_areAccepted(market, proven_job):
    job_id, leaves, proofs, _ = proven_job
    for (_, index, step, hash_), proof in zip(leaves, proofs):
        assert market.verifyCheckpoint(job_id, index, step, hash_, proof)


def test_verifyCheckpoint_wrongStateHash_isRejected(market, proven_job):
    job_id, leaves, proofs, _ = proven_job
    _, index, step, _ = leaves[2]
    assert not market.verifyCheckpoint(job_id, index, step, "0x" + "ee" * 32, proofs[2])


def test_verifyCheckpoint_proofOfAnotherLeaf_isRejected(market, proven_job):
    job_id, leaves, proofs, _ = proven_job
    _, index, step, hash_ = leaves[2]
    assert not market.verifyCheckpoint(job_id, index, step, hash_, proofs[3])


def test_verifyCheckpoint_tamperedProof_isRejected(market, proven_job):
    job_id, leaves, proofs, _ = proven_job
    _, index, step, hash_ = leaves[1]
    tampered = [bytes([proofs[1][0][0] ^ 1]) + proofs[1][0][1:]] + proofs[1][1:]
    assert not market.verifyCheckpoint(job_id, index, step, hash_, tampered)


def test_verifyCheckpoint_unknownJob_isRejected(market, proven_job):
    job_id, leaves, proofs, _ = proven_job
    _, index, step, hash_ = leaves[1]
    assert not market.verifyCheckpoint(job_id + 1, index, step, hash_, proofs[1])


def test_verifyCheckpoint_leafBeyondCount_isRejected(market, proven_job):
    job_id, _, _, slipped_in = proven_job
    (_, index, step, hash_), proof = slipped_in[0]
    assert index == CHECKPOINT_COUNT + 1
    assert not market.verifyCheckpoint(job_id, index, step, hash_, proof)


def test_verifyCheckpoint_leafOffTheStepGrid_isRejected(market, proven_job):
    job_id, _, _, slipped_in = proven_job
    (_, index, step, hash_), proof = slipped_in[1]
    assert step != index * CHECKPOINT_INTERVAL
    assert not market.verifyCheckpoint(job_id, index, step, hash_, proof)


def test_verifyCheckpoint_beforeSubmit_isRejected(market, jobs, staked, solver2):
    job_id = jobs.awarded(solver2)
    assert not market.verifyCheckpoint(job_id, 0, 0, "0x" + "01" * 32, [])
