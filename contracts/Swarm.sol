// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAudit} from "./interfaces/IAudit.sol";
import {IMarket} from "./interfaces/IMarket.sol";
import {IStaking} from "./interfaces/IStaking.sol";
import {ISwarm} from "./interfaces/ISwarm.sol";

/// @title Swarm
/// @notice K-replica jobs in rounds over the market: one auction for the slots, then every (round, replica) an
///         ordinary market job reserved for the slot's holder. See ISwarm.
/// @dev Holds no ETH and has no `receive`: `postReplica` forwards all it is paid in the same call. The market
///      and the audit are immutable and ours; state is still written before every call to them.
///      The ranked bids `_bids[swarmId]` become the slot table when bidding closes: entries 0 .. replicas - 1
///      are the slots, the rest the standbys in order. A standby taking slot i swaps places with its holder,
///      so nothing is ever copied and nobody is lost from the list.
contract Swarm is ISwarm {
    /// @inheritdoc ISwarm
    uint8 public constant MAX_REPLICAS = 16;

    /// @inheritdoc ISwarm
    uint16 public constant MAX_ROUNDS = 1024;

    /// @inheritdoc ISwarm
    uint8 public constant MAX_STANDBYS = 16;

    /// @inheritdoc ISwarm
    uint64 public constant MAX_IDLE = 30 days;

    /// @inheritdoc ISwarm
    IMarket public immutable market;

    /// @inheritdoc ISwarm
    IStaking public immutable staking;

    /// @inheritdoc ISwarm
    IAudit public immutable audit;

    /// @inheritdoc ISwarm
    uint256 public swarmCount;

    /// @inheritdoc ISwarm
    mapping(uint256 swarmId => mapping(uint16 round => mapping(uint8 slot => uint256 jobId))) public replicaJob;

    /// @dev One sub-job's arguments to `IMarket.postReserved`, and its escrow `price`.
    struct SubJob {
        bytes32 specHash;
        uint64 checkpointCount;
        uint64 checkpointInterval;
        uint64 sampleCount;
        uint256 requiredStake;
        uint64 acceptDuration;
        uint64 executionDuration;
        uint64 challengeDuration;
        address solver;
        address beneficiary;
        uint256 price;
    }

    mapping(uint256 swarmId => Swarm) private _swarms;

    /// @dev Ranked: by price, the earlier bid first on a tie (see the contract's @dev for after the close).
    mapping(uint256 swarmId => Bid[]) private _bids;

    /// @dev The price of the bidder's listed bid while bidding (0: not listed).
    mapping(uint256 swarmId => mapping(address bidder => uint256 price)) private _listed;

    /// @dev The latest sub-job of the slot whose failure was handled by `vacate` (its slot may be posted anew).
    mapping(uint256 swarmId => mapping(uint8 slot => uint256 jobId)) private _vacated;

    /// @param market_ The market that runs the sub-jobs, wired (its audit set).
    /// @param staking_ The market's staking contract.
    /// @param audit_ The market's audit.
    constructor(IMarket market_, IStaking staking_, IAudit audit_) {
        // INVARIANT: the swarm reads stake from, and pays, the very contracts that run its sub-jobs.
        if (address(market_) == address(0) || address(staking_) == address(0) || address(audit_) == address(0)) {
            revert ZeroAddress();
        }
        if (address(market_.staking()) != address(staking_)) revert NotTheMarkets(address(staking_));
        if (address(market_.audit()) != address(audit_)) revert NotTheMarkets(address(audit_));
        market = market_;
        staking = staking_;
        audit = audit_;
    }

    /// @inheritdoc ISwarm
    function post(bytes32 specHash, uint8 replicas, uint16 rounds, uint8 standbys, Terms calldata terms)
        external
        returns (uint256 swarmId)
    {
        // INVARIANT: a swarm names the spec its replicas train.
        if (specHash == bytes32(0)) revert EmptySpecHash();
        // INVARIANT: a swarm has several replicas, and its loops (slots, bids, rounds) are bounded.
        if (replicas < 2 || replicas > MAX_REPLICAS) revert ReplicasOutOfRange(replicas);
        if (rounds == 0 || rounds > MAX_ROUNDS) revert RoundsOutOfRange(rounds);
        if (standbys > MAX_STANDBYS) revert TooManyStandbys(standbys);
        // INVARIANT: a replica works for something.
        if (terms.maxPricePerRound == 0) revert ZeroPrice();
        _checkJobTerms(terms);
        _checkWindows(terms);

        swarmId = ++swarmCount;
        Swarm storage s = _swarms[swarmId];
        s.submitter = msg.sender;
        s.replicas = replicas;
        s.standbys = standbys;
        s.rounds = rounds;
        s.state = SwarmState.Bidding;
        s.specHash = specHash;
        s.maxPricePerRound = terms.maxPricePerRound;
        s.requiredStake = terms.requiredStake;
        s.checkpointCount = terms.checkpointCount;
        s.checkpointInterval = terms.checkpointInterval;
        s.sampleCount = terms.sampleCount;
        s.biddingDeadline = uint64(block.timestamp) + terms.biddingDuration;
        s.acceptDuration = terms.acceptDuration;
        s.executionDuration = terms.executionDuration;
        s.challengeDuration = terms.challengeDuration;
        _emitSwarmPosted(swarmId, s);
    }

    /// @inheritdoc ISwarm
    function bid(uint256 swarmId, uint256 price) external {
        Swarm storage s = _swarmIn(swarmId, SwarmState.Bidding);
        // INVARIANT: bids are taken until the bidding deadline, inclusive.
        if (block.timestamp > s.biddingDeadline) revert BiddingClosed(s.biddingDeadline);
        // INVARIANT: a replica works for something, and never for more than the swarm offers.
        if (price == 0) revert ZeroPrice();
        if (price > s.maxPricePerRound) revert BidTooHigh(price, s.maxPricePerRound);
        // INVARIANT: a listed bidder can accept its sub-jobs now (each locks the stake when accepted).
        uint256 available = staking.freeStake(msg.sender);
        if (available < s.requiredStake) revert InsufficientStake(available, s.requiredStake);

        Bid[] storage bids = _bids[swarmId];
        uint256 previous = _listed[swarmId][msg.sender];
        // slither-disable-next-line uninitialized-local (set on both branches below)
        uint256 hole;
        if (previous != 0) {
            // INVARIANT: one entry per bidder, and it only ever gets lower.
            if (price >= previous) revert BidNotLower(price, previous);
            while (bids[hole].bidder != msg.sender) ++hole;
        } else {
            hole = bids.length;
            if (hole == uint256(s.replicas) + s.standbys) {
                // INVARIANT: the list stays bounded; a new bid enters only by beating its last (ties: earlier).
                Bid storage worst = bids[--hole];
                if (price >= worst.price) revert BidNotInBest(price, worst.price);
                address dropped = worst.bidder;
                delete _listed[swarmId][dropped];
                emit SwarmBidDropped(swarmId, dropped);
            } else {
                bids.push();
            }
        }
        // Insertion: entries asking more move one place down into the hole; equal prices were earlier, stay ahead.
        while (hole > 0 && bids[hole - 1].price > price) {
            bids[hole] = bids[hole - 1];
            --hole;
        }
        bids[hole] = Bid(msg.sender, price);
        _listed[swarmId][msg.sender] = price;
        emit SwarmBid(swarmId, msg.sender, price);
    }

    /// @inheritdoc ISwarm
    function closeBidding(uint256 swarmId) external {
        Swarm storage s = _swarmIn(swarmId, SwarmState.Bidding);
        // INVARIANT: every solver gets the whole bidding window.
        if (block.timestamp <= s.biddingDeadline) revert BiddingOpen(s.biddingDeadline);
        // INVARIANT: a swarm runs with all of its replicas or not at all.
        if (_bids[swarmId].length < s.replicas) {
            s.state = SwarmState.Cancelled;
            emit SwarmCancelled(swarmId);
            return;
        }
        s.state = SwarmState.Running;
        // Nothing is posted yet: the idle clock runs from here until the submitter posts.
        s.idleSince = uint64(block.timestamp);
        (address[] memory holders, uint256[] memory prices) = slots(swarmId);
        emit SwarmAwarded(swarmId, holders, prices);
    }

    /// @inheritdoc ISwarm
    function postReplica(uint256 swarmId, uint16 round, uint8 slot, bytes32 specHash)
        external
        payable
        returns (uint256 jobId)
    {
        Swarm storage s = _swarmIn(swarmId, SwarmState.Running);
        // INVARIANT: only the submitter spends on the swarm's sub-jobs; every refund and compensation goes to it.
        if (msg.sender != s.submitter) revert NotSubmitter(msg.sender);
        if (slot >= s.replicas) revert SlotOutOfRange(slot, s.replicas);
        uint16 current = s.currentRound;
        if (round != current) {
            // INVARIANT: rounds run in order, and the next starts only once every replica of this one is verified.
            if (round != current + 1) revert WrongRound(round, current);
            if (round >= s.rounds) revert RoundOutOfRange(round, s.rounds);
            if (!_roundDone(swarmId, current, s.replicas)) revert RoundNotComplete(current);
            s.currentRound = round;
            emit RoundCompleted(swarmId, current);
        }
        // INVARIANT: a slot that lost its holder with no standby left is never posted again.
        if (_isVacant(s, slot)) revert SlotVacant(slot);
        uint256 latest = replicaJob[swarmId][round][slot];
        if (latest != 0) {
            IMarket.JobState state = market.jobState(latest);
            // INVARIANT: never two live sub-jobs for one slot, nor a second for a verified replica; a failed
            // holder is replaced (vacate) before its slot is posted again.
            if (state != IMarket.JobState.Unverified && _vacated[swarmId][slot] != latest) {
                revert SlotNotOpen(slot, latest, state);
            }
        }
        Bid storage holder = _bids[swarmId][slot];
        uint256 price = holder.price;
        // INVARIANT: the sub-job's escrow is the holder's price, paid now, so nothing is owed later.
        if (msg.value < price) revert PaymentTooLow(msg.value, price);

        s.idleSince = 0;
        jobId = market.jobCount() + 1;
        replicaJob[swarmId][round][slot] = jobId;
        emit ReplicaPosted(swarmId, round, slot, jobId, holder.bidder, price);
        uint256 posted = _postSubJob(s, specHash, holder.bidder, price);
        // INVARIANT: the recorded sub-job is the one just posted.
        if (posted != jobId) revert UnexpectedJobId(posted, jobId);
        // The rest rewards the sub-job's verifiers; refunded to the submitter by the audit if unused.
        if (msg.value > price) audit.fund{value: msg.value - price}(jobId);
    }

    /// @inheritdoc ISwarm
    function vacate(uint256 swarmId, uint8 slot) external {
        Swarm storage s = _swarmIn(swarmId, SwarmState.Running);
        if (slot >= s.replicas) revert SlotOutOfRange(slot, s.replicas);
        if (_isVacant(s, slot)) revert SlotVacant(slot);
        uint256 jobId = replicaJob[swarmId][s.currentRound][slot];
        IMarket.JobState state = market.jobState(jobId);
        // INVARIANT: a holder loses its slot only when its own sub-job went unaccepted, silent or proven wrong,
        // and once per such sub-job.
        if (
            jobId == 0 || _vacated[swarmId][slot] == jobId
                || (state != IMarket.JobState.Cancelled
                    && state != IMarket.JobState.Failed
                    && state != IMarket.JobState.Slashed)
        ) revert NothingToVacate(slot, jobId, state);
        _vacated[swarmId][slot] = jobId;

        Bid[] storage bids = _bids[swarmId];
        address from = bids[slot].bidder;
        uint256 next = uint256(s.replicas) + s.standbysUsed;
        if (next >= bids.length) {
            s.vacant |= uint16(1) << slot;
            emit SlotLeftVacant(swarmId, slot, from);
            return;
        }
        // INVARIANT: the next standby takes the slot at its own price; the replaced holder moves behind the
        // standbys still waiting, so it never gets a slot back.
        ++s.standbysUsed;
        Bid memory standby = bids[next];
        bids[next] = bids[slot];
        bids[slot] = standby;
        emit SlotReassigned(swarmId, slot, from, standby.bidder);
    }

    /// @inheritdoc ISwarm
    function complete(uint256 swarmId) external {
        Swarm storage s = _swarmIn(swarmId, SwarmState.Running);
        uint16 current = s.currentRound;
        // INVARIANT: a swarm is done only when its last round is verified, replica by replica.
        if (current + 1 < s.rounds) revert RoundsLeft(current, s.rounds);
        if (!_roundDone(swarmId, current, s.replicas)) revert RoundNotComplete(current);
        s.state = SwarmState.Completed;
        emit RoundCompleted(swarmId, current);
        emit SwarmCompleted(swarmId);
    }

    /// @inheritdoc ISwarm
    function noteIdle(uint256 swarmId) external {
        Swarm storage s = _swarmIn(swarmId, SwarmState.Running);
        // INVARIANT: the idle clock runs only while the swarm waits on its submitter, never on a sub-job.
        uint256 live = liveJob(swarmId);
        if (live != 0) revert JobLive(live);
        if (s.idleSince != 0) revert AlreadyIdle(s.idleSince);
        s.idleSince = uint64(block.timestamp);
        emit SwarmIdle(swarmId, uint64(block.timestamp) + MAX_IDLE);
    }

    /// @inheritdoc ISwarm
    function end(uint256 swarmId) external {
        Swarm storage s = _swarms[swarmId];
        SwarmState state = s.state;
        if (state == SwarmState.None) revert UnknownSwarm(swarmId);
        if (state == SwarmState.Bidding) {
            // INVARIANT: while bidding, only the submitter may give up (closeBidding is everyone's exit).
            if (msg.sender != s.submitter) revert NotSubmitter(msg.sender);
        } else {
            if (state != SwarmState.Running) revert WrongSwarmState(SwarmState.Running, state);
            // INVARIANT: a swarm never ends under a live sub-job (whose holder is working for it).
            uint256 live = liveJob(swarmId);
            if (live != 0) revert JobLive(live);
            // INVARIANT: a trained model is recorded as such, never as abandoned.
            if (s.currentRound + 1 == s.rounds && _roundDone(swarmId, s.currentRound, s.replicas)) revert SwarmDone();
            if (msg.sender != s.submitter) {
                // INVARIANT: others end a swarm only after its submitter left it idle for MAX_IDLE.
                uint64 since = s.idleSince;
                if (since == 0) revert NotIdle(0);
                if (block.timestamp <= since + MAX_IDLE) revert NotIdle(since + MAX_IDLE);
            }
        }
        s.state = SwarmState.Ended;
        emit SwarmEnded(swarmId, msg.sender);
    }

    /// @inheritdoc ISwarm
    function getSwarm(uint256 swarmId) external view returns (Swarm memory) {
        return _swarms[swarmId];
    }

    /// @inheritdoc ISwarm
    function slots(uint256 swarmId) public view returns (address[] memory holders, uint256[] memory prices) {
        Swarm storage s = _swarms[swarmId];
        Bid[] storage bids = _bids[swarmId];
        uint256 n = bids.length < s.replicas ? bids.length : s.replicas;
        holders = new address[](n);
        prices = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            if (_isVacant(s, uint8(i))) continue;
            holders[i] = bids[i].bidder;
            prices[i] = bids[i].price;
        }
    }

    /// @inheritdoc ISwarm
    function standbysOf(uint256 swarmId) external view returns (address[] memory bidders, uint256[] memory prices) {
        Swarm storage s = _swarms[swarmId];
        return _range(_bids[swarmId], uint256(s.replicas) + s.standbysUsed);
    }

    /// @inheritdoc ISwarm
    function bidsOf(uint256 swarmId) external view returns (address[] memory bidders, uint256[] memory prices) {
        return _range(_bids[swarmId], 0);
    }

    /// @inheritdoc ISwarm
    function currentRound(uint256 swarmId) external view returns (uint16) {
        return _swarms[swarmId].currentRound;
    }

    /// @inheritdoc ISwarm
    function liveJob(uint256 swarmId) public view returns (uint256) {
        Swarm storage s = _swarms[swarmId];
        uint16 round = s.currentRound;
        for (uint8 slot; slot < s.replicas; ++slot) {
            uint256 jobId = replicaJob[swarmId][round][slot];
            if (jobId == 0) continue;
            IMarket.JobState state = market.jobState(jobId);
            if (
                state == IMarket.JobState.Bidding || state == IMarket.JobState.Running
                    || state == IMarket.JobState.Submitted || state == IMarket.JobState.Disputed
            ) return jobId;
        }
        return 0;
    }

    /// @dev The market's bounds on a job's checkpoints, sample and stake, for every sub-job the swarm may post.
    function _checkJobTerms(Terms calldata t) internal view {
        // INVARIANT: every sub-job commits to checkpoints at least one step apart and samples at least one
        // interval, no more than it has, within the market's bounds (each transaction of it fits in a block).
        if (t.checkpointCount == 0) revert ZeroCheckpointCount();
        if (t.checkpointInterval == 0) revert ZeroCheckpointInterval();
        if (t.sampleCount == 0) revert ZeroSampleCount();
        if (t.sampleCount > t.checkpointCount) revert TooManySamples(t.sampleCount, t.checkpointCount);
        uint64 maxCount = market.MAX_CHECKPOINT_COUNT();
        if (t.checkpointCount > maxCount) revert CheckpointCountTooLarge(t.checkpointCount, maxCount);
        uint64 maxInterval = market.MAX_CHECKPOINT_INTERVAL();
        if (t.checkpointInterval > maxInterval) revert CheckpointIntervalTooLarge(t.checkpointInterval, maxInterval);
        uint64 maxSamples = market.MAX_SAMPLE_COUNT();
        if (t.sampleCount > maxSamples) revert SampleCountTooLarge(t.sampleCount, maxSamples);
        // INVARIANT: cheating is a losing bet for every replica: the bound at the highest price a slot may ask
        // covers every lower one (minimumStake grows with the price).
        uint256 minimum = market.minimumStake(t.maxPricePerRound, t.checkpointCount, t.sampleCount);
        if (t.requiredStake < minimum) revert StakeBelowMinimum(t.requiredStake, minimum);
    }

    /// @dev Every window has a length, none overflows a deadline, and the review fits the audit's windows.
    function _checkWindows(Terms calldata t) internal view {
        // INVARIANT: every window is a real span, as the market requires of each sub-job's.
        if (t.biddingDuration == 0 || t.acceptDuration == 0 || t.executionDuration == 0 || t.challengeDuration == 0) {
            revert ZeroDuration();
        }
        uint64 maximum = market.MAX_DURATION();
        if (t.biddingDuration > maximum) revert DurationTooLong(t.biddingDuration, maximum);
        if (t.acceptDuration > maximum) revert DurationTooLong(t.acceptDuration, maximum);
        if (t.executionDuration > maximum) revert DurationTooLong(t.executionDuration, maximum);
        if (t.challengeDuration > maximum) revert DurationTooLong(t.challengeDuration, maximum);
        uint64 minimumChallenge = market.minimumChallengeDuration();
        if (t.challengeDuration < minimumChallenge) {
            revert ChallengeWindowTooShort(t.challengeDuration, minimumChallenge);
        }
    }

    /// @dev Posts the reserved sub-job for `solver` at `price` (its escrow), the submitter its beneficiary.
    ///      The arguments go through memory, field by field: ten of them read straight from storage beside this
    ///      function's own do not fit on the stack without via-IR.
    function _postSubJob(Swarm storage s, bytes32 specHash, address solver, uint256 price) internal returns (uint256) {
        // slither-disable-next-line uninitialized-local (every field is set below)
        SubJob memory j;
        j.specHash = specHash;
        j.checkpointCount = s.checkpointCount;
        j.checkpointInterval = s.checkpointInterval;
        j.sampleCount = s.sampleCount;
        j.requiredStake = s.requiredStake;
        j.acceptDuration = s.acceptDuration;
        j.executionDuration = s.executionDuration;
        j.challengeDuration = s.challengeDuration;
        j.solver = solver;
        j.beneficiary = s.submitter;
        j.price = price;
        return _postReserved(j);
    }

    /// @dev `market.postReserved{value: j.price}` with the sub-job's arguments.
    function _postReserved(SubJob memory j) internal returns (uint256) {
        return market.postReserved{value: j.price}(
            j.specHash,
            j.checkpointCount,
            j.checkpointInterval,
            j.sampleCount,
            j.requiredStake,
            j.acceptDuration,
            j.executionDuration,
            j.challengeDuration,
            j.solver,
            j.beneficiary
        );
    }

    /// @dev Whether every replica of `round` has a Finalized sub-job.
    function _roundDone(uint256 swarmId, uint16 round, uint8 replicas) internal view returns (bool) {
        for (uint8 slot; slot < replicas; ++slot) {
            uint256 jobId = replicaJob[swarmId][round][slot];
            if (jobId == 0 || market.jobState(jobId) != IMarket.JobState.Finalized) return false;
        }
        return true;
    }

    /// @dev The swarm, which must exist and be in state `expected`.
    function _swarmIn(uint256 swarmId, SwarmState expected) internal view returns (Swarm storage s) {
        s = _swarms[swarmId];
        // INVARIANT: actions apply only to swarms that were posted.
        if (s.state == SwarmState.None) revert UnknownSwarm(swarmId);
        // INVARIANT: each action is valid in exactly one state.
        if (s.state != expected) revert WrongSwarmState(expected, s.state);
    }

    function _isVacant(Swarm storage s, uint8 slot) internal view returns (bool) {
        return s.vacant & (uint16(1) << slot) != 0;
    }

    /// @dev The entries of `bids` from `start` on, as two arrays.
    function _range(Bid[] storage bids, uint256 start)
        internal
        view
        returns (address[] memory bidders, uint256[] memory prices)
    {
        uint256 n = bids.length > start ? bids.length - start : 0;
        bidders = new address[](n);
        prices = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            bidders[i] = bids[start + i].bidder;
            prices[i] = bids[start + i].price;
        }
    }

    /// @dev Emits SwarmPosted from storage (post has no stack slots left for it).
    function _emitSwarmPosted(uint256 swarmId, Swarm storage s) internal {
        emit SwarmPosted(
            swarmId,
            s.submitter,
            s.specHash,
            s.replicas,
            s.rounds,
            s.standbys,
            s.maxPricePerRound,
            s.requiredStake,
            s.biddingDeadline
        );
    }
}
