"""Swarm: K replicas trained in rounds, each (round, replica) an ordinary market job reserved for the slot's
holder. Every transition and every revert, then a whole swarm of 3 replicas over 2 rounds in which one replica
is silent (slashed by reportMissedDeadline) and one cheats (slashed through a real dispute), standbys take their
slots, the honest replicas are paid round by round, and the books balance (the swarm never holds a wei)."""

import ape
import pytest
from audit_helpers import CLAIMED, FUNDING, TRUTH, Verifier
from dispute_helpers import CHALLENGE_BOND, CHALLENGER_REWARD, CLOCK, SLASHED
from market_helpers import (
    BIDDING,
    BIDDING_DURATION,
    CANCELLED,
    CHALLENGE_DURATION,
    COMMIT_WINDOW,
    EXECUTION_DURATION,
    FAILED,
    FINALIZED,
    MAX_DURATION,
    MAX_PRICE,
    NONE,
    REQUIRED_STAKE,
    REVEAL_WINDOW,
    RUNNING,
    SAMPLE_COUNT,
    SPEC_HASH,
    UNBONDING_DELAY,
    UNVERIFIED,
    ZERO32,
    logs,
)
from swarm_helpers import (
    ACCEPT_DURATION,
    MAX_IDLE,
    REPLICAS,
    ROUND_SPEC,
    ROUNDS,
    S_BIDDING,
    S_CANCELLED,
    S_COMPLETED,
    S_ENDED,
    S_RUNNING,
    STANDBYS,
    accept,
    after,
    assert_books,
    awarded,
    new_solvers,
    post_round,
    post_swarm,
    run_honest,
    seal_all,
    submit,
)

