"""Constants, a sealed-job builder and a verifier actor shared by the sampling and audit tests."""

import random
from dataclasses import dataclass

from dispute_helpers import ProvenJob, submit_proven, trajectory

from pinpoint.sampling import audit_commitment

AUDIT_BOND = 10**17
COMMIT_WINDOW = 600
REVEAL_WINDOW = 900
FUNDING = 3 * 10**17

# The audited job: 4 checkpoints 8 steps apart, 2 sampled intervals (market_helpers.SAMPLE_COUNT).
COUNT, INTERVAL = 4, 8
INITIAL = b"\x01" * 32
TRUTH = trajectory(INITIAL, COUNT * INTERVAL)
# A cheater whose state goes wrong at step 13: checkpoint 1 (step 8) is right, checkpoints 2..4 are wrong,
# so interval 0 is honest and intervals 1, 2, 3 are faked. Any 2 of 4 intervals hit a faked one.
CLAIMED = trajectory(INITIAL, COUNT * INTERVAL, deviate_at=13, wrong=b"\xee" * 32)


def seal(chain, market, job_id, sender):
    """Mines the seed block (the one after submitResult) and seals the job's sample."""
    chain.mine(1)
    return market.sealSample(job_id, sender=sender)


@dataclass
class SampledJob:
    """A submitted job whose root commits to `job.claimed`, with its sealed sample."""

    job: ProvenJob
    sample: list[int]

    @property
    def job_id(self) -> int:
        return self.job.job_id

    def hashes(self, states: list[bytes]) -> list[bytes]:
        """The end-state hashes of the sampled intervals (checkpoint i + 1 for interval i), from `states`."""
        return [states[(i + 1) * self.job.interval] for i in self.sample]

    def proofs(self) -> list[list[str]]:
        """The solver's Merkle proofs of the sampled intervals' end checkpoints."""
        return [self.job.tree.get_proof(i + 1) for i in self.sample]


def proven_job(jobs, market, solver, claimed=TRUTH, **overrides) -> ProvenJob:
    return submit_proven(jobs, market, solver, claimed, COUNT, INTERVAL, **overrides)


def sampled(chain, market, job: ProvenJob, sender) -> SampledJob:
    seal(chain, market, job.job_id, sender)
    return SampledJob(job, list(market.sampledIntervals(job.job_id)))


@dataclass
class Verifier:
    """A bonded verifier that commits to `hashes` (in sample order) under `salt`."""

    account: object
    hashes: list[bytes]
    salt: bytes = b"\x5a" * 32

    def commitment(self, job_id: int) -> bytes:
        return audit_commitment(job_id, self.account.address, self.salt, self.hashes)

    def commit(self, audit, job_id: int, value: int = AUDIT_BOND):
        return audit.commit(job_id, self.commitment(job_id), sender=self.account, value=value)

    def reveal(self, audit, job_id: int, proofs):
        return audit.reveal(job_id, self.salt, self.hashes, proofs, sender=self.account)


def assert_audit_ledger(audit):
    """The audit contract holds exactly the bonds and pots not yet settled plus the unclaimed credits."""
    assert audit.balance == audit.totalHeld() + audit.totalCredits()


ZERO_ADDRESS = "0x" + "00" * 20
SALT = b"\x5a" * 32


def made_up(rng: random.Random, count: int = 2) -> list[bytes]:
    """Hashes a lazy verifier commits to without replaying anything."""
    return [rng.randbytes(32) for _ in range(count)]


def finalize(jobs, market, audit, job_id, sender, after_reveal=True):
    """Finalizes the job (after its challenge window and, by default, after the reveal window)."""
    deadline = market.getJob(job_id).challengeDeadline
    if after_reveal:
        deadline = max(deadline, audit.revealDeadline(job_id))
    jobs.after(deadline)
    market.finalize(job_id, sender=sender)


def open_reveals(jobs, audit, job_id):
    jobs.after(audit.commitDeadline(job_id))
