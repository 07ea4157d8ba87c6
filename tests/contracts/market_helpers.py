"""Constants and helpers shared by the contract tests."""

from dataclasses import dataclass

from pinpoint.economics import required_stake

UNBONDING_DELAY = 24 * 3600
MAX_PRICE = 10**18
REQUIRED_STAKE = 2 * 10**18
CHECKPOINT_COUNT = 4
CHECKPOINT_INTERVAL = 50
SAMPLE_COUNT = 2  # minimumStake(MAX_PRICE, 4, 2) = MAX_PRICE (the floor; the formula gives 5 * 10**17 + 2)
BIDDING_DURATION = 600
EXECUTION_DURATION = 3600
CHALLENGE_DURATION = 1800  # >= COMMIT_WINDOW + REVEAL_WINDOW, the market's minimumChallengeDuration
MAX_DURATION = 365 * 24 * 3600

# The audit wired into the shared market (IAudit): bonds, windows and the verifier registry.
AUDIT_BOND = 10**17
COMMIT_WINDOW = 600
REVEAL_WINDOW = 900
MIN_VERIFIER_STAKE = 10**17
VERIFIER_STAKE = 10**18
VERIFIER_DELAY = 300
COMMITTEE_SIZE = 4  # four verifiers of equal stake: each holds 1/COMMITTEE_SIZE of it, so each is always drawn
SPEC_HASH = bytes.fromhex("11" * 32)
ROOT = bytes.fromhex("22" * 32)
ZERO32 = b"\x00" * 32
PRICE = MAX_PRICE // 2  # a bid price strictly inside (0, MAX_PRICE]

# JobState enum values, as in IMarket (DISPUTED and SLASHED are in dispute_helpers).
NONE, BIDDING, RUNNING, SUBMITTED, FINALIZED, CANCELLED, FAILED = range(7)
UNVERIFIED = 9


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
        """Makes the next block land just past `deadline` (or, if the chain is already past it, in the same
        second as the latest block: a block's timestamp never goes back)."""
        self.chain.pending_timestamp = max(deadline + 1, self.chain.blocks.head.timestamp)

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


def deploy_audit(project, owner, market, **overrides):
    """An Audit of `market` with the shared parameters (IAudit's constructor order), some overridden."""
    args = {
        "auditBond": AUDIT_BOND,
        "commitWindow": COMMIT_WINDOW,
        "revealWindow": REVEAL_WINDOW,
        "minVerifierStake": MIN_VERIFIER_STAKE,
        "verifierDelay": VERIFIER_DELAY,
        "committeeSize": COMMITTEE_SIZE,
    }
    args.update(overrides)
    return owner.deploy(project.Audit, market, *args.values())


def deploy_market(project, owner, staking, **audit_overrides):
    """A market, the one market of `staking` (which must be unwired), with its own audit wired (jobs cannot
    be posted before)."""
    market = owner.deploy(project.Market, staking)
    staking.setMarket(market, sender=owner)
    market.setAudit(deploy_audit(project, owner, market, **audit_overrides), sender=owner)
    return market


def sample_count(payment: int, count: int, stake: int) -> int:
    """A sample count for randomly drawn jobs: one interval short of all of them when `stake` meets that
    minimum, else every interval (whose minimum is the floor, the payment). Draws no randomness."""
    if count > 1 and required_stake(payment, count, count - 1) <= stake:
        return count - 1
    return count


def logs(receipt, event):
    """The logs of one event type in a receipt."""
    return list(receipt.events.filter(event))
