// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAudit} from "./IAudit.sol";
import {IMarket} from "./IMarket.sol";
import {IStaking} from "./IStaking.sol";

/// @title ISwarm
/// @notice One model trained by K solvers ("replicas") in rounds. Solvers bid for a place once, in a reverse
///         auction: the K best bids hold the K slots, each at its own price, and the next ones wait as standbys.
///         Then every (round, replica) is an ordinary market job reserved for the slot's holder
///         (`IMarket.postReserved`): committed, sampled, audited, disputed, paid or slashed exactly like any
///         job, escrowed when posted, with its own stake. So a round is paid replica by replica once verified,
///         a silent or cheating replica loses what any solver loses, and its slot passes to the next standby
///         without restarting the swarm.
/// @dev The swarm holds no ETH: `postReplica` forwards the price to the market as the sub-job's escrow and the
///      rest to the audit as its verifiers' reward, in the same call. Nothing can be stuck in it.
///      Every state has an exit: Bidding -> `closeBidding` (anyone, after the deadline); Running -> `complete`
///      (anyone, once the last round is verified), `end` (the submitter once no sub-job is live; anyone once
///      the swarm has been idle for MAX_IDLE, `noteIdle`). Ending moves no money: it frees the holders.
///      A slot's holder risks nothing before it accepts a sub-job (the swarm locks no stake; each sub-job
///      locks `requiredStake` when its holder accepts it). No owner, no upgrade.
interface ISwarm {
    /// @notice Bidding -> Running (at least `replicas` bids) or Cancelled (fewer); Running -> Completed (the
    ///         last round verified), or Ended (`end`). Completed, Cancelled and Ended are final.
    enum SwarmState {
        None,
        Bidding,
        Running,
        Completed,
        Cancelled,
        Ended
    }

    /// @notice One swarm: its terms (those of every sub-job it posts) and where it stands.
    struct Swarm {
        address submitter;
        /// @dev K: the number of slots, each a replica trained in every round.
        uint8 replicas;
        /// @dev The most standbys kept from the auction (bids ranked after the first `replicas`).
        uint8 standbys;
        /// @dev Standbys that have taken a slot so far (the next one is `_bids[replicas + standbysUsed]`).
        uint8 standbysUsed;
        uint16 rounds;
        /// @dev The round being trained: 0 .. rounds - 1.
        uint16 currentRound;
        /// @dev Bit i set: slot i lost its holder with no standby left (the swarm can only be ended).
        uint16 vacant;
        SwarmState state;
        bytes32 specHash;
        uint256 maxPricePerRound;
        uint256 requiredStake;
        uint64 checkpointCount;
        uint64 checkpointInterval;
        uint64 sampleCount;
        uint64 biddingDeadline;
        uint64 acceptDuration;
        uint64 executionDuration;
        uint64 challengeDuration;
        /// @dev When the swarm was last seen idle (bidding closed, or `noteIdle`), 0 once the submitter posts.
        uint64 idleSince;
    }

    /// @notice A swarm's prices, stake, sub-job sizes and windows (`post`'s last argument: thirteen flat
    ///         arguments do not fit on the stack of the ABI decoder without via-IR).
    struct Terms {
        /// @dev Each sub-job's checkpoints, their spacing in steps and the intervals its verifiers replay.
        uint64 checkpointCount;
        uint64 checkpointInterval;
        uint64 sampleCount;
        /// @dev The most a replica may ask per round (a sub-job's escrow is its holder's price).
        uint256 maxPricePerRound;
        /// @dev Stake each sub-job locks from its holder when accepted.
        uint256 requiredStake;
        /// @dev Seconds the swarm's auction stays open.
        uint64 biddingDuration;
        /// @dev Seconds a holder has to accept each sub-job (its reserved bidding window).
        uint64 acceptDuration;
        /// @dev Each sub-job's execution and review windows.
        uint64 executionDuration;
        uint64 challengeDuration;
    }

    /// @notice A ranked bid: the bidder and the price it asks per round.
    struct Bid {
        address bidder;
        uint256 price;
    }

