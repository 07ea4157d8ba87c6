// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ICredits} from "./ICredits.sol";
import {IMarket} from "./IMarket.sol";

/// @title IAudit
/// @notice Accountable spot checks by a drawn committee of bonded verifiers.
///         Registry: verifiers register stake here (`register`); it is never slashed, only locked, and
///         leaves after `verifierDelay` (`requestExit`, `withdrawStake`). A job's committee is read from
///         the stake as it was `verifierDelay` seconds before the result was submitted, so nobody can
///         (re)arrange it once the sample's seed exists: verifier v is drawn iff
///         keccak256(seed, v) mod T < committeeSize * s_v (T, s_v: total and v's stake then), so a
///         verifier's chance grows with its stake (capped at 1), splitting stake across addresses below
///         that cap gains nothing (above it, each address holds a sure seat), and the draws are
///         independent: other verifiers' stake never crowds one out. The job's solver is never drawn.
///         Audit: once a job's sample is sealed (IMarket.sealSample), drawn verifiers commit to the
///         end-state hashes they recomputed for the sampled intervals, with a bond, before the solver's
///         hashes for those checkpoints are disclosed (the coordinator withholds them until the commit
///         window ends). After it ends each verifier reveals; the contract checks every revealed hash
///         against the solver's final root. An agreeing reveal is what lets the market pay the solver
///         (`agreements`). Once the job is settled `settle` pays each audit by the verdict that stood:
///         - Finalized or Unverified: revealed agreement -> bond + share; anything else -> forfeited.
///         - Slashed by a fault dispute over interval d, with the winning challenger's hash h at
///           checkpoint d + 1: if d was sampled, a reveal whose lowest mismatching interval is d with
///           hash h -> bond + share; one whose lowest mismatch is d with another hash, or below d -> bond
///           back (the game proves the solver's claim wrong, not the challenger's hash right, and an
///           earlier doubt was never judged); one that approved checkpoint d + 1 -> forfeited. If d was
///           not sampled, every reveal -> bond back (the sample missed the fault: nobody is paid for it).
///         - Slashed for unavailable data: every reveal -> bond back.
///         - Never revealed -> forfeited.
///         A verifier that approves without replaying cannot reproduce hashes it has not seen, so it
///         forfeits its bond on honest work and never profits from someone else's catch.
/// @dev Windows: commit while block.timestamp <= sealedAt + commitWindow; reveal after that, until
///      sealedAt + commitWindow + revealWindow, inclusive. The shared pot of a job is what anyone funded
///      (`fund`, the verifier reward) plus the forfeited bonds; it is split equally between the paid
///      verifiers, and goes to the job's submitter (with any remainder of the division) if none is paid.
///      Accounting invariant: address(this).balance == totalHeld() + totalCredits().
interface IAudit is ICredits {
    /// @notice One verifier's audit of one job.
    struct Entry {
        bytes32 commitment;
        bool revealed;
        /// @dev Every revealed hash equals the solver's committed one.
        bool agreed;
        /// @dev When not agreed: the lowest sampled interval whose revealed hash differs, and that hash.
        uint64 firstMismatch;
        bytes32 mismatchHash;
    }

    /// @notice How one audit settled.
    enum Outcome {
        Forfeited,
        Refunded,
        Paid
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
    /// @notice The caller was not drawn for this job's committee (see `isDrawn`).
    error NotDrawn();
    /// @notice Registration must leave at least `minimum` stake.
    error StakeTooLow(uint256 stake, uint256 minimum);
    /// @notice The caller has no registered stake.
    error NotRegistered();
    /// @notice Nothing is waiting to be withdrawn.
    error NoPendingExit();
    /// @notice The stake can be withdrawn from `availableAt`.
    error ExitNotReady(uint64 availableAt);
    /// @notice The expected committee size must be positive.
    error ZeroCommitteeSize();
    /// @notice The verifier delay must be at least one second (the set is read strictly before submission).
    error ZeroVerifierDelay();
    /// @notice A window or delay is longer than MAX_WINDOW.
    error WindowTooLong(uint64 window, uint64 maximum);
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
    /// @notice The job is not settled yet (Finalized, Unverified, Slashed, Cancelled or Failed).
    error JobNotSettled(IMarket.JobState state);
    /// @notice Reveals are still possible until `deadline`.
    error RevealOpen(uint64 deadline);
    /// @notice The job's audits were already settled.
    error AlreadySettled();
    /// @notice The job's audits are settled: nothing more can be funded.
    error FundingClosed();
    /// @notice Funding must send something.
    error NoFunds();

