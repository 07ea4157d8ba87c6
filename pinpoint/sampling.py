"""The spot-check sample and the verifier's audit commitment, exactly as the contracts compute them.

The sample of a job is fixed on chain (Market.sealSample) from the hash of the block after the one that
holds the solver's final root, so the solver could not know it when it committed (docs/PROTOCOL.md,
"Unpredictable sampling"). `sampled_intervals` mirrors Market.sampledIntervals so anyone can recompute
it from the seed; the contract's answer stays authoritative.
"""

from __future__ import annotations

from eth_abi import encode
from eth_utils import keccak


def sample_seed(seed_block_hash: bytes, job_id: int, final_root: bytes) -> bytes:
    """Market.sealSample: keccak256(abi.encode(blockhash(sampleBlock), jobId, finalRoot))."""
    return keccak(encode(["bytes32", "uint256", "bytes32"], [seed_block_hash, job_id, final_root]))


def sampled_intervals(seed: bytes, checkpoint_count: int, sample_count: int) -> list[int]:
    """Market.sampledIntervals: `sample_count` distinct intervals of `checkpoint_count`, uniform without
    replacement (Robert Floyd's algorithm), in the contract's order. Interval i is checkpoint i -> i + 1."""
    if not 1 <= sample_count <= checkpoint_count:
        raise ValueError(f"sample_count must be in [1, {checkpoint_count}], got {sample_count}")
    n, s = checkpoint_count, sample_count
    sample: list[int] = []
    for i in range(s):
        j = n - s + i
        t = int.from_bytes(keccak(encode(["bytes32", "uint256"], [seed, i])), "big") % (j + 1)
        sample.append(j if t in sample else t)
    return sample


def audit_commitment(job_id: int, verifier: str, salt: bytes, hashes: list[bytes]) -> bytes:
    """Audit.commit: keccak256(abi.encode(jobId, verifier, salt, hashes)), hashes in sample order."""
    return keccak(encode(["uint256", "address", "bytes32", "bytes32[]"], [job_id, verifier, salt, hashes]))