    /// @notice The zero address was given where a contract address is required.
    error ZeroAddress();
    /// @notice The staking contract or the audit given is not the market's (or the market has no audit yet).
    error NotTheMarkets(address given);
    /// @notice The swarm's spec hash is zero.
    error EmptySpecHash();
    /// @notice Replicas outside 2 .. MAX_REPLICAS.
    error ReplicasOutOfRange(uint8 replicas);
    /// @notice Rounds outside 1 .. MAX_ROUNDS.
    error RoundsOutOfRange(uint16 rounds);
    /// @notice More standbys than MAX_STANDBYS.
    error TooManyStandbys(uint8 standbys);
    /// @notice A price of zero (the maximum price per round, or a bid).
    error ZeroPrice();
    /// @notice A window of zero seconds.
    error ZeroDuration();
    /// @notice A window longer than the market's MAX_DURATION.
    error DurationTooLong(uint64 duration, uint64 maximum);
    /// @notice The challenge window is shorter than the market's `minimumChallengeDuration`.
    error ChallengeWindowTooShort(uint64 challengeDuration, uint64 minimum);
    /// @notice Sub-jobs would have no checkpoints.
    error ZeroCheckpointCount();
    /// @notice Sub-jobs' checkpoints would be zero steps apart.
    error ZeroCheckpointInterval();
    /// @notice Sub-jobs would sample no interval.
    error ZeroSampleCount();
    /// @notice Sub-jobs would sample more intervals than they have.
    error TooManySamples(uint64 sampleCount, uint64 checkpointCount);
    /// @notice More checkpoints than the market's MAX_CHECKPOINT_COUNT.
    error CheckpointCountTooLarge(uint64 checkpointCount, uint64 maximum);
    /// @notice More steps between checkpoints than the market's MAX_CHECKPOINT_INTERVAL.
    error CheckpointIntervalTooLarge(uint64 checkpointInterval, uint64 maximum);
    /// @notice More sampled intervals than the market's MAX_SAMPLE_COUNT.
    error SampleCountTooLarge(uint64 sampleCount, uint64 maximum);
    /// @notice The required stake is below the market's `minimumStake(maxPricePerRound, ...)`.
    error StakeBelowMinimum(uint256 requiredStake, uint256 minimum);
    /// @notice No swarm has this id.
    error UnknownSwarm(uint256 swarmId);
    /// @notice The swarm is not in the state the action needs.
    error WrongSwarmState(SwarmState expected, SwarmState actual);
    /// @notice The bidding window ended at `deadline`.
    error BiddingClosed(uint64 deadline);
    /// @notice The bidding window is open until `deadline`.
    error BiddingOpen(uint64 deadline);
    /// @notice The bid asks more than the swarm's maximum price per round.
    error BidTooHigh(uint256 price, uint256 maxPrice);
    /// @notice A bidder's new bid must be strictly lower than its listed one.
    error BidNotLower(uint256 price, uint256 previous);
    /// @notice The list of best bids is full and this one does not beat its last (`worst`; on a tie the
    ///         earlier bid stays).
    error BidNotInBest(uint256 price, uint256 worst);
    /// @notice The bidder's free stake does not cover the required stake.
    error InsufficientStake(uint256 freeStake, uint256 requiredStake);
    /// @notice Only the swarm's submitter may do this.
    error NotSubmitter(address caller);
    /// @notice No slot has this index.
    error SlotOutOfRange(uint8 slot, uint8 replicas);
    /// @notice The slot lost its holder and no standby was left.
    error SlotVacant(uint8 slot);
    /// @notice The slot cannot take a new sub-job: its latest one (`jobId`) is live, was verified, or ended
    ///         Cancelled, Failed or Slashed and the slot was not vacated yet (`vacate`).
    error SlotNotOpen(uint8 slot, uint256 jobId, IMarket.JobState state);
    /// @notice The slot's latest sub-job did not end Cancelled, Failed or Slashed, or was vacated already.
    error NothingToVacate(uint8 slot, uint256 jobId, IMarket.JobState state);
    /// @notice Sub-jobs are posted for the current round, or the next one once the current is verified.
    error WrongRound(uint16 round, uint16 currentRound);
    /// @notice There is no such round (rounds run 0 .. rounds - 1).
    error RoundOutOfRange(uint16 round, uint16 rounds);
    /// @notice Not every replica of the round has a Finalized sub-job yet.
    error RoundNotComplete(uint16 round);
    /// @notice The swarm has rounds left: `complete` is for the last one.
    error RoundsLeft(uint16 currentRound, uint16 rounds);
    /// @notice The payment does not cover the slot holder's price.
    error PaymentTooLow(uint256 sent, uint256 price);
    /// @notice A sub-job of the swarm is live (Bidding, Running, Submitted or Disputed).
    error JobLive(uint256 jobId);
    /// @notice The swarm is not idle long enough for anyone but its submitter to end it: endable from
    ///         `endableAt` (exclusive), or 0 when it was not noted idle (`noteIdle`).
    error NotIdle(uint64 endableAt);
    /// @notice The swarm was already noted idle, at `since`.
    error AlreadyIdle(uint64 since);
    /// @notice Every round is verified: the swarm is to be completed (`complete`), not ended.
    error SwarmDone();
    /// @notice The market gave the sub-job another id than expected (cannot happen with our market).
    error UnexpectedJobId(uint256 jobId, uint256 expected);

