"""Constants and helpers shared by the contract tests."""

from dataclasses import dataclass

from pinpoint.economics import minimum_stake

UNBONDING_DELAY = 24 * 3600
MAX_PRICE = 10**18
REQUIRED_STAKE = 2 * 10**18
CHECKPOINT_COUNT = 4
CHECKPOINT_INTERVAL = 50
SAMPLE_COUNT = 2  # minimumStake(MAX_PRICE, 4, 2) = 5 * 10**17 + 2 <= REQUIRED_STAKE
BIDDING_DURATION = 600
EXECUTION_DURATION = 3600
CHALLENGE_DURATION = 1800
SPEC_HASH = bytes.fromhex("11" * 32)
ROOT = bytes.fromhex("22" * 32)
ZERO32 = b"\x00" * 32
PRICE = MAX_PRICE // 2  # a bid price strictly inside (0, MAX_PRICE]

# JobState enum values, as in IMarket.
NONE, BIDDING, RUNNING, SUBMITTED, FINALIZED, CANCELLED, FAILED = range(7)


@dataclass
class JobFactory:
    """Builds jobs in a given state: `post`, then `awarded` (Running), then `submitted`."""

    market: object
    submitter: object
    chain: object

    def post(self, sender=None, value=MAX_PRICE, **overrides) -> int:
        args = dict(
            specHash=SPEC_HASH,
            checkpointCount=CHECKPOINT_COUNT,
            checkpointInterval=CHECKPOINT_INTERVAL,
            sampleCount=SAMPLE_COUNT,
            requiredStake=REQUIRED_STAKE,
            biddingDuration=BIDDING_DURATION,
            executionDuration=EXECUTION_DURATION,
            challengeDuration=CHALLENGE_DURATION,
        )
        args.update(overrides)
        tx = self.market.postJob(*args.values(), sender=sender or self.submitter, value=value)
        return tx.return_value

    def after(self, deadline: int) -> None:
        """Makes the next block land just past `deadline`."""
        self.chain.pending_timestamp = deadline + 1

    def awarded(self, solver, price=MAX_PRICE // 2, **overrides) -> int:
        job_id = self.post(**overrides)
        self.market.bid(job_id, price, sender=solver)
        self.after(self.market.getJob(job_id).biddingDeadline)
        self.market.closeBidding(job_id, sender=self.submitter)
        return job_id

    def submitted(self, solver, root=ROOT, **overrides) -> int:
        job_id = self.awarded(solver, **overrides)
        self.market.submitResult(job_id, root, sender=solver)
        return job_id


def sample_count(payment: int, count: int, stake: int) -> int:
    """A sample count that `stake` covers, for randomly drawn jobs: one interval short of all of them when
    the stake meets that minimum, else every interval (minimum stake 0). Draws no randomness."""
    if count > 1 and minimum_stake(payment, count, count - 1) <= stake:
        return count - 1
    return count


def logs(receipt, event):
    """The logs of one event type in a receipt."""
    return list(receipt.events.filter(event))
