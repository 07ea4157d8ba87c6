"""What the coordinator may show of a job's checkpoints, and to whom (docs/PROTOCOL.md, "Accountable
verifiers").

A verifier must commit to the end states it recomputed for the sampled intervals before it can see the
solver's (contracts/Audit.sol), so until a job's audit commit window has ended the coordinator withholds
the state hash and artifact id of every checkpoint that ends a sampled interval, and of every checkpoint
after the initial one while the sample is not sealed yet (any of them could be drawn). Leaf hashes stay
public: they let anyone rebuild the tree and check it against the on-chain root, but do not reveal the
state hash behind them. The job's own solver, proven by a signed read, always sees everything.

The coordinator is trusted with this secrecy (not with integrity: every hash it serves is checked): a
coordinator or solver that hands the hashes to a verifier makes that verifier's audit worthless, which is
the collusion the docs list among the scheme's limits.
"""

from __future__ import annotations

from pinpoint.chain import Chain, JobState

UNDER_REVIEW = (JobState.RUNNING, JobState.SUBMITTED, JobState.DISPUTED)
"""States in which a verifier may still commit (or will once the sample is sealed). Every other state is
settled or never had a result (Finalized, Unverified, Slashed, Cancelled, Failed) or has no checkpoints yet
(Bidding): nothing is withheld."""


def withheld_checkpoints(chain: Chain, job_id: int) -> set[int]:
    """Indices whose state hash and artifact must not be shown to anyone but the solver right now."""
    audit = chain.contracts.get("Audit")
    job = chain.job(job_id)
    if audit is None or job["state"] not in UNDER_REVIEW:
        return set()
    everything_but_start = set(range(1, job["checkpointCount"] + 1))
    if job["sampleSealedAt"] == 0:  # (challengeDeadline is 0 too: the review starts at the seal)
        return everything_but_start
    commit_deadline = job["sampleSealedAt"] + audit.functions.commitWindow().call()
    # Block time, as the contract sees it: once a block is past the deadline no commit can land any more.
    if chain.w3.eth.get_block("latest")["timestamp"] > commit_deadline:
        return set()
    return {interval + 1 for interval in chain.market.functions.sampledIntervals(job_id).call()}
