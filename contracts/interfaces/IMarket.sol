// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ICredits} from "./ICredits.sol";
import {IAudit} from "./IAudit.sol";
import {IStaking} from "./IStaking.sol";

/// @title IMarket
/// @notice Jobs for ML compute: a submitter escrows the maximum price, staked solvers bid it down in a
///         reverse auction, the winner runs the job, posts Merkle roots of its checkpoints and submits a
///         final root; after a challenge window the solver is paid. Every waiting state has a deadline
///         and an exit anyone can trigger, so no funds are ever stuck.
/// @dev Windows are inclusive of their deadline: an action "before the deadline" is allowed while
///      block.timestamp <= deadline, and the exit after it needs block.timestamp > deadline.
///      Accounting invariant: address(this).balance == totalEscrow() + totalCredits().
///      Money is pull-based: settlements credit accounts, `claim` pays them.
///      A submitted result can be disputed inside its challenge window through the dispute game (set once
///      by the owner): Submitted -> Disputed -> Submitted (solver won, window given back) or Slashed.
interface IMarket is ICredits {
    /// @notice Lifecycle of a job. Bidding -> Running -> Submitted -> Finalized, with the exits
    ///         Bidding -> Cancelled (no bids), Running -> Failed (missed execution deadline) and
    ///         Submitted -> Disputed -> Slashed (the dispute game proved a checkpoint wrong or unavailable),
    ///         and Submitted -> Unverified (the window passed and no drawn verifier approved the result:
    ///         the submitter is refunded, the solver unlocked but unpaid). Disputed means at least one dispute
    ///         is open; several can be open at once (nobody can keep an honest challenger out), and
    ///         once the last one the solver wins closes, the job is Submitted again. Challenges never
    ///         move the challenge deadline: a result is final after it and after every open dispute.
    enum JobState {
        None,
        Bidding,
        Running,
        Submitted,
        Finalized,
        Cancelled,
        Failed,
        Disputed,
        Slashed,
        Unverified
    }

    /// @notice One job. While Bidding, `solver` and `price` hold the current best bid.
    struct Job {
        address submitter;
        address solver;
        bytes32 specHash;
        uint256 maxPrice;
        uint256 price;
        uint256 requiredStake;
        uint64 checkpointCount;
        uint64 checkpointInterval;
        uint64 biddingDeadline;
        uint64 executionDuration;
        uint64 executionDeadline;
        uint64 challengeDuration;
        /// @dev sampleSealedAt + challengeDuration (0 until the sample is sealed): the review runs from the seal.
        uint64 challengeDeadline;
        uint64 checkpointsDone;
        bytes32 progressRoot;
        bytes32 finalRoot;
        JobState state;
        /// @dev Disputes of this result that are open now (the job is Disputed while this is not 0).
        uint64 openDisputes;
        /// @dev How many intervals verifiers replay (drawn by `sampledIntervals` once the seed is sealed).
        uint64 sampleCount;
        /// @dev The block whose hash seeds the sample: the block after the one holding `submitResult`.
        uint64 sampleBlock;
        /// @dev When `sealSample` fixed the seed (0: not sealed yet).
        uint64 sampleSealedAt;
        /// @dev keccak256(abi.encode(blockhash(sampleBlock), jobId, finalRoot)); zero until sealed.
        bytes32 sampleSeed;
        /// @dev When the final root was submitted: the audit's verifier set is read as of before it.
        uint64 submittedAt;
    }

    /// @notice The fields of a job its audit reads (`reviewOf`).
    struct Review {
        JobState state;
        address submitter;
        address solver;
        uint64 checkpointInterval;
        uint64 sampleSealedAt;
        uint64 submittedAt;
        bytes32 sampleSeed;
    }