    event VerifierRegistered(address indexed verifier, uint256 added, uint256 stake);
    event VerifierExiting(address indexed verifier, uint256 amount, uint64 availableAt);
    event VerifierWithdrawn(address indexed verifier, uint256 amount);
    event AuditFunded(uint256 indexed jobId, address indexed funder, uint256 amount);
    event AuditCommitted(uint256 indexed jobId, address indexed verifier, bytes32 commitment);
    /// @notice `agreed`: every revealed hash equals the solver's; else `firstMismatch` is the lowest
    ///         sampled interval whose hash differs.
    event AuditRevealed(uint256 indexed jobId, address indexed verifier, bool agreed, uint64 firstMismatch);
    /// @notice Paid: bond + share credited (`amount`); Refunded: bond credited; Forfeited: `amount` lost.
    event AuditSettled(uint256 indexed jobId, address indexed verifier, Outcome outcome, uint256 amount);
    /// @notice What was left for the submitter: the whole pot when no verifier was paid, else dust.
    event AuditRefunded(uint256 indexed jobId, address indexed submitter, uint256 amount);

    /// @notice Adds msg.value to the caller's verifier stake; the result must be at least minVerifierStake.
    ///         It counts for jobs submitted more than `verifierDelay` seconds from now.
    function register() external payable;

    /// @notice Takes the caller's whole stake out of the registry now; withdrawable after verifierDelay.
    function requestExit() external;

    /// @notice Credits the caller its exited stake once its delay has passed (then `claim`).
    function withdrawStake() external;

    /// @notice The stake `verifier` has registered now.
    function stakeOf(address verifier) external view returns (uint256);

    /// @notice The stake `verifier` had registered at `timestamp` (end of that second).
    function stakeAt(address verifier, uint256 timestamp) external view returns (uint256);

    /// @notice The total registered stake at `timestamp`.
    function totalStakeAt(uint256 timestamp) external view returns (uint256);

    /// @notice Whether `verifier` is on the committee of `jobId` (false until its sample is sealed).
    function isDrawn(uint256 jobId, address verifier) external view returns (bool);

    /// @notice Adds msg.value to the job's pot (the verifiers' reward). Anyone, until the job is settled.
    function fund(uint256 jobId) external payable;

    /// @notice Commits to `keccak256(abi.encode(jobId, msg.sender, salt, hashes))`, `hashes` being the
    ///         recomputed end-state hashes of the sampled intervals in the order of
    ///         IMarket.sampledIntervals. msg.value == auditBond. Drawn verifiers (`isDrawn`) of sealed jobs
    ///         under review, in the commit window.
    function commit(uint256 jobId, bytes32 commitment) external payable;

    /// @notice Opens the commitment and checks each hash against the solver's leaf: `proofs[i]` is the
    ///         Merkle proof of checkpoint sampledIntervals[i] + 1 with `hashes[i]` (any proof, e.g. empty,
    ///         for a hash the verifier disputes). In the reveal window.
    function reveal(uint256 jobId, bytes32 salt, bytes32[] calldata hashes, bytes32[][] calldata proofs) external;

    /// @notice Settles every audit of a settled job (see the contract notice). Anyone may call, once.
    function settle(uint256 jobId) external;

    /// @notice Revealed agreements with the job's result: the market pays the solver only if there is one.
    function agreements(uint256 jobId) external view returns (uint256);

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

    /// @notice Most audits per job: bounds the gas of `settle` (the committee averages committeeSize).
    function MAX_VERIFIERS() external view returns (uint256);

    /// @notice The longest commit window, reveal window or verifier delay a deployment may have (30 days).
    function MAX_WINDOW() external view returns (uint64);

    /// @notice The least stake a registered verifier holds.
    function minVerifierStake() external view returns (uint256);

    /// @notice How long stake waits before it counts (and after it exits before it is withdrawn), seconds.
    function verifierDelay() external view returns (uint64);

    /// @notice The expected number of drawn verifiers per job.
    function committeeSize() external view returns (uint256);

    /// @notice Registered and exiting stake, bonds and pots not yet settled.
    function totalHeld() external view returns (uint256);
}