    event SwarmPosted(
        uint256 indexed swarmId,
        address indexed submitter,
        bytes32 specHash,
        uint8 replicas,
        uint16 rounds,
        uint8 standbys,
        uint256 maxPricePerRound,
        uint256 requiredStake,
        uint64 biddingDeadline
    );
    /// @notice `bidder` is listed among the best bids at `price` (a new bid, or its own lowered).
    event SwarmBid(uint256 indexed swarmId, address indexed bidder, uint256 price);
    /// @notice `bidder` was pushed out of the full list of best bids; it may bid again, lower.
    event SwarmBidDropped(uint256 indexed swarmId, address indexed bidder);
    /// @notice Bidding closed with enough bids: slot i is held by holders[i] at prices[i]; the rest stand by.
    event SwarmAwarded(uint256 indexed swarmId, address[] holders, uint256[] prices);
    /// @notice Bidding closed with fewer bids than replicas.
    event SwarmCancelled(uint256 indexed swarmId);
    /// @notice Sub-job `jobId` (reserved for `solver`, escrow `price`) trains replica `slot` in `round`.
    event ReplicaPosted(
        uint256 indexed swarmId, uint16 round, uint8 slot, uint256 indexed jobId, address indexed solver, uint256 price
    );
    /// @notice Slot `slot` passed from `from` (its sub-job was cancelled, failed or slashed) to the standby `to`.
    event SlotReassigned(uint256 indexed swarmId, uint8 slot, address indexed from, address indexed to);
    /// @notice Slot `slot` lost `from` and no standby was left: the swarm can only be ended.
    event SlotLeftVacant(uint256 indexed swarmId, uint8 slot, address indexed from);
    /// @notice Every replica of `round` has a Finalized sub-job.
    event RoundCompleted(uint256 indexed swarmId, uint16 round);
    /// @notice The last round is verified: the swarm is done.
    event SwarmCompleted(uint256 indexed swarmId);
    /// @notice No sub-job is live and the submitter has posted nothing since: anyone may end the swarm after
    ///         `endableAt` unless the submitter posts before.
    event SwarmIdle(uint256 indexed swarmId, uint64 endableAt);
    /// @notice The swarm was ended by `by` (its submitter, or anyone once idle): its holders are free.
    event SwarmEnded(uint256 indexed swarmId, address indexed by);

    /// @notice Posts a swarm: `replicas` slots trained in `rounds` rounds, with up to `standbys` standbys, on
    ///         `terms`. Bidding opens at once for `terms.biddingDuration` seconds. No ETH: each sub-job is paid
    ///         when posted (`postReplica`).
    /// @dev Every sub-job the swarm will post must be postable, so the market's bounds are checked here:
    ///      checkpoint count, interval and sample count as `IMarket.postJob`'s; every window non-zero and at most
    ///      `MAX_DURATION`; the challenge window at least `minimumChallengeDuration`; and `requiredStake` at
    ///      least `minimumStake(maxPricePerRound, checkpointCount, sampleCount)` (a slot's price is at most
    ///      the maximum, and the bound grows with the price, so it holds for every sub-job).
    /// @param specHash Hash of the swarm's spec (each round's sub-jobs name their own, in `postReplica`).
    /// @return swarmId The new swarm's id; ids start at 1.
    function post(bytes32 specHash, uint8 replicas, uint16 rounds, uint8 standbys, Terms calldata terms)
        external
        returns (uint256 swarmId);

    /// @notice Bids `price` per round for a place in the swarm, until the bidding deadline (inclusive).
    ///         The bidder's free stake must cover `requiredStake` now (checked, not locked). One bid per
    ///         bidder: a new one replaces its own and must be lower. Only the best `replicas + standbys`
    ///         bids are kept, ranked by price, the earlier first on a tie; a bid that does not beat the last
    ///         of a full list reverts, and the one it pushes out is dropped (its bidder may bid again, lower).
    function bid(uint256 swarmId, uint256 price) external;

    /// @notice After the bidding deadline, anyone: with fewer than `replicas` bids the swarm is Cancelled;
    ///         else slot i (0 .. replicas - 1) goes to the i-th best bid at its own price, the rest stand by
    ///         in order, and the swarm is Running (round 0).
    function closeBidding(uint256 swarmId) external;