ZERO_ADDRESS = "0x" + "00" * 20
# Five bidders' prices per round, in the order they bid: the first three hold slots 0..2, the last two stand by.
PRICES = [MAX_PRICE * k // 10 for k in (5, 6, 7, 8, 9)]
COUNT_ = 4  # audit_helpers.COUNT: every sub-job here has 4 checkpoints


@pytest.fixture
def bidders(accounts, staking):
    """Five fresh solvers, each with the required stake free (per test)."""
    return new_solvers(accounts, staking, 5)


@pytest.fixture
def posted(swarm, submitter):
    return post_swarm(swarm, submitter).return_value


@pytest.fixture
def running(chain, swarm, submitter, bidders):
    """A swarm whose bidding closed: slots A, B, C at PRICES[0..2]; D and E stand by."""
    return awarded(chain, swarm, submitter, bidders, PRICES)


def job_of(swarm, swarm_id, round_, slot):
    return swarm.replicaJob(swarm_id, round_, slot)


def cancel(chain, market, job_id, keeper):
    """The holder never accepted: bidding of the reserved job closes, cancelled."""
    after(chain, market.getJob(job_id).biddingDeadline)
    market.closeBidding(job_id, sender=keeper)
    assert market.getJob(job_id).state == CANCELLED


# --- deployment ---------------------------------------------------------------------------------


def test_deploy_wiredToTheMarketsContracts_noOwner(swarm, market, staking, audit):
    assert (swarm.market(), swarm.staking(), swarm.audit()) == (market, staking, audit)
    assert (swarm.MAX_REPLICAS(), swarm.MAX_ROUNDS(), swarm.MAX_STANDBYS(), swarm.MAX_IDLE()) == (16, 1024, 16, MAX_IDLE)
    assert swarm.swarmCount() == 0
    assert not any(m.name in ("owner", "transferOwnership", "upgradeTo") for m in swarm.contract_type.abi
                   if m.type == "function")
    assert not any(m.type == "receive" for m in swarm.contract_type.abi)  # ETH cannot be sent to it


@pytest.mark.parametrize("zero", [0, 1, 2])
def test_constructor_zeroAddress_reverts(project, owner, market, staking, audit, zero):
    args = [market, staking, audit]
    args[zero] = ZERO_ADDRESS
    with ape.reverts(project.Swarm.ZeroAddress):
        owner.deploy(project.Swarm, *args)


def test_constructor_notTheMarketsStakingOrAudit_reverts(project, owner, market, staking, audit):
    other = owner.deploy(project.Staking, UNBONDING_DELAY)
    with ape.reverts(project.Swarm.NotTheMarkets, given=other):
        owner.deploy(project.Swarm, market, other, audit)
    with ape.reverts(project.Swarm.NotTheMarkets, given=staking):
        owner.deploy(project.Swarm, market, staking, staking)


# --- post ---------------------------------------------------------------------------------------


def test_post_storesAndEmits(swarm, submitter):
    tx = post_swarm(swarm, submitter)
    swarm_id = tx.return_value
    assert swarm_id == swarm.swarmCount() == 1
    s = swarm.getSwarm(swarm_id)
    assert (s.submitter, s.replicas, s.rounds, s.standbys, s.state) == (submitter, REPLICAS, ROUNDS, STANDBYS,
                                                                         S_BIDDING)
    assert (s.currentRound, s.standbysUsed, s.vacant, s.idleSince) == (0, 0, 0, 0)
    assert (s.specHash, s.maxPricePerRound, s.requiredStake) == (SPEC_HASH, MAX_PRICE, REQUIRED_STAKE)
    assert (s.checkpointCount, s.checkpointInterval, s.sampleCount) == (COUNT_, 8, SAMPLE_COUNT)
    assert s.biddingDeadline == tx.timestamp + BIDDING_DURATION
    assert (s.acceptDuration, s.executionDuration, s.challengeDuration) == (ACCEPT_DURATION, EXECUTION_DURATION,
                                                                           CHALLENGE_DURATION)
    assert logs(tx, swarm.SwarmPosted) == [
        swarm.SwarmPosted(swarmId=swarm_id, submitter=submitter, specHash=SPEC_HASH, replicas=REPLICAS,
                          rounds=ROUNDS, standbys=STANDBYS, maxPricePerRound=MAX_PRICE,
                          requiredStake=REQUIRED_STAKE, biddingDeadline=s.biddingDeadline)
    ]
    assert swarm.balance == 0


def test_post_atEveryBound_isAccepted(swarm, submitter):
    post_swarm(swarm, submitter, replicas=16, rounds=1024, standbys=16, biddingDuration=MAX_DURATION,
               acceptDuration=MAX_DURATION, executionDuration=MAX_DURATION, challengeDuration=MAX_DURATION)
    post_swarm(swarm, submitter, replicas=2, rounds=1, standbys=0, challengeDuration=COMMIT_WINDOW + REVEAL_WINDOW)
    assert swarm.swarmCount() == 2


@pytest.mark.parametrize(
    "post_args, error, args",
    [
        ({"spec": ZERO32}, "EmptySpecHash", {}),
        ({"replicas": 1}, "ReplicasOutOfRange", {"replicas": 1}),
        ({"replicas": 17}, "ReplicasOutOfRange", {"replicas": 17}),
        ({"rounds": 0}, "RoundsOutOfRange", {"rounds": 0}),
        ({"rounds": 1025}, "RoundsOutOfRange", {"rounds": 1025}),
        ({"standbys": 17}, "TooManyStandbys", {"standbys": 17}),
        ({"maxPricePerRound": 0}, "ZeroPrice", {}),
        ({"checkpointCount": 0}, "ZeroCheckpointCount", {}),
        ({"checkpointInterval": 0}, "ZeroCheckpointInterval", {}),
        ({"sampleCount": 0}, "ZeroSampleCount", {}),
        ({"sampleCount": 5}, "TooManySamples", {"sampleCount": 5, "checkpointCount": 4}),
        ({"checkpointCount": 2**20 + 1, "requiredStake": 10**30}, "CheckpointCountTooLarge",
         {"checkpointCount": 2**20 + 1, "maximum": 2**20}),
        ({"checkpointInterval": 2**20 + 1}, "CheckpointIntervalTooLarge",
         {"checkpointInterval": 2**20 + 1, "maximum": 2**20}),
        ({"checkpointCount": 129, "sampleCount": 129, "requiredStake": 10**30}, "SampleCountTooLarge",
         {"sampleCount": 129, "maximum": 128}),
        ({"requiredStake": MAX_PRICE - 1}, "StakeBelowMinimum", {"requiredStake": MAX_PRICE - 1, "minimum": MAX_PRICE}),
        ({"biddingDuration": 0}, "ZeroDuration", {}),
        ({"acceptDuration": 0}, "ZeroDuration", {}),
        ({"executionDuration": 0}, "ZeroDuration", {}),
        ({"challengeDuration": 0}, "ZeroDuration", {}),
        ({"biddingDuration": MAX_DURATION + 1}, "DurationTooLong", {"duration": MAX_DURATION + 1}),
        ({"acceptDuration": MAX_DURATION + 1}, "DurationTooLong", {"duration": MAX_DURATION + 1}),
        ({"executionDuration": MAX_DURATION + 1}, "DurationTooLong", {"duration": MAX_DURATION + 1}),
        ({"challengeDuration": MAX_DURATION + 1}, "DurationTooLong", {"duration": MAX_DURATION + 1}),
        ({"challengeDuration": COMMIT_WINDOW + REVEAL_WINDOW - 1}, "ChallengeWindowTooShort",
         {"challengeDuration": COMMIT_WINDOW + REVEAL_WINDOW - 1, "minimum": COMMIT_WINDOW + REVEAL_WINDOW}),
    ],
)
def test_post_outOfBounds_reverts(swarm, submitter, post_args, error, args):
    with ape.reverts(getattr(swarm, error), **args):
        post_swarm(swarm, submitter, **post_args)
    assert swarm.swarmCount() == 0


def test_post_stakeBound_isTheMarketsAtTheMaximumPrice(swarm, market, submitter):
    # 4 checkpoints, 1 sample: minimumStake is above the floor, and grows with the price.
    minimum = market.minimumStake(MAX_PRICE, COUNT_, 1)
    assert minimum > MAX_PRICE
    with ape.reverts(swarm.StakeBelowMinimum, requiredStake=minimum - 1, minimum=minimum):
        post_swarm(swarm, submitter, sampleCount=1, requiredStake=minimum - 1)
    post_swarm(swarm, submitter, sampleCount=1, requiredStake=minimum)


# --- bid ----------------------------------------------------------------------------------------


def ranked(swarm, swarm_id):
    bidders, prices = swarm.bidsOf(swarm_id)
    return list(zip(bidders, prices, strict=True))


def test_bid_ranksByPrice_earlierFirstOnATie_andLocksNothing(swarm, staking, posted, bidders):
    a, b, c, d, _ = bidders
    for bidder, price in ((a, 5), (b, 3), (c, 5), (d, 4)):
        tx = swarm.bid(posted, price, sender=bidder)
        assert logs(tx, swarm.SwarmBid) == [swarm.SwarmBid(swarmId=posted, bidder=bidder, price=price)]
    assert ranked(swarm, posted) == [(b, 3), (d, 4), (a, 5), (c, 5)]
    assert swarm.slots(posted) == ([b, d, a], [3, 4, 5])  # the bids that would hold the slots
    assert swarm.standbysOf(posted) == ([c], [5])
    assert all(staking.lockedStake(x) == 0 for x in bidders)  # checked, not locked
    assert swarm.balance == 0


def test_bid_ownLower_replacesItsEntry_asALaterBid(swarm, posted, bidders):
    a, b, c, _, _ = bidders
    for bidder, price in ((a, 5), (b, 3), (c, 4)):
        swarm.bid(posted, price, sender=bidder)
    swarm.bid(posted, 3, sender=a)  # ties with b, which bid 3 first
    assert ranked(swarm, posted) == [(b, 3), (a, 3), (c, 4)]
    swarm.bid(posted, 1, sender=c)
    assert ranked(swarm, posted) == [(c, 1), (b, 3), (a, 3)]
    with ape.reverts(swarm.BidNotLower, price=1, previous=1):
        swarm.bid(posted, 1, sender=c)
    with ape.reverts(swarm.BidNotLower, price=2, previous=1):
        swarm.bid(posted, 2, sender=c)


def test_bid_fullList_keepsTheBest_andTheDroppedMayBidAgain(swarm, posted, accounts, staking, bidders):
    sixth = new_solvers(accounts, staking, 1)[0]
    for bidder, price in zip(bidders, (10, 20, 30, 40, 50), strict=True):
        swarm.bid(posted, price, sender=bidder)
    with ape.reverts(swarm.BidNotInBest, price=50, worst=50):  # a tie: the earlier bid stays
        swarm.bid(posted, 50, sender=sixth)
    tx = swarm.bid(posted, 15, sender=sixth)
    assert logs(tx, swarm.SwarmBidDropped) == [swarm.SwarmBidDropped(swarmId=posted, bidder=bidders[4])]
    assert ranked(swarm, posted) == [(bidders[0], 10), (sixth, 15), (bidders[1], 20), (bidders[2], 30),
                                     (bidders[3], 40)]
    # The dropped bidder is off the list: it bids anew (no "lower than your own" rule), and must beat the last.
    with ape.reverts(swarm.BidNotInBest, price=45, worst=40):
        swarm.bid(posted, 45, sender=bidders[4])
    swarm.bid(posted, 5, sender=bidders[4])
    assert ranked(swarm, posted) == [(bidders[4], 5), (bidders[0], 10), (sixth, 15), (bidders[1], 20),
                                     (bidders[2], 30)]
    # A listed bidder lowering its own bid in a full list drops nobody.
    tx = swarm.bid(posted, 1, sender=bidders[2])
    assert logs(tx, swarm.SwarmBidDropped) == []
    assert ranked(swarm, posted) == [(bidders[2], 1), (bidders[4], 5), (bidders[0], 10), (sixth, 15),
                                     (bidders[1], 20)]


def test_bid_priceChecks_revert(swarm, posted, bidders):
    with ape.reverts(swarm.ZeroPrice):
        swarm.bid(posted, 0, sender=bidders[0])
    with ape.reverts(swarm.BidTooHigh, price=MAX_PRICE + 1, maxPrice=MAX_PRICE):
        swarm.bid(posted, MAX_PRICE + 1, sender=bidders[0])
    swarm.bid(posted, MAX_PRICE, sender=bidders[0])


def test_bid_withoutFreeStake_reverts(swarm, staking, posted, stranger):
    staking.deposit(sender=stranger, value=REQUIRED_STAKE - 1)
    with ape.reverts(swarm.InsufficientStake, freeStake=REQUIRED_STAKE - 1, requiredStake=REQUIRED_STAKE):
        swarm.bid(posted, 1, sender=stranger)


def test_bid_window_andState(chain, swarm, posted, bidders):
    deadline = swarm.getSwarm(posted).biddingDeadline
    chain.pending_timestamp = deadline
    swarm.bid(posted, 5, sender=bidders[0])  # at the deadline: still open
    after(chain, deadline)
    with ape.reverts(swarm.BiddingClosed, deadline=deadline):
        swarm.bid(posted, 4, sender=bidders[1])
    with ape.reverts(swarm.UnknownSwarm, swarmId=9):
        swarm.bid(9, 4, sender=bidders[1])
    swarm.closeBidding(posted, sender=bidders[1])  # one bid of three: cancelled
    with ape.reverts(swarm.WrongSwarmState, expected=S_BIDDING, actual=S_CANCELLED):
        swarm.bid(posted, 4, sender=bidders[1])


# --- closeBidding -------------------------------------------------------------------------------


def test_closeBidding_fewerBidsThanReplicas_cancels(chain, swarm, posted, bidders, stranger):
    swarm.bid(posted, 5, sender=bidders[0])
    swarm.bid(posted, 6, sender=bidders[1])
    deadline = swarm.getSwarm(posted).biddingDeadline
    chain.pending_timestamp = deadline
    with ape.reverts(swarm.BiddingOpen, deadline=deadline):
        swarm.closeBidding(posted, sender=stranger)
    after(chain, deadline)
    tx = swarm.closeBidding(posted, sender=stranger)
    assert swarm.getSwarm(posted).state == S_CANCELLED
    assert logs(tx, swarm.SwarmCancelled) == [swarm.SwarmCancelled(swarmId=posted)]
    with ape.reverts(swarm.WrongSwarmState, expected=S_BIDDING, actual=S_CANCELLED):
        swarm.closeBidding(posted, sender=stranger)
    with ape.reverts(swarm.WrongSwarmState, expected=S_RUNNING, actual=S_CANCELLED):
        swarm.end(posted, sender=stranger)


def test_closeBidding_awardsSlotsInOrder_restStandBy(chain, swarm, submitter, bidders, stranger):
    swarm_id = post_swarm(swarm, submitter).return_value
    for bidder, price in zip(bidders, PRICES, strict=True):
        swarm.bid(swarm_id, price, sender=bidder)
    after(chain, swarm.getSwarm(swarm_id).biddingDeadline)
    tx = swarm.closeBidding(swarm_id, sender=stranger)
    s = swarm.getSwarm(swarm_id)
    assert (s.state, s.currentRound, s.idleSince) == (S_RUNNING, 0, tx.timestamp)
    assert logs(tx, swarm.SwarmAwarded) == [swarm.SwarmAwarded(swarmId=swarm_id, holders=bidders[:3],
                                                               prices=PRICES[:3])]
    assert swarm.slots(swarm_id) == (bidders[:3], PRICES[:3])
    assert swarm.standbysOf(swarm_id) == (bidders[3:], PRICES[3:])
    assert swarm.bidsOf(swarm_id) == (bidders, PRICES)
    assert swarm.liveJob(swarm_id) == 0
    with ape.reverts(swarm.WrongSwarmState, expected=S_BIDDING, actual=S_RUNNING):
        swarm.closeBidding(swarm_id, sender=stranger)
    with ape.reverts(swarm.UnknownSwarm, swarmId=2):
        swarm.closeBidding(2, sender=stranger)


# --- postReplica --------------------------------------------------------------------------------


def test_postReplica_postsAReservedJobForTheHolder_andFundsItsAudit(swarm, market, audit, running, submitter,
                                                                    bidders):
    tx = swarm.postReplica(running, 0, 1, ROUND_SPEC, sender=submitter, value=PRICES[1] + FUNDING)
    job_id = tx.return_value
    assert job_id == market.jobCount() == job_of(swarm, running, 0, 1)
    job = market.getJob(job_id)
    assert (job.submitter, job.specHash, job.maxPrice, job.requiredStake) == (submitter, ROUND_SPEC, PRICES[1],
                                                                              REQUIRED_STAKE)
    assert (job.checkpointCount, job.checkpointInterval, job.sampleCount) == (COUNT_, 8, SAMPLE_COUNT)
    assert job.biddingDeadline == tx.timestamp + ACCEPT_DURATION
    assert (job.executionDuration, job.challengeDuration, job.state) == (EXECUTION_DURATION, CHALLENGE_DURATION,
                                                                         BIDDING)
    assert market.reservedSolver(job_id) == bidders[1]
    assert audit.pot(job_id) == FUNDING
    assert logs(tx, swarm.ReplicaPosted) == [
        swarm.ReplicaPosted(swarmId=running, round=0, slot=1, jobId=job_id, solver=bidders[1], price=PRICES[1])
    ]
    assert swarm.getSwarm(running).idleSince == 0
    assert swarm.liveJob(running) == job_id
    assert_books(market, swarm, audit)
    # Exactly the price: no audit funding.
    other = swarm.postReplica(running, 0, 0, ROUND_SPEC, sender=submitter, value=PRICES[0]).return_value
    assert (audit.pot(other), market.getJob(other).maxPrice) == (0, PRICES[0])


def test_postReplica_checks_revert(swarm, market, running, submitter, stranger):
    with ape.reverts(swarm.NotSubmitter, caller=stranger):
        swarm.postReplica(running, 0, 0, ROUND_SPEC, sender=stranger, value=PRICES[0])
    with ape.reverts(swarm.SlotOutOfRange, slot=3, replicas=3):
        swarm.postReplica(running, 0, 3, ROUND_SPEC, sender=submitter, value=MAX_PRICE)
    with ape.reverts(swarm.WrongRound, round=2, currentRound=0):
        swarm.postReplica(running, 2, 0, ROUND_SPEC, sender=submitter, value=PRICES[0])
    with ape.reverts(swarm.RoundNotComplete, round=0):
        swarm.postReplica(running, 1, 0, ROUND_SPEC, sender=submitter, value=PRICES[0])
    with ape.reverts(swarm.PaymentTooLow, sent=PRICES[0] - 1, price=PRICES[0]):
        swarm.postReplica(running, 0, 0, ROUND_SPEC, sender=submitter, value=PRICES[0] - 1)
    # The market's own checks pass through (decoded with the swarm's ABI, which has an error of that selector).
    with ape.reverts(swarm.EmptySpecHash):
        swarm.postReplica(running, 0, 0, ZERO32, sender=submitter, value=PRICES[0])
    job_id = swarm.postReplica(running, 0, 0, ROUND_SPEC, sender=submitter, value=PRICES[0]).return_value
    # INVARIANT: never two live sub-jobs for one slot.
    with ape.reverts(swarm.SlotNotOpen, slot=0, jobId=job_id, state=BIDDING):
        swarm.postReplica(running, 0, 0, ROUND_SPEC, sender=submitter, value=PRICES[0])
    assert (market.jobCount(), swarm.balance) == (1, 0)


def test_postReplica_whileBidding_orUnknown_reverts(swarm, posted, submitter):
    with ape.reverts(swarm.WrongSwarmState, expected=S_RUNNING, actual=S_BIDDING):
        swarm.postReplica(posted, 0, 0, ROUND_SPEC, sender=submitter, value=MAX_PRICE)
    with ape.reverts(swarm.UnknownSwarm, swarmId=5):
        swarm.postReplica(5, 0, 0, ROUND_SPEC, sender=submitter, value=MAX_PRICE)


def test_postReplica_pastTheLastRound_reverts(chain, market, audit, swarm, registered, submitter, bidders, stranger):
    swarm_id = awarded(chain, swarm, submitter, bidders[:2], PRICES[:2], replicas=2, rounds=1, standbys=0)
    job_ids = post_round(swarm, submitter, swarm_id, 0, range(2))
    run_honest(chain, market, audit, job_ids, bidders[:2], registered[0], stranger)
    with ape.reverts(swarm.RoundOutOfRange, round=1, rounds=1):
        swarm.postReplica(swarm_id, 1, 0, ROUND_SPEC, sender=submitter, value=PRICES[0])


def test_postReplica_afterUnverified_repostsToTheSameHolder(chain, market, swarm, registered, running, submitter,
                                                            bidders, stranger):
    job_id = post_round(swarm, submitter, running, 0, [0])[0]
    accept(market, job_id, bidders[0])
    seal_all(chain, market, [submit(market, job_id, bidders[0])], stranger)
    after(chain, market.getJob(job_id).challengeDeadline)  # no verifier revealed
    market.finalize(job_id, sender=stranger)
    assert market.getJob(job_id).state == UNVERIFIED
    with ape.reverts(swarm.NothingToVacate, slot=0, jobId=job_id, state=UNVERIFIED):
        swarm.vacate(running, 0, sender=stranger)
    again = swarm.postReplica(running, 0, 0, ROUND_SPEC, sender=submitter, value=PRICES[0]).return_value
    assert again == job_id + 1 == job_of(swarm, running, 0, 0)
    assert market.reservedSolver(again) == bidders[0]
    assert_books(market, swarm)


def test_postReplica_afterFinalized_reverts(chain, market, audit, swarm, registered, running, submitter, bidders,
                                            stranger):
    job_id = post_round(swarm, submitter, running, 0, [0])[0]
    run_honest(chain, market, audit, [job_id], bidders[:1], registered[0], stranger)
    with ape.reverts(swarm.SlotNotOpen, slot=0, jobId=job_id, state=FINALIZED):
        swarm.postReplica(running, 0, 0, ROUND_SPEC, sender=submitter, value=PRICES[0])
    with ape.reverts(swarm.NothingToVacate, slot=0, jobId=job_id, state=FINALIZED):
        swarm.vacate(running, 0, sender=stranger)
    # Two of three verified: the round is not.
    with ape.reverts(swarm.RoundNotComplete, round=0):
        swarm.postReplica(running, 1, 0, ROUND_SPEC, sender=submitter, value=PRICES[0])


# --- vacate -------------------------------------------------------------------------------------


def test_vacate_unaccepted_passesTheSlotToTheNextStandby(chain, market, swarm, running, submitter, bidders,
                                                          stranger):
    a, b, c, d, e = bidders
    job_id = post_round(swarm, submitter, running, 0, [1])[0]
    with ape.reverts(swarm.NothingToVacate, slot=1, jobId=job_id, state=BIDDING):
        swarm.vacate(running, 1, sender=stranger)
    cancel(chain, market, job_id, stranger)
    assert market.credits(submitter) == PRICES[1]  # the escrow back to the submitter, the beneficiary
    with ape.reverts(swarm.SlotNotOpen, slot=1, jobId=job_id, state=CANCELLED):
        swarm.postReplica(running, 0, 1, ROUND_SPEC, sender=submitter, value=PRICES[3])
    tx = swarm.vacate(running, 1, sender=stranger)
    assert logs(tx, swarm.SlotReassigned) == [swarm.SlotReassigned(swarmId=running, slot=1, **{"from": b}, to=d)]
    assert swarm.slots(running) == ([a, d, c], [PRICES[0], PRICES[3], PRICES[2]])  # d at its own price
    assert swarm.standbysOf(running) == ([e], [PRICES[4]])
    assert swarm.bidsOf(running) == ([a, d, c, b, e], [PRICES[0], PRICES[3], PRICES[2], PRICES[1], PRICES[4]])
    assert swarm.getSwarm(running).standbysUsed == 1
    with ape.reverts(swarm.NothingToVacate, slot=1, jobId=job_id, state=CANCELLED):  # once per failed sub-job
        swarm.vacate(running, 1, sender=stranger)
    with ape.reverts(swarm.PaymentTooLow, sent=PRICES[3] - 1, price=PRICES[3]):
        swarm.postReplica(running, 0, 1, ROUND_SPEC, sender=submitter, value=PRICES[3] - 1)
    new_job = swarm.postReplica(running, 0, 1, ROUND_SPEC, sender=submitter, value=PRICES[3]).return_value
    assert (market.reservedSolver(new_job), market.getJob(new_job).maxPrice) == (d, PRICES[3])
    with ape.reverts(market.NotReservedSolver, caller=b):
        market.bid(new_job, PRICES[3], sender=b)
    accept(market, new_job, d)
    assert market.getJob(new_job).state == RUNNING
    assert_books(market, swarm)


def test_vacate_checks_revert(swarm, posted, running, stranger):
    with ape.reverts(swarm.NothingToVacate, slot=0, jobId=0, state=NONE):
        swarm.vacate(running, 0, sender=stranger)
    with ape.reverts(swarm.SlotOutOfRange, slot=3, replicas=3):
        swarm.vacate(running, 3, sender=stranger)
    with ape.reverts(swarm.WrongSwarmState, expected=S_RUNNING, actual=S_BIDDING):
        swarm.vacate(posted, 0, sender=stranger)


def test_vacate_noStandbyLeft_leavesTheSlotVacant_andAReplacedHolderNeverReturns(chain, market, swarm, submitter,
                                                                                  bidders, stranger):
    a, b, c = bidders[:3]
    swarm_id = awarded(chain, swarm, submitter, [a, b, c], PRICES[:3], replicas=2, standbys=1)
    first = post_round(swarm, submitter, swarm_id, 0, [0])[0]
    cancel(chain, market, first, stranger)
    swarm.vacate(swarm_id, 0, sender=stranger)  # a -> c
    assert swarm.slots(swarm_id) == ([c, b], [PRICES[2], PRICES[1]])
    second = post_round(swarm, submitter, swarm_id, 0, [0])[0]
    cancel(chain, market, second, stranger)
    tx = swarm.vacate(swarm_id, 0, sender=stranger)  # c leaves; a (replaced) is no standby: vacant
    assert logs(tx, swarm.SlotLeftVacant) == [swarm.SlotLeftVacant(swarmId=swarm_id, slot=0, **{"from": c})]
    assert logs(tx, swarm.SlotReassigned) == []
    assert swarm.slots(swarm_id) == ([ZERO_ADDRESS, b], [0, PRICES[1]])
    assert swarm.getSwarm(swarm_id).vacant == 1
    assert swarm.standbysOf(swarm_id) == ([], [])
    with ape.reverts(swarm.SlotVacant, slot=0):
        swarm.postReplica(swarm_id, 0, 0, ROUND_SPEC, sender=submitter, value=MAX_PRICE)
    with ape.reverts(swarm.SlotVacant, slot=0):
        swarm.vacate(swarm_id, 0, sender=stranger)
    # The swarm can only be ended; the other slot could still be posted, but the round can never complete.
    tx = swarm.end(swarm_id, sender=submitter)
    assert swarm.getSwarm(swarm_id).state == S_ENDED
    assert_books(market, swarm)


# --- complete, noteIdle and end -----------------------------------------------------------------


def test_complete_lastRoundVerified_completes_andEndSaysSo(chain, market, audit, swarm, registered, submitter,
                                                           bidders, stranger):
    swarm_id = awarded(chain, swarm, submitter, bidders[:2], PRICES[:2], replicas=2, rounds=1, standbys=0)
    job_ids = post_round(swarm, submitter, swarm_id, 0, range(2))
    with ape.reverts(swarm.RoundNotComplete, round=0):
        swarm.complete(swarm_id, sender=stranger)
    run_honest(chain, market, audit, job_ids, bidders[:2], registered[0], stranger)
    with ape.reverts(swarm.SwarmDone):
        swarm.end(swarm_id, sender=submitter)
    tx = swarm.complete(swarm_id, sender=stranger)
    assert swarm.getSwarm(swarm_id).state == S_COMPLETED
    assert logs(tx, swarm.RoundCompleted) == [swarm.RoundCompleted(swarmId=swarm_id, round=0)]
    assert logs(tx, swarm.SwarmCompleted) == [swarm.SwarmCompleted(swarmId=swarm_id)]
    with ape.reverts(swarm.WrongSwarmState, expected=S_RUNNING, actual=S_COMPLETED):
        swarm.complete(swarm_id, sender=stranger)
    with ape.reverts(swarm.WrongSwarmState, expected=S_RUNNING, actual=S_COMPLETED):
        swarm.end(swarm_id, sender=submitter)
    assert [market.credits(b) for b in bidders[:2]] == PRICES[:2]
    assert_books(market, swarm, audit)


def test_complete_withRoundsLeft_reverts(swarm, running, stranger):
    with ape.reverts(swarm.RoundsLeft, currentRound=0, rounds=ROUNDS):
        swarm.complete(running, sender=stranger)


def test_end_whileBidding_bySubmitterOnly(swarm, posted, submitter, stranger):
    with ape.reverts(swarm.NotSubmitter, caller=stranger):
        swarm.end(posted, sender=stranger)
    tx = swarm.end(posted, sender=submitter)
    assert swarm.getSwarm(posted).state == S_ENDED
    assert logs(tx, swarm.SwarmEnded) == [swarm.SwarmEnded(swarmId=posted, by=submitter)]
    with ape.reverts(swarm.WrongSwarmState, expected=S_BIDDING, actual=S_ENDED):
        swarm.closeBidding(posted, sender=stranger)
    with ape.reverts(swarm.UnknownSwarm, swarmId=3):
        swarm.end(3, sender=submitter)


def test_end_underALiveSubJob_reverts_thenTheSubmitterEnds(chain, market, swarm, running, submitter, bidders,
                                                            stranger):
    job_id = post_round(swarm, submitter, running, 0, [2])[0]
    with ape.reverts(swarm.JobLive, jobId=job_id):
        swarm.end(running, sender=submitter)
    with ape.reverts(swarm.JobLive, jobId=job_id):
        swarm.noteIdle(running, sender=stranger)
    accept(market, job_id, bidders[2])
    with ape.reverts(swarm.JobLive, jobId=job_id):  # Running is live too
        swarm.end(running, sender=submitter)
    after(chain, market.getJob(job_id).executionDeadline)
    market.reportMissedDeadline(job_id, sender=stranger)
    assert swarm.liveJob(running) == 0
    tx = swarm.end(running, sender=submitter)
    assert logs(tx, swarm.SwarmEnded) == [swarm.SwarmEnded(swarmId=running, by=submitter)]
    with ape.reverts(swarm.WrongSwarmState, expected=S_RUNNING, actual=S_ENDED):
        swarm.postReplica(running, 0, 0, ROUND_SPEC, sender=submitter, value=PRICES[0])
    with ape.reverts(swarm.WrongSwarmState, expected=S_RUNNING, actual=S_ENDED):
        swarm.vacate(running, 2, sender=stranger)
    assert_books(market, swarm)


def test_end_byAnyone_afterMaxIdleFromTheClose(chain, swarm, running, stranger):
    endable = swarm.getSwarm(running).idleSince + MAX_IDLE
    with ape.reverts(swarm.NotIdle, endableAt=endable):
        swarm.end(running, sender=stranger)
    with ape.reverts(swarm.AlreadyIdle, since=endable - MAX_IDLE):
        swarm.noteIdle(running, sender=stranger)
    chain.pending_timestamp = endable
    with ape.reverts(swarm.NotIdle, endableAt=endable):
        swarm.end(running, sender=stranger)
    after(chain, endable)
    tx = swarm.end(running, sender=stranger)
    assert swarm.getSwarm(running).state == S_ENDED
    assert logs(tx, swarm.SwarmEnded) == [swarm.SwarmEnded(swarmId=running, by=stranger)]


def test_end_byAnyone_idleClockRestartsWithEachPost(chain, market, swarm, running, submitter, stranger):
    job_id = post_round(swarm, submitter, running, 0, [0])[0]
    assert swarm.getSwarm(running).idleSince == 0
    cancel(chain, market, job_id, stranger)
    after(chain, chain.blocks.head.timestamp + MAX_IDLE)  # long after the close: the post stopped that clock
    with ape.reverts(swarm.NotIdle, endableAt=0):
        swarm.end(running, sender=stranger)
    tx = swarm.noteIdle(running, sender=stranger)
    endable = tx.timestamp + MAX_IDLE
    assert logs(tx, swarm.SwarmIdle) == [swarm.SwarmIdle(swarmId=running, endableAt=endable)]
    assert swarm.getSwarm(running).idleSince == tx.timestamp
    with ape.reverts(swarm.NotIdle, endableAt=endable):
        swarm.end(running, sender=stranger)
    # The submitter comes back: vacates and posts again, which stops the clock.
    swarm.vacate(running, 0, sender=submitter)
    again = post_round(swarm, submitter, running, 0, [0])[0]
    assert swarm.getSwarm(running).idleSince == 0
    cancel(chain, market, again, stranger)
    after(chain, endable)
    with ape.reverts(swarm.NotIdle, endableAt=0):
        swarm.end(running, sender=stranger)
    noted = swarm.noteIdle(running, sender=stranger).timestamp
    after(chain, noted + MAX_IDLE)
    swarm.end(running, sender=stranger)
    assert swarm.getSwarm(running).state == S_ENDED


def test_noteIdle_checks_revert(swarm, posted, stranger):
    with ape.reverts(swarm.WrongSwarmState, expected=S_RUNNING, actual=S_BIDDING):
        swarm.noteIdle(posted, sender=stranger)
    with ape.reverts(swarm.UnknownSwarm, swarmId=4):
        swarm.noteIdle(4, sender=stranger)


# --- a whole swarm ------------------------------------------------------------------------------


def test_wholeSwarm_silentAndCheatingReplicasReplaced_honestPaidPerRound_booksBalance(
    chain, market, staking, audit, game, swarm, registered, submitter, challenger, stranger, bidders
):
    a, b, c, d, e = bidders
    verifier = registered[0]
    swarm_id = awarded(chain, swarm, submitter, bidders, PRICES)
    assert swarm.slots(swarm_id) == ([a, b, c], PRICES[:3])

    # Round 0: a is honest, b silent, c cheats (its states go wrong at step 13).
    a0, b0, c0 = post_round(swarm, submitter, swarm_id, 0, range(3), extra=FUNDING)
    assert [audit.pot(j) for j in (a0, b0, c0)] == [FUNDING] * 3
    for job_id, holder in ((a0, a), (b0, b), (c0, c)):
        accept(market, job_id, holder)
    assert [staking.lockedStake(x) for x in (a, b, c)] == [REQUIRED_STAKE] * 3
    honest, cheat = submit(market, a0, a), submit(market, c0, c, CLAIMED)
    seal_all(chain, market, [honest, cheat], stranger)
    sample = list(market.sampledIntervals(a0))
    voter = Verifier(verifier, [TRUTH[(i + 1) * 8] for i in sample])
    voter.commit(audit, a0)
    after(chain, max(audit.commitDeadline(a0), audit.commitDeadline(c0)))
    voter.reveal(audit, a0, [honest.tree.get_proof(i + 1) for i in sample])
    dispute_id = game.challenge(*cheat.challenge_args(1, TRUTH[16]), sender=challenger,
                                value=CHALLENGE_BOND).return_value
    after(chain, market.getJob(a0).challengeDeadline)
    market.finalize(a0, sender=stranger)
    with ape.reverts(swarm.JobLive, jobId=b0):
        swarm.end(swarm_id, sender=submitter)
    after(chain, game.getDispute(dispute_id).turnStart + CLOCK)  # the cheater cannot defend its states
    game.claimTimeout(dispute_id, sender=stranger)
    after(chain, market.getJob(b0).executionDeadline)
    market.reportMissedDeadline(b0, sender=stranger)
    assert [market.getJob(j).state for j in (a0, b0, c0)] == [FINALIZED, FAILED, SLASHED]
    assert_books(market, swarm, audit)

    # Round 1 cannot start; the failed slots go to the standbys, at their own prices.
    with ape.reverts(swarm.RoundNotComplete, round=0):
        swarm.postReplica(swarm_id, 1, 0, ROUND_SPEC, sender=submitter, value=PRICES[0])
    with ape.reverts(swarm.SlotNotOpen, slot=1, jobId=b0, state=FAILED):
        swarm.postReplica(swarm_id, 0, 1, ROUND_SPEC, sender=submitter, value=PRICES[3])
    swarm.vacate(swarm_id, 1, sender=stranger)
    swarm.vacate(swarm_id, 2, sender=stranger)
    assert swarm.slots(swarm_id) == ([a, d, e], [PRICES[0], PRICES[3], PRICES[4]])
    d0, e0 = post_round(swarm, submitter, swarm_id, 0, [1, 2])
    run_honest(chain, market, audit, [d0, e0], [d, e], verifier, stranger)

    # Round 1: a, d and e, all honest. The first post moves the round.
    tx = swarm.postReplica(swarm_id, 1, 0, ROUND_SPEC, sender=submitter, value=PRICES[0])
    assert logs(tx, swarm.RoundCompleted) == [swarm.RoundCompleted(swarmId=swarm_id, round=0)]
    assert swarm.currentRound(swarm_id) == 1
    with ape.reverts(swarm.WrongRound, round=0, currentRound=1):
        swarm.postReplica(swarm_id, 0, 1, ROUND_SPEC, sender=submitter, value=PRICES[3])
    round1 = [tx.return_value, *post_round(swarm, submitter, swarm_id, 1, [1, 2])]
    assert [job_of(swarm, swarm_id, 1, slot) for slot in range(3)] == round1
    assert [job_of(swarm, swarm_id, 0, slot) for slot in range(3)] == [a0, d0, e0]  # the latest attempts
    run_honest(chain, market, audit, round1, [a, d, e], verifier, stranger)
    tx = swarm.complete(swarm_id, sender=stranger)
    assert logs(tx, swarm.SwarmCompleted) == [swarm.SwarmCompleted(swarmId=swarm_id)]
    assert swarm.getSwarm(swarm_id).state == S_COMPLETED

    # Paid per verified round at their own prices; the silent and the cheating replicas lost their stake.
    assert [market.credits(x) for x in (a, b, c, d, e)] == [2 * PRICES[0], 0, 0, 2 * PRICES[3], 2 * PRICES[4]]
    assert [staking.freeStake(x) for x in (a, b, c, d, e)] == [REQUIRED_STAKE, 0, 0, REQUIRED_STAKE, REQUIRED_STAKE]
    assert all(staking.lockedStake(x) == 0 for x in bidders)
    assert market.credits(challenger) == CHALLENGER_REWARD
    # The submitter paid every price in full (each holder asked its escrow) and got back the failed rounds'
    # escrow with the silent replica's whole stake and the cheater's, less the challenger's half.
    assert market.credits(submitter) == (PRICES[1] + REQUIRED_STAKE) + (PRICES[2] + REQUIRED_STAKE - CHALLENGER_REWARD)
    assert market.totalEscrow() == 0
    assert_books(market, swarm, audit)
    for holder in (a, d, e):
        market.claim(sender=holder)
    market.claim(sender=submitter)
    assert market.balance == market.totalCredits() == market.credits(challenger)
    assert swarm.balance == 0
