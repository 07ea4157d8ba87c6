// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";

import {IAudit} from "./interfaces/IAudit.sol";
import {IMarket} from "./interfaces/IMarket.sol";

/// @title Audit
/// @notice Commit-reveal spot checks by bonded verifiers; see IAudit for the rules.
contract Audit is IAudit, ReentrancyGuard {
    /// @inheritdoc IAudit
    uint256 public constant MAX_VERIFIERS = 16;

    /// @inheritdoc IAudit
    IMarket public immutable market;
    /// @inheritdoc IAudit
    uint256 public immutable auditBond;
    /// @inheritdoc IAudit
    uint64 public immutable commitWindow;
    /// @inheritdoc IAudit
    uint64 public immutable revealWindow;

    /// @inheritdoc IAudit
    uint256 public totalHeld;
    /// @inheritdoc IAudit
    uint256 public totalCredits;
    /// @inheritdoc IAudit
    mapping(address account => uint256 amount) public credits;
    /// @inheritdoc IAudit
    mapping(uint256 jobId => bool) public settled;

    mapping(uint256 jobId => uint256) private _funded;
    mapping(uint256 jobId => address[]) private _verifiers;
    mapping(uint256 jobId => mapping(address verifier => Entry)) private _entries;

    constructor(IMarket market_, uint256 auditBond_, uint64 commitWindow_, uint64 revealWindow_) {
        if (address(market_) == address(0)) revert ZeroAddress();
        // INVARIANT: a verifier always has something to lose.
        if (auditBond_ == 0) revert ZeroAuditBond();
        // INVARIANT: every window has a length, so every deadline is a real point in the future.
        if (commitWindow_ == 0 || revealWindow_ == 0) revert ZeroWindow();
        market = market_;
        auditBond = auditBond_;
        commitWindow = commitWindow_;
        revealWindow = revealWindow_;
    }

    /// @inheritdoc IAudit
    function fund(uint256 jobId) external payable {
        if (msg.value == 0) revert NoFunds();
        // INVARIANT: a pot that was paid out stays closed, so nothing is left behind in it.
        if (settled[jobId]) revert FundingClosed();
        // INVARIANT: only a posted job has a submitter to refund an unused pot to.
        if (market.getJob(jobId).state == IMarket.JobState.None) revert NotUnderReview(IMarket.JobState.None);
        _funded[jobId] += msg.value;
        totalHeld += msg.value;
        emit AuditFunded(jobId, msg.sender, msg.value);
    }

    /// @inheritdoc IAudit
    function commit(uint256 jobId, bytes32 commitment) external payable {
        IMarket.Job memory job = market.getJob(jobId);
        // INVARIANT: audits are of results under review, drawn from a sealed sample.
        if (job.state != IMarket.JobState.Submitted && job.state != IMarket.JobState.Disputed) {
            revert NotUnderReview(job.state);
        }
        if (job.sampleSealedAt == 0) revert SampleNotSealed();
        uint64 deadline = job.sampleSealedAt + commitWindow;
        // INVARIANT: every commitment precedes every reveal.
        if (block.timestamp > deadline) revert CommitClosed(deadline);
        if (msg.value != auditBond) revert WrongBond(msg.value, auditBond);
        if (commitment == bytes32(0)) revert EmptyCommitment();
        // INVARIANT: the solver is not paid for approving itself.
        if (msg.sender == job.solver) revert SolverCannotAudit();
        Entry storage entry = _entries[jobId][msg.sender];
        if (entry.commitment != bytes32(0)) revert AlreadyCommitted();
        // INVARIANT: settlement loops over the verifiers, so their number is bounded.
        if (_verifiers[jobId].length >= MAX_VERIFIERS) revert TooManyVerifiers();
        entry.commitment = commitment;
        _verifiers[jobId].push(msg.sender);
        totalHeld += msg.value;
        emit AuditCommitted(jobId, msg.sender, commitment);
    }

    /// @inheritdoc IAudit
    function reveal(uint256 jobId, bytes32 salt, bytes32[] calldata hashes, bytes32[][] calldata proofs) external {
        IMarket.Job memory job = market.getJob(jobId);
        if (job.sampleSealedAt == 0) revert SampleNotSealed();
        uint64 commitEnd = job.sampleSealedAt + commitWindow;
        // INVARIANT: nobody reveals while others can still commit (they would copy the hashes).
        if (block.timestamp <= commitEnd) revert CommitOpen(commitEnd);
        if (block.timestamp > commitEnd + revealWindow) revert RevealClosed(commitEnd + revealWindow);
        Entry storage entry = _entries[jobId][msg.sender];
        if (entry.commitment == bytes32(0)) revert NotCommitted();
        if (entry.revealed) revert AlreadyRevealed();
        // INVARIANT: a verifier reveals exactly what it committed to before seeing the solver's hashes.
        if (keccak256(abi.encode(jobId, msg.sender, salt, hashes)) != entry.commitment) revert CommitmentMismatch();

        (bool agreed, uint64 firstMismatch) = _compare(jobId, job.checkpointInterval, hashes, proofs);
        entry.revealed = true;
        entry.agreed = agreed;
        emit AuditRevealed(jobId, msg.sender, agreed, firstMismatch);
    }

    /// @inheritdoc IAudit
    function settle(uint256 jobId) external {
        if (settled[jobId]) revert AlreadySettled();
        IMarket.Job memory job = market.getJob(jobId);
        // INVARIANT: audits are judged only once the job's outcome is final. A job that ended Cancelled or
        // Failed was never submitted, so it has no audits: its funded pot goes back to the submitter.
        IMarket.JobState state = job.state;
        if (
            state != IMarket.JobState.Finalized && state != IMarket.JobState.Slashed
                && state != IMarket.JobState.Cancelled && state != IMarket.JobState.Failed
        ) revert JobNotSettled(state);
        address[] storage verifiers = _verifiers[jobId];
        uint256 count = verifiers.length;
        if (count > 0) {
            uint64 revealEnd = job.sampleSealedAt + commitWindow + revealWindow;
            // INVARIANT: every verifier had the whole reveal window.
            if (block.timestamp <= revealEnd) revert RevealOpen(revealEnd);
        }
        settled[jobId] = true;
        bool slashed = job.state == IMarket.JobState.Slashed;

        uint256 paidCount;
        for (uint256 i; i < count; ++i) {
            if (_isPaid(_entries[jobId][verifiers[i]], slashed)) ++paidCount;
        }
        uint256 pool = _funded[jobId] + (count - paidCount) * auditBond;
        uint256 share = paidCount == 0 ? 0 : pool / paidCount;
        for (uint256 i; i < count; ++i) {
            address verifier = verifiers[i];
            bool paid = _isPaid(_entries[jobId][verifier], slashed);
            if (paid) _credit(verifier, auditBond + share);
            emit AuditSettled(jobId, verifier, paid, paid ? auditBond + share : auditBond);
        }
        uint256 left = pool - share * paidCount;
        if (left > 0) {
            _credit(job.submitter, left);
            emit AuditRefunded(jobId, job.submitter, left);
        }
        totalHeld -= _funded[jobId] + count * auditBond;
    }

    /// @inheritdoc IAudit
    function claim() external nonReentrant {
        uint256 amount = credits[msg.sender];
        if (amount == 0) revert NothingToClaim();
        credits[msg.sender] = 0;
        totalCredits -= amount;
        emit Claimed(msg.sender, amount);
        Address.sendValue(payable(msg.sender), amount);
    }

    /// @inheritdoc IAudit
    function getEntry(uint256 jobId, address verifier) external view returns (Entry memory) {
        return _entries[jobId][verifier];
    }

    /// @inheritdoc IAudit
    function verifiersOf(uint256 jobId) external view returns (address[] memory) {
        return _verifiers[jobId];
    }

    /// @inheritdoc IAudit
    function commitDeadline(uint256 jobId) external view returns (uint64) {
        uint64 sealedAt = market.getJob(jobId).sampleSealedAt;
        return sealedAt == 0 ? 0 : sealedAt + commitWindow;
    }

    /// @inheritdoc IAudit
    function revealDeadline(uint256 jobId) external view returns (uint64) {
        uint64 sealedAt = market.getJob(jobId).sampleSealedAt;
        return sealedAt == 0 ? 0 : sealedAt + commitWindow + revealWindow;
    }

    /// @inheritdoc IAudit
    function pot(uint256 jobId) external view returns (uint256) {
        return settled[jobId] ? 0 : _funded[jobId];
    }

    /// @dev Whether every hash is the solver's leaf at the end of its sampled interval; else the first
    ///      sampled interval whose hash differs.
    function _compare(uint256 jobId, uint64 checkpointInterval, bytes32[] calldata hashes, bytes32[][] calldata proofs)
        internal
        view
        returns (bool agreed, uint64 firstMismatch)
    {
        uint64[] memory sample = market.sampledIntervals(jobId);
        if (hashes.length != sample.length) revert WrongSampleLength(hashes.length, sample.length);
        if (proofs.length != sample.length) revert WrongSampleLength(proofs.length, sample.length);
        for (uint256 i; i < sample.length; ++i) {
            uint256 end = uint256(sample[i]) + 1;
            if (!market.verifyCheckpoint(jobId, end, end * checkpointInterval, hashes[i], proofs[i])) {
                return (false, sample[i]);
            }
        }
        return (true, 0);
    }

    /// @dev Paid: revealed, and either agreed with the solver or disagreed with a solver that was slashed.
    function _isPaid(Entry storage entry, bool slashed) internal view returns (bool) {
        return entry.revealed && (entry.agreed || slashed);
    }

    function _credit(address account, uint256 amount) internal {
        credits[account] += amount;
        totalCredits += amount;
    }
}