    /// @notice The zero address was given where a contract address is required.
    error ZeroAddress();
    /// @notice The job spec hash is zero.
    error EmptySpecHash();
    /// @notice No ETH was sent to escrow the job's maximum price.
    error NoEscrow();
    /// @notice The job has no checkpoints.
    error ZeroCheckpointCount();
    /// @notice The job's checkpoint interval is zero steps.
    error ZeroCheckpointInterval();
    /// @notice The job requires no stake from its solver.
    error ZeroRequiredStake();
    /// @notice The job samples no interval: a cheater would never be caught.
    error ZeroSampleCount();
    /// @notice The job samples more intervals than it has.
    error TooManySamples(uint64 sampleCount, uint64 checkpointCount);
    /// @notice The required stake is below `minimumStake(maxPrice, checkpointCount, sampleCount)`.
    error StakeBelowMinimum(uint256 requiredStake, uint256 minimum);
    /// @notice The sample's seed block `sampleBlock` has not been mined yet.
    error SampleBlockNotMined(uint64 sampleBlock);
    /// @notice The sample of this job is already sealed.
    error SampleAlreadySealed();
    /// @notice The sample of this job is not sealed yet (`sealSample`).
    error SampleNotSealed();
    /// @notice The bidding window has zero length.
    error ZeroBiddingDuration();
    /// @notice The execution window has zero length.
    error ZeroExecutionDuration();
    /// @notice The challenge window has zero length.
    error ZeroChallengeDuration();
    /// @notice No job has this id.
    error UnknownJob(uint256 jobId);
    /// @notice The job is not in the state the action needs.
    error WrongJobState(JobState expected, JobState actual);
    /// @notice The bidding window ended at `deadline`.
    error BiddingClosed(uint64 deadline);
    /// @notice The bidding window is open until `deadline`.
    error BiddingOpen(uint64 deadline);
    /// @notice A bid price of zero.
    error ZeroPrice();
    /// @notice The bid asks more than the escrowed maximum price.
    error BidTooHigh(uint256 price, uint256 maxPrice);
    /// @notice The bid is not strictly lower than the current best bid.
    error BidNotLower(uint256 price, uint256 bestPrice);
    /// @notice The bidder's free stake does not cover the job's required stake.
    error InsufficientStake(uint256 freeStake, uint256 requiredStake);
    /// @notice The caller is not the job's solver.
    error NotSolver(address caller);
    /// @notice The job is reserved for another solver (`reservedSolver`): only it may bid.
    error NotReservedSolver(address caller);
    /// @notice The execution window ended at `deadline`.
    error ExecutionClosed(uint64 deadline);
    /// @notice The execution window is open until `deadline`.
    error ExecutionOpen(uint64 deadline);
    /// @notice The challenge window is open until `deadline`.
    error ChallengeOpen(uint64 deadline);
    /// @notice A Merkle root of zero.
    error EmptyRoot();
    /// @notice Progress must strictly increase.
    error ProgressNotIncreasing(uint64 checkpointsDone, uint64 previous);
    /// @notice Progress cannot exceed the job's checkpoint count.
    error TooManyCheckpoints(uint64 checkpointsDone, uint64 checkpointCount);
    /// @notice Only the staking contract sends ETH to the market (slashed stake).
    error UnexpectedSender(address sender);
    /// @notice The dispute game can be set only once.
    error DisputeGameAlreadySet(address game);
    /// @notice The caller is not the dispute game.
    error NotDisputeGame(address caller);
    /// @notice The challenge window ended at `deadline`.
    error ChallengeClosed(uint64 deadline);
    /// @notice Challenges open once the audit's commit window has ended, at `opensAt` (exclusive).
    error ChallengeNotOpen(uint64 opensAt);
    /// @notice A window is longer than MAX_DURATION.
    error DurationTooLong(uint64 duration, uint64 maximum);
    /// @notice More checkpoints than MAX_CHECKPOINT_COUNT (proofs and the sample must fit in a block).
    error CheckpointCountTooLarge(uint64 checkpointCount, uint64 maximum);
    /// @notice More steps between checkpoints than MAX_CHECKPOINT_INTERVAL (bounds a dispute's rounds).
    error CheckpointIntervalTooLarge(uint64 checkpointInterval, uint64 maximum);
    /// @notice More sampled intervals than MAX_SAMPLE_COUNT (an audit reveal must fit in a block).
    error SampleCountTooLarge(uint64 sampleCount, uint64 maximum);
    /// @notice The challenge window cannot hold the audit's commit and reveal windows (`minimum` seconds).
    error ChallengeWindowTooShort(uint64 challengeDuration, uint64 minimum);
    /// @notice No audit is wired yet (`setAudit`): jobs cannot be reviewed, so none can be posted.
    error AuditNotSet();
    /// @notice The audit can be set only once.
    error AuditAlreadySet(address audit);
    /// @notice The audit reviews another market.
    error AuditOfAnotherMarket(address audit);

