"""Constants, a sealed-job builder, a verifier actor, an approval step and the committee draw's Python mirror,
shared by the market, sampling, audit and dispute tests."""

import random
from dataclasses import dataclass
from fractions import Fraction

from dispute_helpers import ProvenJob, seal, submit_proven, trajectory
from eth_abi import encode
from eth_utils import keccak
from market_helpers import (  # noqa: F401 (re-exported: the audit's parameters)
    AUDIT_BOND,
    COMMIT_WINDOW,
    COMMITTEE_SIZE,
    MIN_VERIFIER_STAKE,
    REVEAL_WINDOW,
    VERIFIER_DELAY,
    VERIFIER_STAKE,
)

from pinpoint.sampling import audit_commitment

FUNDING = 3 * 10**17

# The audited job: 4 checkpoints 8 steps apart, 2 sampled intervals (market_helpers.SAMPLE_COUNT).
COUNT, INTERVAL = 4, 8
INITIAL = b"\x01" * 32
TRUTH = trajectory(INITIAL, COUNT * INTERVAL)
# A cheater whose state goes wrong at step 13: checkpoint 1 (step 8) is right, checkpoints 2..4 are wrong,
# so interval 0 is honest and intervals 1, 2, 3 are faked. Any 2 of 4 intervals hit a faked one.
CLAIMED = trajectory(INITIAL, COUNT * INTERVAL, deviate_at=13, wrong=b"\xee" * 32)
FIRST_FAKED = 1  # the interval a fault dispute over CLAIMED is about (agreed checkpoint 1, disputed 2)

ZERO_ADDRESS = "0x" + "00" * 20
SALT = b"\x5a" * 32

# IAudit.Outcome values.
FORFEITED, REFUNDED, PAID = range(3)


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


def sampled_where(chain, market, job: ProvenJob, sender, wanted, tries: int = 64) -> SampledJob:
    """Seals the job with a sample for which `wanted(sample)` holds: the seed block is mined again with
    another timestamp (so another hash) until it does, as a block producer could. For tests that need a
    given interval sampled, or not."""
    # Only the seed block's own content can change: it must be the next block.
    assert chain.blocks.head.number + 1 == market.getJob(job.job_id).sampleBlock
    base = max(chain.pending_timestamp, chain.blocks.head.timestamp) + 1
    for delay in range(tries):
        snapshot = chain.snapshot()
        chain.mine(1, timestamp=base + delay)
        market.sealSample(job.job_id, sender=sender)
        sample = list(market.sampledIntervals(job.job_id))
        if wanted(sample):
            return SampledJob(job, sample)
        chain.restore(snapshot)
    raise AssertionError(f"no seed in {tries} tries gave a wanted sample")


def reseals(chain, market, job_id, sender, count: int):
    """Seals the job `count` times over, each from another seed (the seed block re-mined with another
    timestamp), yielding inside each: for checks that must hold whatever the seed. The job is left unsealed."""
    assert chain.blocks.head.number + 1 == market.getJob(job_id).sampleBlock
    base = max(chain.pending_timestamp, chain.blocks.head.timestamp) + 1
    for delay in range(count):
        snapshot = chain.snapshot()
        try:
            chain.mine(1, timestamp=base + delay)
            market.sealSample(job_id, sender=sender)
            yield bytes(market.getJob(job_id).sampleSeed)
        finally:
            chain.restore(snapshot)


@dataclass
class Verifier:
    """A bonded verifier that commits to `hashes` (in sample order) under `salt`."""

    account: object
    hashes: list[bytes]
    salt: bytes = SALT

    def commitment(self, job_id: int) -> bytes:
        return audit_commitment(job_id, self.account.address, self.salt, self.hashes)

    def commit(self, audit, job_id: int, value: int = AUDIT_BOND):
        return audit.commit(job_id, self.commitment(job_id), sender=self.account, value=value)

    def reveal(self, audit, job_id: int, proofs):
        return audit.reveal(job_id, self.salt, self.hashes, proofs, sender=self.account)


def assert_audit_ledger(audit):
    """The audit contract holds exactly the stakes, bonds and pots not yet settled plus the unclaimed credits."""
    assert audit.balance == audit.totalHeld() + audit.totalCredits()


def made_up(rng: random.Random, count: int = 2) -> list[bytes]:
    """Hashes a lazy verifier commits to without replaying anything."""
    return [rng.randbytes(32) for _ in range(count)]


def open_reveals(jobs, audit, job_id):
    jobs.after(audit.commitDeadline(job_id))


def approve(jobs, audit, job: SampledJob, account, salt: bytes = SALT) -> Verifier:
    """A drawn verifier approves the job's result: inside the commit window it commits to the solver's own
    end-state hashes of the sampled intervals, then reveals them with the solver's proofs just after the
    window (so from then on the job has an agreement, and challenges are open)."""
    verifier = Verifier(account, job.hashes(job.job.claimed), salt)
    verifier.commit(audit, job.job_id)
    open_reveals(jobs, audit, job.job_id)
    verifier.reveal(audit, job.job_id, job.proofs())
    return verifier


def approved(jobs, market, audit, solver, account, claimed=TRUTH, **overrides) -> SampledJob:
    """A submitted job (root over `claimed`), sealed, with one agreeing reveal by `account` (drawn)."""
    job = sampled(jobs.chain, market, proven_job(jobs, market, solver, claimed, **overrides), jobs.submitter)
    approve(jobs, audit, job, account)
    return job


def finalize(jobs, market, job_id, sender):
    """Finalizes the sealed job just after its challenge deadline (which is never before its reveal deadline)."""
    jobs.after(market.getJob(job_id).challengeDeadline)
    return market.finalize(job_id, sender=sender)


def register(audit, accounts, stake=VERIFIER_STAKE) -> list:
    return [audit.register(sender=account, value=stake) for account in accounts]


# --- the committee draw, in Python -----------------------------------------------------------------------


def draw_value(seed: bytes, verifier: str) -> int:
    """uint256(keccak256(abi.encode(sampleSeed, verifier)))."""
    return int.from_bytes(keccak(encode(["bytes32", "address"], [seed, verifier])), "big")


def is_drawn(seed: bytes, verifier: str, stake: int, total: int, committee: int = COMMITTEE_SIZE) -> bool:
    """Audit's rule for a verifier other than the solver, with its stake and the total as of the job's
    submittedAt - verifierDelay: drawn iff committee * stake >= total or the draw value mod total is below it."""
    if stake == 0:
        return False
    weight = committee * stake
    return weight >= total or draw_value(seed, verifier) % total < weight


def seat_probability(stake: int, total: int, committee: int = COMMITTEE_SIZE) -> Fraction:
    """The chance that a verifier with `stake` of `total` is drawn: min(1, committee * stake / total) (the
    draw value is uniform over 2**256, so the bias of the modulo is below 2**-190 here and left out)."""
    return min(Fraction(1), Fraction(committee * stake, total))