    /// @notice The submitter posts the sub-job of replica `slot` in `round`: a market job reserved for the
    ///         slot's holder (beneficiary: the submitter), escrowed with the holder's price out of msg.value;
    ///         the rest, if any, funds the sub-job's audit (the verifiers' reward).
    /// @dev `round` is the current round, or the next once every replica of the current one has a Finalized
    ///      sub-job (then the round moves: RoundCompleted). A slot takes a sub-job when it has none in the
    ///      round, or its latest ended Unverified (the same holder again), or it was vacated. Never two live
    ///      sub-jobs for one slot.
    /// @return jobId The market's id of the sub-job (also `replicaJob(swarmId, round, slot)`).
    function postReplica(uint256 swarmId, uint16 round, uint8 slot, bytes32 specHash)
        external
        payable
        returns (uint256 jobId);

    /// @notice Anyone, when the slot's latest sub-job of the current round ended Cancelled (its holder never
    ///         accepted), Failed (silent: slashed by `reportMissedDeadline`) or Slashed (it cheated): the slot
    ///         passes to the next standby at the standby's own price (SlotReassigned), or with none left it is
    ///         vacant (SlotLeftVacant) and the swarm can only be ended. A replaced holder never gets a slot back.
    function vacate(uint256 swarmId, uint8 slot) external;

    /// @notice Anyone, once every replica of the last round has a Finalized sub-job: -> Completed.
    function complete(uint256 swarmId) external;

    /// @notice Anyone, when the swarm is Running, no sub-job is live and it is not noted idle yet: starts the
    ///         MAX_IDLE clock after which anyone may end it (bidding's close starts it too). The submitter's
    ///         next `postReplica` stops it.
    function noteIdle(uint256 swarmId) external;

    /// @notice Ends the swarm (-> Ended): its submitter, while Bidding or while no sub-job is live; anyone else
    ///         once no sub-job is live and the swarm has been idle for more than MAX_IDLE (`noteIdle`). A
    ///         swarm whose last round is verified is completed instead (`complete`). Moves no money.
    function end(uint256 swarmId) external;

    /// @notice The swarm (all zero, state None, if there is none).
    function getSwarm(uint256 swarmId) external view returns (Swarm memory);

    /// @notice Each slot's holder and price (zero for a vacant slot). Before bidding closes: the bids that
    ///         would hold them.
    function slots(uint256 swarmId) external view returns (address[] memory holders, uint256[] memory prices);

    /// @notice The standbys still waiting, in the order they take slots.
    function standbysOf(uint256 swarmId) external view returns (address[] memory bidders, uint256[] memory prices);

    /// @notice The ranked list: while Bidding, the best bids so far; once closed, the slots' holders (slots
    ///         0 .. replicas - 1, a reassigned slot showing its new holder), then the standbys that took a slot
    ///         each replaced by the holder it replaced, then those still waiting.
    function bidsOf(uint256 swarmId) external view returns (address[] memory bidders, uint256[] memory prices);

    /// @notice The round being trained (0 .. rounds - 1).
    function currentRound(uint256 swarmId) external view returns (uint16);

    /// @notice The market id of the latest sub-job of replica `slot` in `round` (0: none posted).
    function replicaJob(uint256 swarmId, uint16 round, uint8 slot) external view returns (uint256);

    /// @notice A live sub-job (Bidding, Running, Submitted or Disputed) of the swarm's current round; 0 if none.
    function liveJob(uint256 swarmId) external view returns (uint256);

    /// @notice Number of swarms posted; also the id of the latest one.
    function swarmCount() external view returns (uint256);

    /// @notice The market that runs every sub-job.
    function market() external view returns (IMarket);

    /// @notice The market's staking contract: a bidder's free stake must cover `requiredStake`.
    function staking() external view returns (IStaking);

    /// @notice The market's audit: `postReplica` funds it with what it is paid beyond the price.
    function audit() external view returns (IAudit);

    /// @notice The most replicas a swarm may have (16).
    function MAX_REPLICAS() external view returns (uint8);

    /// @notice The most rounds a swarm may have (1024).
    function MAX_ROUNDS() external view returns (uint16);

    /// @notice The most standbys a swarm may keep (16).
    function MAX_STANDBYS() external view returns (uint8);

    /// @notice How long a swarm with no live sub-job may sit idle before anyone may end it (30 days).
    function MAX_IDLE() external view returns (uint64);
}