    event JobPosted(
        uint256 indexed jobId,
        address indexed submitter,
        bytes32 specHash,
        uint256 maxPrice,
        uint256 requiredStake,
        uint64 checkpointCount,
        uint64 checkpointInterval,
        uint64 biddingDeadline
    );
    /// @notice The job, just posted, is reserved for `solver`: it alone may take it (`postReserved`).
    event JobReserved(uint256 indexed jobId, address indexed solver);
    event BidPlaced(uint256 indexed jobId, address indexed solver, uint256 price);
    event JobAwarded(uint256 indexed jobId, address indexed solver, uint256 price, uint64 executionDeadline);
    event JobCancelled(uint256 indexed jobId);
    event ProgressPosted(uint256 indexed jobId, uint64 checkpointsDone, bytes32 progressRoot);
    /// @notice The final root is in; the hash of block `sampleBlock` will seed the sample.
    event ResultSubmitted(uint256 indexed jobId, bytes32 finalRoot, uint64 sampleBlock);
    event JobFinalized(uint256 indexed jobId, uint256 solverPayout, uint256 submitterRefund);
    event SolverSlashed(uint256 indexed jobId, address indexed solver, uint256 amount);
    event JobFailed(uint256 indexed jobId);
    /// @notice No drawn verifier approved the result by the end of its window: escrow back, solver unpaid.
    event JobUnverified(uint256 indexed jobId);
    event AuditSet(address indexed audit);
    event DisputeGameSet(address indexed game);
    event JobDisputed(uint256 indexed jobId);
    /// @notice A dispute over the job ended: the solver won (job back to Submitted) or was slashed.
    event DisputeSettled(uint256 indexed jobId, bool solverWon);
    /// @notice The job's sample is fixed: `sampledIntervals(jobId)` now answers; the review runs until
    ///         `challengeDeadline`.
    event SampleSealed(uint256 indexed jobId, bytes32 seed, uint64 sampleBlock, uint64 challengeDeadline);
    /// @notice Nobody sealed within 256 blocks of `sampleBlock` (its hash is gone): a later block seeds it.
    event SampleRearmed(uint256 indexed jobId, uint64 sampleBlock);

    /// @notice Posts a job; msg.value is escrowed as the maximum price. Bidding opens at once.
    /// @param specHash Hash of the declarative job spec (served by the coordinator, checked by everyone).
    /// @param checkpointCount Number of checkpoints after the initial state (leaves 0..checkpointCount).
    /// @param checkpointInterval Training steps between consecutive checkpoints.
    /// @param sampleCount Intervals verifiers replay, drawn after the result is in (1..checkpointCount).
    /// @param requiredStake Stake the winning solver must have locked while it holds the job; at least
    ///        `minimumStake(msg.value, checkpointCount, sampleCount)`.
    /// @param biddingDuration Seconds bidding stays open.
    /// @param executionDuration Seconds the solver has, from the award, to submit its result.
    /// @param challengeDuration Seconds the result is under review, from the seal of its sample: at least
    ///        `minimumChallengeDuration()` (the audit's commit and reveal windows), at most MAX_DURATION,
    ///        like the other two windows.
    /// @return jobId The new job's id; ids start at 1.
    function postJob(
        bytes32 specHash,
        uint64 checkpointCount,
        uint64 checkpointInterval,
        uint64 sampleCount,
        uint256 requiredStake,
        uint64 biddingDuration,
        uint64 executionDuration,
        uint64 challengeDuration
    ) external payable returns (uint256 jobId);

