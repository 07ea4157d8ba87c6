// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IMarket} from "./IMarket.sol";

/// @title IAudit
/// @notice Accountable spot checks. Once a job's sample is sealed (IMarket.sealSample), bonded verifiers
///         commit to the end-state hashes they recomputed for the sampled intervals, before the solver's
///         hashes for those checkpoints are disclosed (the coordinator withholds them until the commit
///         window ends). After it ends each verifier reveals; the contract checks every revealed hash
///         against the solver's final root. Once the job is settled (Finalized or Slashed) `settle` pays:
///         - revealed and agreeing with the solver on every sampled interval: bond back plus a share;
///         - revealed a disagreement: bond back plus a share if the job ended Slashed, else forfeited;
///         - never revealed: forfeited.
///         A verifier that approves without replaying cannot reproduce hashes it has not seen, so it
///         forfeits its bond either way: that is what makes the check accountable.
/// @dev Windows: commit while block.timestamp <= sealedAt + commitWindow; reveal after that, until
///      sealedAt + commitWindow + revealWindow, inclusive. The shared pot of a job is what anyone funded
///      (`fund`, the verifier reward) plus the forfeited bonds; it is split equally between the paid
///      verifiers, and goes to the job's submitter (with any remainder of the division) if none is paid.
///      Accounting invariant: address(this).balance == totalHeld() + totalCredits().
interface IAudit {
    /// @notice One verifier's audit of one job.
    struct Entry {
        bytes32 commitment;
        bool revealed;
        /// @dev Every revealed hash equals the solver's committed one.
        bool agreed;
    }

    /// @notice The zero address was given where a contract address is required.
    error ZeroAddress();
    /// @notice The audit bond must be positive.
    error ZeroAuditBond();
    /// @notice Both windows need a length.
    error ZeroWindow();
    /// @notice The job is not under review (Submitted or Disputed).
    error NotUnderReview(IMarket.JobState state);
    /// @notice The job's sample is not sealed yet.
    error SampleNotSealed();
    /// @notice The commit window ended at `deadline`.
    error CommitClosed(uint64 deadline);
    /// @notice The commit window is open until `deadline`: nothing is revealed before it ends.
    error CommitOpen(uint64 deadline);
    /// @notice The reveal window ended at `deadline`.
    error RevealClosed(uint64 deadline);
    /// @notice A commit must send exactly the audit bond.
    error WrongBond(uint256 sent, uint256 bond);
    /// @notice A commitment of zero.
    error EmptyCommitment();
    /// @notice The solver cannot audit its own result.
    error SolverCannotAudit();
    /// @notice The verifier already committed to this job.
    error AlreadyCommitted();
    /// @notice The job already has `MAX_VERIFIERS` audits.
    error TooManyVerifiers();
    /// @notice The caller has no commitment for this job.
    error NotCommitted();
    /// @notice The verifier already revealed.
    error AlreadyRevealed();
    /// @notice The revealed salt and hashes do not hash to the commitment.
    error CommitmentMismatch();
    /// @notice `hashes` and `proofs` must have one entry per sampled interval.
    error WrongSampleLength(uint256 given, uint256 sampleCount);
    /// @notice The job is not settled yet (Finalized, Slashed, Cancelled or Failed).
    error JobNotSettled(IMarket.JobState state);
    /// @notice Reveals are still possible until `deadline`.
    error RevealOpen(uint64 deadline);
    /// @notice The job's audits were already settled.
    error AlreadySettled();
    /// @notice The job's audits are settled: nothing more can be funded.
    error FundingClosed();
    /// @notice Funding must send something.
    error NoFunds();
    /// @notice The caller has no credit to claim.
    error NothingToClaim();

    event AuditFunded(uint256 indexed jobId, address indexed funder, uint256 amount);
    event AuditCommitted(uint256 indexed jobId, address indexed verifier, bytes32 commitment);
    /// @notice `agreed`: every revealed hash equals the solver's; else `firstMismatch` is the first
    ///         sampled interval whose hash differs.
    event AuditRevealed(uint256 indexed jobId, address indexed verifier, bool agreed, uint64 firstMismatch);
    /// @notice The verifier's bond and share (paid) or its forfeited bond (not paid).
    event AuditSettled(uint256 indexed jobId, address indexed verifier, bool paid, uint256 amount);
    /// @notice What was left for the submitter: the whole pot when no verifier was paid, else dust.
    event AuditRefunded(uint256 indexed jobId, address indexed submitter, uint256 amount);
    event Claimed(address indexed account, uint256 amount);

    /// @notice Adds msg.value to the job's pot (the verifiers' reward). Anyone, until the job is settled.
    function fund(uint256 jobId) external payable;

    /// @notice Commits to `keccak256(abi.encode(jobId, msg.sender, salt, hashes))`, `hashes` being the
    ///         recomputed end-state hashes of the sampled intervals in the order of
    ///         IMarket.sampledIntervals. msg.value == auditBond. Sealed jobs under review, in the window.
    function commit(uint256 jobId, bytes32 commitment) external payable;

    /// @notice Opens the commitment and checks each hash against the solver's leaf: `proofs[i]` is the
    ///         Merkle proof of checkpoint sampledIntervals[i] + 1 with `hashes[i]` (any proof, e.g. empty,
    ///         for a hash the verifier disputes). In the reveal window.
    function reveal(uint256 jobId, bytes32 salt, bytes32[] calldata hashes, bytes32[][] calldata proofs) external;

    /// @notice Settles every audit of a settled job (see the contract notice). Anyone may call, once.
    function settle(uint256 jobId) external;

    /// @notice Pays the caller its whole credit.
    function claim() external;

    /// @notice The audit of `jobId` by `verifier`.
    function getEntry(uint256 jobId, address verifier) external view returns (Entry memory);

    /// @notice The verifiers that committed to `jobId`, in commit order.
    function verifiersOf(uint256 jobId) external view returns (address[] memory);

    /// @notice End of the commit window of a sealed job (0 if its sample is not sealed).
    function commitDeadline(uint256 jobId) external view returns (uint64);

    /// @notice End of the reveal window of a sealed job (0 if its sample is not sealed).
    function revealDeadline(uint256 jobId) external view returns (uint64);

    /// @notice The reward funded for a job not yet settled (forfeited bonds join it at settlement).
    function pot(uint256 jobId) external view returns (uint256);

    function settled(uint256 jobId) external view returns (bool);

    function market() external view returns (IMarket);

    /// @notice The bond each verifier posts, exactly.
    function auditBond() external view returns (uint256);

    function commitWindow() external view returns (uint64);

    function revealWindow() external view returns (uint64);

    /// @notice Most audits per job: bounds the gas of `settle`.
    function MAX_VERIFIERS() external view returns (uint256);

    /// @notice Bonds and pots not yet settled.
    function totalHeld() external view returns (uint256);

    function totalCredits() external view returns (uint256);

    function credits(address account) external view returns (uint256);
}
