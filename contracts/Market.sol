// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {IMarket} from "./interfaces/IMarket.sol";
import {IStaking} from "./interfaces/IStaking.sol";

/// @title Market
/// @notice Job escrow, reverse-auction bidding, checkpoint commitments and settlement.
/// @dev Must be an operator of `staking`. Settlement goes through the internal helpers `_payOut`,
///      `_slashSolver`, `_releaseEscrow` and `_credit`, which the dispute game's resolution reuses.
contract Market is IMarket, Ownable, ReentrancyGuard {
    /// @inheritdoc IMarket
    uint256 public constant CHALLENGER_REWARD_BPS = 5_000;

    /// @inheritdoc IMarket
    IStaking public immutable staking;

    /// @inheritdoc IMarket
    uint256 public jobCount;

    /// @inheritdoc IMarket
    uint256 public totalEscrow;

    /// @inheritdoc IMarket
    uint256 public totalCredits;

    /// @inheritdoc IMarket
    mapping(address account => uint256 amount) public credits;

    /// @inheritdoc IMarket
    address public disputeGame;

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
        // INVARIANT: ETH arrives only as escrow (postJob) or as slashed stake, so the books always balance.
        if (msg.sender != address(staking)) revert UnexpectedSender(msg.sender);
    }

    /// @inheritdoc IMarket
    function postJob(
        bytes32 specHash,
        uint64 checkpointCount,
        uint64 checkpointInterval,
        uint256 requiredStake,
        uint64 biddingDuration,
        uint64 executionDuration,
        uint64 challengeDuration
    ) external payable returns (uint256 jobId) {
        // INVARIANT: a job names the spec solvers will run.
        if (specHash == bytes32(0)) revert EmptySpecHash();
        // INVARIANT: the maximum price is paid up front.
        if (msg.value == 0) revert NoEscrow();
        // INVARIANT: a job commits to at least one checkpoint after the initial state.
        if (checkpointCount == 0) revert ZeroCheckpointCount();
        // INVARIANT: checkpoints are at least one step apart.
        if (checkpointInterval == 0) revert ZeroCheckpointInterval();
        // INVARIANT: a solver always has something to lose.
        if (requiredStake == 0) revert ZeroRequiredStake();
        // INVARIANT: every window has a length, so every deadline is a real point in the future.
        if (biddingDuration == 0) revert ZeroBiddingDuration();
        if (executionDuration == 0) revert ZeroExecutionDuration();
        if (challengeDuration == 0) revert ZeroChallengeDuration();

        jobId = ++jobCount;
        uint64 biddingDeadline = uint64(block.timestamp) + biddingDuration;
        Job storage job = _jobs[jobId];
        job.submitter = msg.sender;
        job.specHash = specHash;
        job.maxPrice = msg.value;
        job.requiredStake = requiredStake;
        job.checkpointCount = checkpointCount;
        job.checkpointInterval = checkpointInterval;
        job.biddingDeadline = biddingDeadline;
        job.executionDuration = executionDuration;
        job.challengeDuration = challengeDuration;
        job.state = JobState.Bidding;
        totalEscrow += msg.value;
        emit JobPosted(
            jobId, msg.sender, specHash, msg.value, requiredStake, checkpointCount, checkpointInterval, biddingDeadline
        );
    }

    /// @inheritdoc IMarket
    function bid(uint256 jobId, uint256 price) external {
        Job storage job = _jobIn(jobId, JobState.Bidding);
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
        uint64 executionDeadline = uint64(block.timestamp) + job.executionDuration;
        job.state = JobState.Running;
        job.executionDeadline = executionDeadline;
        emit JobAwarded(jobId, job.solver, job.price, executionDeadline);
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
        uint64 challengeDeadline = uint64(block.timestamp) + job.challengeDuration;
        job.finalRoot = finalRoot;
        job.challengeDeadline = challengeDeadline;
        job.state = JobState.Submitted;
        emit ResultSubmitted(jobId, finalRoot, challengeDeadline);
    }

    /// @inheritdoc IMarket
    function finalize(uint256 jobId) external {
        Job storage job = _jobIn(jobId, JobState.Submitted);
        // INVARIANT: a result is paid only after everyone has had the whole window to challenge it.
        if (block.timestamp <= job.challengeDeadline) revert ChallengeOpen(job.challengeDeadline);
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
    function claim() external nonReentrant {
        uint256 amount = credits[msg.sender];
        // INVARIANT: a claim pays something.
        if (amount == 0) revert NothingToClaim();
        credits[msg.sender] = 0;
        totalCredits -= amount;
        emit Claimed(msg.sender, amount);
        Address.sendValue(payable(msg.sender), amount);
    }

    /// @inheritdoc IMarket
    function setDisputeGame(address game) external onlyOwner {
        // INVARIANT: the game is a real contract address.
        if (game == address(0)) revert ZeroAddress();
        // INVARIANT: the rules of disputes never change under a running job.
        if (disputeGame != address(0)) revert DisputeGameAlreadySet(disputeGame);
        disputeGame = game;
        emit DisputeGameSet(game);
    }

    /// @inheritdoc IMarket
    function openDispute(uint256 jobId) external onlyDisputeGame {
        Job storage job = _jobIn(jobId, JobState.Submitted);
        // INVARIANT: a result can be challenged until its challenge deadline, inclusive.
        if (block.timestamp > job.challengeDeadline) revert ChallengeClosed(job.challengeDeadline);
        job.challengeTimeLeft = job.challengeDeadline - uint64(block.timestamp);
        job.state = JobState.Disputed;
        emit JobDisputed(jobId);
    }

    /// @inheritdoc IMarket
    function resolveDispute(uint256 jobId, bool solverWins, address challenger) external onlyDisputeGame {
        Job storage job = _jobIn(jobId, JobState.Disputed);
        if (solverWins) {
            // A lost challenge must not shorten the window other verifiers have: give back what was left.
            job.challengeDeadline = uint64(block.timestamp) + job.challengeTimeLeft;
            job.challengeTimeLeft = 0;
            job.state = JobState.Submitted;
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

    /// @dev Adds `amount` to what `account` can claim.
    function _credit(address account, uint256 amount) internal {
        if (amount == 0) return;
        credits[account] += amount;
        totalCredits += amount;
    }
}