    /// @notice Posts a job reserved for `solver`, which alone may take it; msg.value is escrowed as the maximum
    ///         price. Everything else is an ordinary job: the same checks as `postJob`, and once taken it is
    ///         committed, sampled, audited, disputed, paid or slashed exactly like one. Used by the swarm
    ///         (ISwarm) to give each (round, replica) of a K-replica job to the replica's slot holder.
    /// @dev The job's `submitter` is `beneficiary`: it is refunded, credited a slashed stake and the audit's
    ///      unused pot. The caller pays the escrow; naming another beneficiary is only a gift to it.
    ///      `solver` accepts by bidding (`bid`, at most the maximum price, its free stake covering
    ///      `requiredStake`): its first valid bid locks the stake and awards the job at once (Running, the
    ///      execution window opens). Not accepted by `now + acceptDuration`: `closeBidding` cancels it as
    ///      any job without bids, and the beneficiary is credited the escrow.
    /// @param acceptDuration Seconds the solver has to accept (the job's bidding window); the other parameters
    ///        are `postJob`'s. Reverts ZeroAddress for a zero `solver` or `beneficiary`.
    /// @return jobId The new job's id, from the same sequence as `postJob`'s.
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
    ) external payable returns (uint256 jobId);

    /// @notice The solver a job is reserved for (`postReserved`); zero for a job open to all (`postJob`).
    function reservedSolver(uint256 jobId) external view returns (address);

    /// @notice Bids `price` for the job (reverse auction). The bid becomes the best bid only if it is
    ///         strictly lower than the current best: on a tie, the earlier bid keeps the job.
    ///         A reserved job (`reservedSolver`) takes bids from its solver alone (else NotReservedSolver),
    ///         and its first valid bid awards it at once (BidPlaced, then JobAwarded: Running).
    /// @dev The market locks the new best bidder's required stake and unlocks the displaced bidder's,
    ///      so only the current best bidder has stake locked and the award cannot fail for lack of
    ///      stake. A best bidder lowering its own bid keeps its single lock.
    function bid(uint256 jobId, uint256 price) external;

    /// @notice After the bidding deadline: awards the job to the best bid (-> Running) or, with no bids,
    ///         cancels it and credits the submitter its escrow (-> Cancelled). Anyone may call. A reserved
    ///         job still Bidding here was never accepted: it is cancelled.
    function closeBidding(uint256 jobId) external;

    /// @notice The solver commits to the Merkle root over its first `checkpointsDone` checkpoints.
    function postProgress(uint256 jobId, uint64 checkpointsDone, bytes32 progressRoot) external;

    /// @notice The solver commits to the Merkle root over all checkpoints, which is also its last progress root
    ///         (`checkpointsDone` = checkpointCount, `progressRoot` = finalRoot: the last checkpoint needs no
    ///         `postProgress` of its own). The hash of the next block will seed the sample (`sampleBlock`); the
    ///         review window opens when it is sealed.
    function submitResult(uint256 jobId, bytes32 finalRoot) external;

    /// @notice Fixes the job's sample seed from the hash of `sampleBlock`, a block that did not exist when
    ///         the final root was committed. Submitted or Disputed jobs, once that block is mined. If it is
    ///         more than 256 blocks old its hash is unavailable: the sample is re-armed on the next block
    ///         instead (SampleRearmed) and must be sealed again. Sealing starts the review: the audit's
    ///         commit window, then challenges until `challengeDeadline = now + challengeDuration`.
    ///         Anyone may call (the solver, to be paid; the submitter, to be refunded; any keeper).
    function sealSample(uint256 jobId) external;

    /// @notice The sealed sample: `sampleCount` distinct interval indices in [0, checkpointCount), interval
    ///         i being checkpoint i -> i + 1, uniform without replacement (Robert Floyd's algorithm over
    ///         keccak256(abi.encode(seed, i)) draws). Reverts SampleNotSealed before `sealSample`.
    function sampledIntervals(uint256 jobId) external view returns (uint64[] memory);

    /// @notice The smallest stake that makes every cheating strategy a losing bet, by the default model of
    ///         pinpoint/economics.py (cost 4/5 of the payment, extra gain from a wrong result equal to the
    ///         payment, sure enforcement, margin 5/4): faking one interval is the worst strategy, which
    ///         bounds the stake by S* = floor(P (4 + 5n - 10s) / (5s)) + 1 (0 if negative) and asks
    ///         ceil(5 S* / 4), and never less than P itself (the floor: a stake always matches the escrow).
    ///         P is the maximum price, n the checkpoint count, s the sample count.
    function minimumStake(uint256 maxPrice, uint64 checkpointCount, uint64 sampleCount)
        external
        pure
        returns (uint256);

    /// @notice Blocks between the one holding `submitResult` and the one whose hash seeds the sample.
    function SAMPLE_DELAY_BLOCKS() external view returns (uint64);

    /// @notice The shortest challenge window a job may have: the audit's commit plus reveal windows.
    function minimumChallengeDuration() external view returns (uint64);

    /// @notice The longest bidding, execution or challenge window a job may have (365 days).
    function MAX_DURATION() external view returns (uint64);

    /// @notice The most checkpoints a job may commit to (2^20: proofs of at most 21 hashes).
    function MAX_CHECKPOINT_COUNT() external view returns (uint64);

    /// @notice The most steps between two checkpoints (2^20: a dispute narrows them in at most 5 rounds of 16 segments).
    function MAX_CHECKPOINT_INTERVAL() external view returns (uint64);

    /// @notice The most intervals a job may sample (128: an audit reveal, with its proofs, and the
    ///         settlement that re-draws the sample stay far inside a block; tests measure them at the bounds).
    function MAX_SAMPLE_COUNT() external view returns (uint64);

    /// @notice After the challenge window of a sealed result: if at least one drawn verifier revealed
    ///         agreement (`IAudit.agreements`), credits the solver its price and the submitter the rest
    ///         of the escrow (-> Finalized); else credits the submitter the whole escrow (-> Unverified).
    ///         Either way the solver's stake is unlocked. Anyone may call.
    function finalize(uint256 jobId) external;

    /// @notice After a missed execution deadline: slashes the solver's required stake and credits it,
    ///         with the full escrow, to the submitter. Anyone may call.
    function reportMissedDeadline(uint256 jobId) external;

    /// @notice Sets the dispute game, once. Owner only. Once both the game and the audit are set the
    ///         market renounces its owner: the wiring is fixed and nobody holds power over it.
    function setDisputeGame(address game) external;

    /// @notice Sets the audit, once: its windows bound the jobs' challenge windows and its agreements
    ///         decide payment. Owner only.
    function setAudit(IAudit audit_) external;

    /// @notice The audit reviewing this market's results (zero until set).
    function audit() external view returns (IAudit);

    /// @notice The game opens one more dispute of a Submitted or Disputed job, after its audit commit
    ///         window and inside its challenge window: -> Disputed, `openDisputes` + 1. Dispute game only.
    /// @return solver The job's solver.
    /// @return checkpointCount The job's checkpoint count.
    /// @return checkpointInterval Steps between its checkpoints (what the game needs, without `getJob`'s copy).
    function openDispute(uint256 jobId)
        external
        returns (address solver, uint64 checkpointCount, uint64 checkpointInterval);

    /// @notice Ends one dispute over a Disputed job. Dispute game only.
    ///         Solver won: `openDisputes` - 1, and back to Submitted when none is left open (the challenge
    ///         deadline never moved: other challengers could open theirs all along).
    ///         Solver lost: its required stake is slashed; `challenger` is credited
    ///         slashed * CHALLENGER_REWARD_BPS / 10_000 and the submitter the rest of the stake plus the
    ///         whole escrow (maxPrice); -> Slashed.
    function resolveDispute(uint256 jobId, bool solverWins, address challenger) external;

    /// @notice The share of a slashed stake, in basis points, paid to the challenger who proved the fault
    ///         (5_000: half; the harmed submitter gets the other half on top of its whole escrow).
    function CHALLENGER_REWARD_BPS() external view returns (uint256);

    /// @notice The dispute game allowed to open and resolve disputes (zero until set).
    function disputeGame() external view returns (address);

    /// @notice The staking contract whose stake backs bids.
    function staking() external view returns (IStaking);

    /// @notice The job with id `jobId` (all zero, state None, if there is none).
    function getJob(uint256 jobId) external view returns (Job memory);

    /// @notice What the audit reads of job `jobId` (all zero, state None, if there is none): seven slots, not
    ///         `getJob`'s twenty.
    function reviewOf(uint256 jobId) external view returns (Review memory);

    /// @notice Who posted job `jobId` and its spec hash (zeros if there is none): two slots, not `getJob`'s copy.
    function specOf(uint256 jobId) external view returns (address submitter, bytes32 specHash);

    /// @notice The state of job `jobId` alone (None if there is none): cheaper than `getJob`.
    function jobState(uint256 jobId) external view returns (JobState);

    /// @notice Number of jobs posted; also the id of the latest one.
    function jobCount() external view returns (uint256);

    /// @notice Sum of the escrow of all jobs not yet settled (Bidding, Running, Submitted, Disputed).
    function totalEscrow() external view returns (uint256);

    /// @notice Whether (index, step, stateHash) is a checkpoint under the job's final root.
    /// @dev Leaf: keccak256(bytes.concat(keccak256(abi.encode(jobId, index, step, stateHash)))), the
    ///      OpenZeppelin StandardMerkleTree leaf for types ["uint256","uint256","uint256","bytes32"].
    ///      False unless index <= checkpointCount and step == index * checkpointInterval.
    function verifyCheckpoint(uint256 jobId, uint256 index, uint256 step, bytes32 stateHash, bytes32[] calldata proof)
        external
        view
        returns (bool);

    /// @notice The Merkle leaf of checkpoint `index` of job `jobId`.
    function checkpointLeaf(uint256 jobId, uint256 index, uint256 step, bytes32 stateHash)
        external
        pure
        returns (bytes32);
}
