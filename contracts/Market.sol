// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {Credits} from "./Credits.sol";
import {IAudit} from "./interfaces/IAudit.sol";
import {IMarket} from "./interfaces/IMarket.sol";
import {IStaking} from "./interfaces/IStaking.sol";

/// @title Market
/// @notice Job escrow, reverse-auction bidding, checkpoint commitments and settlement.
/// @dev Must be an operator of `staking`. Settlement goes through the internal helpers `_payOut`,
///      `_slashSolver`, `_releaseEscrow` and `_credit`, which the dispute game's resolution reuses.
contract Market is IMarket, Ownable, Credits {
    /// @inheritdoc IMarket
    uint256 public constant CHALLENGER_REWARD_BPS = 5_000;

    /// @inheritdoc IMarket
    uint64 public constant SAMPLE_DELAY_BLOCKS = 1;

    /// @inheritdoc IMarket
    IStaking public immutable staking;

    /// @inheritdoc IMarket
    uint256 public jobCount;

    /// @inheritdoc IMarket
    uint256 public totalEscrow;

    /// @inheritdoc IMarket
    uint64 public constant MAX_DURATION = 365 days;

    /// @inheritdoc IMarket
    uint64 public constant MAX_CHECKPOINT_COUNT = 2 ** 20;

    /// @inheritdoc IMarket
    uint64 public constant MAX_CHECKPOINT_INTERVAL = 2 ** 20;

    /// @inheritdoc IMarket
    uint64 public constant MAX_SAMPLE_COUNT = 128;

    /// @inheritdoc IMarket
    address public disputeGame;

    /// @inheritdoc IMarket
    IAudit public audit;

    /// @inheritdoc IMarket
    mapping(uint256 jobId => address solver) public reservedSolver;

    mapping(uint256 jobId => Job) private _jobs;

    /// @param staking_ The staking contract; the market must be set as its operator.
    constructor(IStaking staking_) Ownable(msg.sender) {
        // INVARIANT: bids are always backed by a real staking contract.
        if (address(staking_) == address(0)) revert ZeroAddress();
        staking = staking_;
    }

    modifier onlyDisputeGame() {
        // INVARIANT: only the dispute game, which proved its verdict step by step, moves a job into or out of Disputed.
        if (msg.sender != disputeGame) revert NotDisputeGame(msg.sender);
        _;
    }

    /// @notice Receives slashed stake from the staking contract; it is credited in the same transaction.
    receive() external payable {
        // INVARIANT: ETH arrives only as escrow (postJob, postReserved) or slashed stake: the books always balance.
        if (msg.sender != address(staking)) revert UnexpectedSender(msg.sender);
    }

    /// @inheritdoc IMarket
    function postJob(
        bytes32 specHash,
        uint64 checkpointCount,
        uint64 checkpointInterval,
        uint64 sampleCount,
        uint256 requiredStake,
        uint64 biddingDuration,
        uint64 executionDuration,
        uint64 challengeDuration
    ) external payable returns (uint256 jobId) {
        jobId = _post(
            msg.sender,
            specHash,
            checkpointCount,
            checkpointInterval,
            sampleCount,
            requiredStake,
            biddingDuration,
            executionDuration,
            challengeDuration
        );
    }

    /// @inheritdoc IMarket
    function postReserved(
        bytes32 specHash,
        uint64 checkpointCount,
        uint64 checkpointInterval,
        uint64 sampleCount,
        uint256 requiredStake,
        uint64 acceptDuration,
        uint64 executionDuration,
        uint64 challengeDuration,
        address solver,
        address beneficiary
    ) external payable returns (uint256 jobId) {
        // INVARIANT: a reserved job names a solver who can take it and a party who is refunded and compensated.
        if (solver == address(0) || beneficiary == address(0)) revert ZeroAddress();
        jobId = _post(
            beneficiary,
            specHash,
            checkpointCount,
            checkpointInterval,
            sampleCount,
            requiredStake,
            acceptDuration,
            executionDuration,
            challengeDuration
        );
        reservedSolver[jobId] = solver;
        emit JobReserved(jobId, solver);
    }

    /// @dev Checks a job's terms and opens its bidding; msg.value is its escrow. `submitter` is refunded,
    ///      compensated and credited the audit's unused pot (postJob: the caller; postReserved: the beneficiary).
    function _post(
        address submitter,
        bytes32 specHash,
        uint64 checkpointCount,
        uint64 checkpointInterval,
        uint64 sampleCount,
        uint256 requiredStake,
        uint64 biddingDuration,
        uint64 executionDuration,
        uint64 challengeDuration
    ) internal returns (uint256 jobId) {
        // INVARIANT: a job names the spec solvers will run.
        if (specHash == bytes32(0)) revert EmptySpecHash();
        // INVARIANT: the maximum price is paid up front.
        if (msg.value == 0) revert NoEscrow();
        // INVARIANT: a job commits to at least one checkpoint after the initial state.
        if (checkpointCount == 0) revert ZeroCheckpointCount();
        // INVARIANT: checkpoints are at least one step apart.
        if (checkpointInterval == 0) revert ZeroCheckpointInterval();
        // INVARIANT: verifiers replay at least one interval, and no more than there are.
        if (sampleCount == 0) revert ZeroSampleCount();
        if (sampleCount > checkpointCount) revert TooManySamples(sampleCount, checkpointCount);
        // INVARIANT: every later transaction of the job (proofs, a dispute's rounds, the audit's reveal and
        // settlement, which re-draw the sample) fits in a block, whatever the submitter chose.
        if (checkpointCount > MAX_CHECKPOINT_COUNT) revert CheckpointCountTooLarge(checkpointCount, MAX_CHECKPOINT_COUNT);
        if (checkpointInterval > MAX_CHECKPOINT_INTERVAL) {
            revert CheckpointIntervalTooLarge(checkpointInterval, MAX_CHECKPOINT_INTERVAL);
        }
        if (sampleCount > MAX_SAMPLE_COUNT) revert SampleCountTooLarge(sampleCount, MAX_SAMPLE_COUNT);
        // INVARIANT: a solver always has something to lose, and enough that cheating is a losing bet.
        if (requiredStake == 0) revert ZeroRequiredStake();
        _requireMinimumStake(requiredStake, checkpointCount, sampleCount);
        // INVARIANT: every window has a length, so every deadline is a real point in the future.
        if (biddingDuration == 0) revert ZeroBiddingDuration();
        if (executionDuration == 0) revert ZeroExecutionDuration();
        if (challengeDuration == 0) revert ZeroChallengeDuration();
        // INVARIANT: no deadline can overflow, however late a later step happens.
        if (biddingDuration > MAX_DURATION) revert DurationTooLong(biddingDuration, MAX_DURATION);
        if (executionDuration > MAX_DURATION) revert DurationTooLong(executionDuration, MAX_DURATION);
        if (challengeDuration > MAX_DURATION) revert DurationTooLong(challengeDuration, MAX_DURATION);
        // INVARIANT: the review fits in the challenge window: verifiers commit, then reveal, and every
        // challenge opens after the commit window, so the result is final only after all of them.
        uint64 minimumChallenge = minimumChallengeDuration();
        if (challengeDuration < minimumChallenge) revert ChallengeWindowTooShort(challengeDuration, minimumChallenge);

        jobId = ++jobCount;
        Job storage job = _jobs[jobId];
        job.submitter = submitter;
        job.specHash = specHash;
        job.maxPrice = msg.value;
        job.requiredStake = requiredStake;
        job.checkpointCount = checkpointCount;
        job.checkpointInterval = checkpointInterval;
        job.sampleCount = sampleCount;
        job.biddingDeadline = uint64(block.timestamp) + biddingDuration;
        job.executionDuration = executionDuration;
        job.challengeDuration = challengeDuration;
        job.state = JobState.Bidding;
        totalEscrow += msg.value;
        _emitJobPosted(jobId, job);
    }

    /// @inheritdoc IMarket
    function bid(uint256 jobId, uint256 price) external {
        Job storage job = _jobIn(jobId, JobState.Bidding);
        address reserved = reservedSolver[jobId];
        // INVARIANT: a reserved job is taken by its reserved solver or by nobody.
        if (reserved != address(0) && msg.sender != reserved) revert NotReservedSolver(msg.sender);
        // INVARIANT: bids are taken until the bidding deadline, inclusive.
        if (block.timestamp > job.biddingDeadline) revert BiddingClosed(job.biddingDeadline);
        // INVARIANT: a solver works for something.
        if (price == 0) revert ZeroPrice();
        // INVARIANT: the escrow always covers the price.
        if (price > job.maxPrice) revert BidTooHigh(price, job.maxPrice);
        address previous = job.solver;
        // INVARIANT: only a strictly lower price displaces the best bid; on a tie the earlier bid keeps it.
        if (previous != address(0) && price >= job.price) revert BidNotLower(price, job.price);

        uint256 requiredStake = job.requiredStake;
        if (previous != msg.sender) {
            uint256 available = staking.freeStake(msg.sender);
            // INVARIANT: the best bidder can always be awarded the job, because its stake is locked now.
            if (available < requiredStake) revert InsufficientStake(available, requiredStake);
            staking.lock(msg.sender, requiredStake);
            if (previous != address(0)) staking.unlock(previous, requiredStake);
        }
        job.solver = msg.sender;
        job.price = price;
        emit BidPlaced(jobId, msg.sender, price);
        // A reserved job has one possible bidder: its first valid bid (stake locked above) accepts it.
        if (reserved != address(0)) _award(jobId, job);
    }

    /// @inheritdoc IMarket
    function closeBidding(uint256 jobId) external {
        Job storage job = _jobIn(jobId, JobState.Bidding);
        // INVARIANT: every solver gets the whole bidding window.
        if (block.timestamp <= job.biddingDeadline) revert BiddingOpen(job.biddingDeadline);

        if (job.solver == address(0)) {
            job.state = JobState.Cancelled;
            _releaseEscrow(job);
            _credit(job.submitter, job.maxPrice);
            emit JobCancelled(jobId);
            return;
        }
        _award(jobId, job);
    }

    /// @inheritdoc IMarket
    function postProgress(uint256 jobId, uint64 checkpointsDone, bytes32 progressRoot) external {
        Job storage job = _runningJobOfSender(jobId);
        // INVARIANT: progress only moves forward.
        if (checkpointsDone <= job.checkpointsDone) revert ProgressNotIncreasing(checkpointsDone, job.checkpointsDone);
        // INVARIANT: progress never claims more checkpoints than the job has.
        if (checkpointsDone > job.checkpointCount) revert TooManyCheckpoints(checkpointsDone, job.checkpointCount);
        // INVARIANT: a progress commitment commits to something.
        if (progressRoot == bytes32(0)) revert EmptyRoot();
        job.checkpointsDone = checkpointsDone;
        job.progressRoot = progressRoot;
        emit ProgressPosted(jobId, checkpointsDone, progressRoot);
    }

    /// @inheritdoc IMarket
    function submitResult(uint256 jobId, bytes32 finalRoot) external {
        Job storage job = _runningJobOfSender(jobId);
        // INVARIANT: a result commits to its checkpoints.
        if (finalRoot == bytes32(0)) revert EmptyRoot();
        job.finalRoot = finalRoot;
        // The final root is the progress root over all checkpoints: the solver does not post it twice.
        job.checkpointsDone = job.checkpointCount;
        job.progressRoot = finalRoot;
        job.submittedAt = uint64(block.timestamp);
        // The sample is seeded by a block that does not exist yet, so the root cannot be fitted to it.
        job.sampleBlock = uint64(block.number) + SAMPLE_DELAY_BLOCKS;
        job.state = JobState.Submitted;
        emit ResultSubmitted(jobId, finalRoot, job.sampleBlock);
    }

    /// @inheritdoc IMarket
    function sealSample(uint256 jobId) external {
        Job storage job = _jobs[jobId];
        // INVARIANT: only a result under review has a sample to seal.
        if (job.state != JobState.Submitted && job.state != JobState.Disputed) {
            revert WrongJobState(JobState.Submitted, job.state);
        }
        // INVARIANT: the seed is fixed once.
        if (job.sampleSeed != bytes32(0)) revert SampleAlreadySealed();
        // INVARIANT: the seed block exists before its hash is read.
        if (block.number <= job.sampleBlock) revert SampleBlockNotMined(job.sampleBlock);
        bytes32 seedBlockHash = blockhash(job.sampleBlock);
        if (seedBlockHash == bytes32(0)) {
            // Older than 256 blocks: the hash is gone. A fresh future block keeps the draw unpredictable.
            job.sampleBlock = uint64(block.number) + SAMPLE_DELAY_BLOCKS;
            emit SampleRearmed(jobId, job.sampleBlock);
            return;
        }
        job.sampleSeed = keccak256(abi.encode(seedBlockHash, jobId, job.finalRoot));
        job.sampleSealedAt = uint64(block.timestamp);
        // The review runs from the seal: commits, then reveals and challenges, then the result is final.
        job.challengeDeadline = uint64(block.timestamp) + job.challengeDuration;
        emit SampleSealed(jobId, job.sampleSeed, job.sampleBlock, job.challengeDeadline);
    }

    /// @inheritdoc IMarket
    function sampledIntervals(uint256 jobId) external view returns (uint64[] memory sample) {
        Job storage job = _jobs[jobId];
        bytes32 seed = job.sampleSeed;
        if (seed == bytes32(0)) revert SampleNotSealed();
        uint256 n = job.checkpointCount;
        uint256 s = job.sampleCount;
        sample = new uint64[](s);
        // What is taken sits in an open-addressed set of at least 2s slots (value + 1; 0: empty), so a draw checks
        // it in O(1) expected, and the sample costs O(s) rather than O(s^2) (it is re-drawn by every audit reveal
        // and settlement).
        uint256 size = 2;
        while (size < 2 * s) size <<= 1;
        uint256[] memory taken = new uint256[](size);
        // Floyd: for j = n-s .. n-1 draw t in [0, j]; take t, or j if t was taken. Uniform s-subsets.
        for (uint256 i; i < s; ++i) {
            uint256 j = n - s + i;
            uint256 t = uint256(keccak256(abi.encode(seed, i))) % (j + 1);
            uint256 at = _slotIn(taken, t);
            if (taken[at] != 0) (t, at) = (j, _slotIn(taken, j)); // j exceeds every earlier pick: never taken
            taken[at] = t + 1;
            sample[i] = uint64(t);
        }
    }

    /// @dev The slot of `value` in the open-addressed set `taken` (a power of two long, never full), or the empty
    ///      slot where it goes: Fibonacci hashing (value < 2^20, so the product never wraps), linear probing.
    function _slotIn(uint256[] memory taken, uint256 value) private pure returns (uint256 at) {
        uint256 mask = taken.length - 1;
        at = (value * 0x9E3779B97F4A7C15 >> 32) & mask;
        while (taken[at] != 0 && taken[at] != value + 1) at = (at + 1) & mask;
    }

    /// @inheritdoc IMarket
    function minimumStake(uint256 maxPrice, uint64 checkpointCount, uint64 sampleCount)
        public
        pure
        returns (uint256)
    {
        // Mirrors pinpoint.economics.minimum_stake with its defaults; tests compare the two on a grid.
        uint256 positive = maxPrice * (4 + 5 * uint256(checkpointCount));
        uint256 negative = maxPrice * 10 * uint256(sampleCount);
        // slither-disable-next-line uninitialized-local (zero on purpose: no bound unless positive >= negative)
        uint256 bound;
        if (positive >= negative) {
            uint256 exact = (positive - negative) / (5 * uint256(sampleCount)) + 1;
            bound = (exact * 5 + 3) / 4;
        }
        // Floor: the stake at least matches the escrow, whatever the sample (a withheld or unanswered
        // availability challenge costs the same stake, and a fault caught with certainty still costs it).
        return bound > maxPrice ? bound : maxPrice;
    }

    /// @inheritdoc IMarket
    function minimumChallengeDuration() public view returns (uint64) {
        IAudit audit_ = audit;
        // INVARIANT: jobs are posted only once the review rules (the audit's windows) are wired.
        if (address(audit_) == address(0)) revert AuditNotSet();
        return audit_.commitWindow() + audit_.revealWindow();
    }

    /// @inheritdoc IMarket
    function finalize(uint256 jobId) external {
        Job storage job = _jobIn(jobId, JobState.Submitted);
        // INVARIANT: a result is reviewed from a sealed sample before it settles.
        if (job.sampleSealedAt == 0) revert SampleNotSealed();
        // INVARIANT: a result is paid only after everyone has had the whole window to challenge it.
        if (block.timestamp <= job.challengeDeadline) revert ChallengeOpen(job.challengeDeadline);
        // INVARIANT: nobody is paid for work that no drawn, bonded verifier checked and approved.
        if (audit.agreements(jobId) == 0) {
            job.state = JobState.Unverified;
            _releaseEscrow(job);
            _credit(job.submitter, job.maxPrice);
            staking.unlock(job.solver, job.requiredStake);
            emit JobUnverified(jobId);
            return;
        }
        job.state = JobState.Finalized;
        (uint256 solverPayout, uint256 submitterRefund) = _payOut(job);
        emit JobFinalized(jobId, solverPayout, submitterRefund);
    }

    /// @inheritdoc IMarket
    function reportMissedDeadline(uint256 jobId) external {
        Job storage job = _jobIn(jobId, JobState.Running);
        // INVARIANT: the solver is slashed only once its whole execution window has passed.
        if (block.timestamp <= job.executionDeadline) revert ExecutionOpen(job.executionDeadline);
        job.state = JobState.Failed;
        uint256 slashed = _slashSolver(jobId, job);
        _releaseEscrow(job);
        _credit(job.submitter, job.maxPrice + slashed);
        emit JobFailed(jobId);
    }

    /// @inheritdoc IMarket
    function setDisputeGame(address game) external onlyOwner {
        // INVARIANT: the game is a real contract address.
        if (game == address(0)) revert ZeroAddress();
        // INVARIANT: the rules of disputes never change under a running job.
        if (disputeGame != address(0)) revert DisputeGameAlreadySet(disputeGame);
        disputeGame = game;
        emit DisputeGameSet(game);
        _renounceOnceWired();
    }

    /// @inheritdoc IMarket
    function setAudit(IAudit audit_) external onlyOwner {
        // INVARIANT: the audit is a real contract address, for this market.
        if (address(audit_) == address(0)) revert ZeroAddress();
        if (address(audit_.market()) != address(this)) revert AuditOfAnotherMarket(address(audit_));
        // INVARIANT: the rules of review never change under a running job.
        if (address(audit) != address(0)) revert AuditAlreadySet(address(audit));
        audit = audit_;
        emit AuditSet(address(audit_));
        _renounceOnceWired();
    }

    /// @inheritdoc IMarket
    function openDispute(uint256 jobId)
        external
        onlyDisputeGame
        returns (address solver, uint64 checkpointCount, uint64 checkpointInterval)
    {
        Job storage job = _jobs[jobId];
        if (job.state == JobState.None) revert UnknownJob(jobId);
        // INVARIANT: several disputes may be open at once, so no challenger (nor a chain of them) can keep
        // another out; only a result under review is disputed.
        if (job.state != JobState.Submitted && job.state != JobState.Disputed) {
            revert WrongJobState(JobState.Submitted, job.state);
        }
        // INVARIANT: challenges follow the audit's commit window, so none puts a withheld hash on chain
        // while verifiers can still commit (and a result is never challenged before its sample exists).
        if (job.sampleSealedAt == 0) revert SampleNotSealed();
        uint64 opensAt = job.sampleSealedAt + audit.commitWindow();
        if (block.timestamp <= opensAt) revert ChallengeNotOpen(opensAt);
        // INVARIANT: a result can be challenged until its challenge deadline, inclusive.
        if (block.timestamp > job.challengeDeadline) revert ChallengeClosed(job.challengeDeadline);
        ++job.openDisputes;
        job.state = JobState.Disputed;
        emit JobDisputed(jobId);
        return (job.solver, job.checkpointCount, job.checkpointInterval);
    }

    /// @inheritdoc IMarket
    function resolveDispute(uint256 jobId, bool solverWins, address challenger) external onlyDisputeGame {
        Job storage job = _jobIn(jobId, JobState.Disputed);
        if (solverWins) {
            // The deadline never moved (nobody was kept out), so the result is final after it once no
            // dispute is left open.
            if (--job.openDisputes == 0) job.state = JobState.Submitted;
            emit DisputeSettled(jobId, true);
            return;
        }
        job.state = JobState.Slashed;
        uint256 slashed = _slashSolver(jobId, job);
        uint256 challengerReward = slashed * CHALLENGER_REWARD_BPS / 10_000;
        _releaseEscrow(job);
        _credit(challenger, challengerReward);
        _credit(job.submitter, job.maxPrice + slashed - challengerReward);
        emit DisputeSettled(jobId, false);
    }

    /// @inheritdoc IMarket
    function getJob(uint256 jobId) external view returns (Job memory) {
        return _jobs[jobId];
    }

    /// @inheritdoc IMarket
    function reviewOf(uint256 jobId) external view returns (Review memory) {
        Job storage job = _jobs[jobId];
        return Review(
            job.state, job.submitter, job.solver, job.checkpointInterval, job.sampleSealedAt, job.submittedAt,
            job.sampleSeed
        );
    }

    /// @inheritdoc IMarket
    function specOf(uint256 jobId) external view returns (address submitter, bytes32 specHash) {
        Job storage job = _jobs[jobId];
        return (job.submitter, job.specHash);
    }

    /// @inheritdoc IMarket
    function jobState(uint256 jobId) external view returns (JobState) {
        return _jobs[jobId].state;
    }

    /// @inheritdoc IMarket
    function verifyCheckpoint(uint256 jobId, uint256 index, uint256 step, bytes32 stateHash, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        Job storage job = _jobs[jobId];
        if (job.finalRoot == bytes32(0) || index > job.checkpointCount || step != index * job.checkpointInterval) {
            return false;
        }
        return MerkleProof.verifyCalldata(proof, job.finalRoot, checkpointLeaf(jobId, index, step, stateHash));
    }

    /// @inheritdoc IMarket
    function checkpointLeaf(uint256 jobId, uint256 index, uint256 step, bytes32 stateHash)
        public
        pure
        returns (bytes32)
    {
        return keccak256(bytes.concat(keccak256(abi.encode(jobId, index, step, stateHash))));
    }

    /// @dev Reverts unless the stake meets the economics' minimum for the escrowed price (msg.value).
    function _requireMinimumStake(uint256 requiredStake, uint64 checkpointCount, uint64 sampleCount) internal view {
        uint256 minimum = minimumStake(msg.value, checkpointCount, sampleCount);
        if (requiredStake < minimum) revert StakeBelowMinimum(requiredStake, minimum);
    }

    /// @dev Drops the owner once the game and the audit are wired: nothing is adjustable afterwards.
    function _renounceOnceWired() internal {
        if (disputeGame != address(0) && address(audit) != address(0)) _transferOwnership(address(0));
    }

    /// @dev Awards the job to its best bid (whose stake is locked): Running, the execution window opens now.
    function _award(uint256 jobId, Job storage job) internal {
        uint64 executionDeadline = uint64(block.timestamp) + job.executionDuration;
        job.state = JobState.Running;
        job.executionDeadline = executionDeadline;
        emit JobAwarded(jobId, job.solver, job.price, executionDeadline);
    }

    /// @dev Emits JobPosted from storage (_post has no stack slots left for it).
    function _emitJobPosted(uint256 jobId, Job storage job) internal {
        emit JobPosted(
            jobId,
            job.submitter,
            job.specHash,
            job.maxPrice,
            job.requiredStake,
            job.checkpointCount,
            job.checkpointInterval,
            job.biddingDeadline
        );
    }

    /// @dev The job, which must exist and be in state `expected`.
    function _jobIn(uint256 jobId, JobState expected) internal view returns (Job storage job) {
        job = _jobs[jobId];
        // INVARIANT: actions apply only to jobs that were posted.
        if (job.state == JobState.None) revert UnknownJob(jobId);
        // INVARIANT: each action is valid in exactly one state.
        if (job.state != expected) revert WrongJobState(expected, job.state);
    }

    /// @dev The running job, which the caller must be solving, inside its execution window.
    function _runningJobOfSender(uint256 jobId) internal view returns (Job storage job) {
        job = _jobIn(jobId, JobState.Running);
        // INVARIANT: only the awarded solver commits to the job's checkpoints.
        if (msg.sender != job.solver) revert NotSolver(msg.sender);
        // INVARIANT: commitments are taken until the execution deadline, inclusive.
        if (block.timestamp > job.executionDeadline) revert ExecutionClosed(job.executionDeadline);
    }

    /// @dev Settles a job the solver delivered: pays the price, refunds the rest, frees the stake.
    function _payOut(Job storage job) internal returns (uint256 solverPayout, uint256 submitterRefund) {
        solverPayout = job.price;
        submitterRefund = job.maxPrice - job.price;
        _releaseEscrow(job);
        _credit(job.solver, solverPayout);
        _credit(job.submitter, submitterRefund);
        staking.unlock(job.solver, job.requiredStake);
    }

    /// @dev Takes the solver's whole required stake into this contract; the caller must credit it.
    function _slashSolver(uint256 jobId, Job storage job) internal returns (uint256 slashed) {
        slashed = staking.slash(job.solver, job.requiredStake);
        emit SolverSlashed(jobId, job.solver, slashed);
    }

    /// @dev Moves the job's escrow out of `totalEscrow`; the caller must credit it.
    function _releaseEscrow(Job storage job) internal {
        totalEscrow -= job.maxPrice;
    }
}
