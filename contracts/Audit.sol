// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Checkpoints} from "@openzeppelin/contracts/utils/structs/Checkpoints.sol";

import {Credits} from "./Credits.sol";
import {IAudit} from "./interfaces/IAudit.sol";
import {IDisputeGame} from "./interfaces/IDisputeGame.sol";
import {IMarket} from "./interfaces/IMarket.sol";

/// @title Audit
/// @notice A stake-weighted verifier registry and commit-reveal spot checks by each job's drawn
///         committee; see IAudit for the rules.
contract Audit is IAudit, Credits {
    using Checkpoints for Checkpoints.Trace208;

    /// @inheritdoc IAudit
    uint256 public constant MAX_VERIFIERS = 32;

    /// @inheritdoc IAudit
    uint64 public constant MAX_WINDOW = 30 days;

    /// @inheritdoc IAudit
    IMarket public immutable market;
    /// @inheritdoc IAudit
    uint256 public immutable auditBond;
    /// @inheritdoc IAudit
    uint64 public immutable commitWindow;
    /// @inheritdoc IAudit
    uint64 public immutable revealWindow;
    /// @inheritdoc IAudit
    uint256 public immutable minVerifierStake;
    /// @inheritdoc IAudit
    uint64 public immutable verifierDelay;
    /// @inheritdoc IAudit
    uint256 public immutable committeeSize;

    /// @inheritdoc IAudit
    uint256 public totalHeld;
    /// @inheritdoc IAudit
    mapping(uint256 jobId => bool) public settled;
    /// @inheritdoc IAudit
    mapping(uint256 jobId => uint256) public agreements;

    /// @dev Registered stake by timestamp, per verifier and in total: committees read it as of the past.
    mapping(address verifier => Checkpoints.Trace208) private _stakes;
    Checkpoints.Trace208 private _totalStake;
    mapping(address verifier => uint256) private _exiting;
    mapping(address verifier => uint64) private _exitAt;

    mapping(uint256 jobId => uint256) private _funded;
    mapping(uint256 jobId => address[]) private _verifiers;
    mapping(uint256 jobId => mapping(address verifier => Entry)) private _entries;

    /// @param minVerifierStake_ The least stake a registered verifier holds (wei; may be 0).
    /// @param verifierDelay_ Seconds before registered stake counts, and after an exit before it leaves.
    /// @param committeeSize_ Expected number of drawn verifiers per job.
    constructor(
        IMarket market_,
        uint256 auditBond_,
        uint64 commitWindow_,
        uint64 revealWindow_,
        uint256 minVerifierStake_,
        uint64 verifierDelay_,
        uint256 committeeSize_
    ) {
        if (address(market_) == address(0)) revert ZeroAddress();
        // INVARIANT: a verifier always has something to lose.
        if (auditBond_ == 0) revert ZeroAuditBond();
        // INVARIANT: every window has a length, so every deadline is a real point in the future.
        if (commitWindow_ == 0 || revealWindow_ == 0) revert ZeroWindow();
        // INVARIANT: the committee is read from strictly before the submission, hence before the seed exists.
        if (verifierDelay_ == 0) revert ZeroVerifierDelay();
        // INVARIANT: every window and delay is bounded, so every deadline built from them is far from overflow
        // and a job's review ends in bounded time.
        if (commitWindow_ > MAX_WINDOW) revert WindowTooLong(commitWindow_, MAX_WINDOW);
        if (revealWindow_ > MAX_WINDOW) revert WindowTooLong(revealWindow_, MAX_WINDOW);
        if (verifierDelay_ > MAX_WINDOW) revert WindowTooLong(verifierDelay_, MAX_WINDOW);
        if (committeeSize_ == 0 || committeeSize_ > MAX_VERIFIERS / 4) revert ZeroCommitteeSize();
        market = market_;
        auditBond = auditBond_;
        commitWindow = commitWindow_;
        revealWindow = revealWindow_;
        minVerifierStake = minVerifierStake_;
        verifierDelay = verifierDelay_;
        committeeSize = committeeSize_;
    }

    // --- registry ------------------------------------------------------------------------------------

    /// @inheritdoc IAudit
    function register() external payable {
        if (msg.value == 0) revert NoFunds();
        uint256 stake = _stakes[msg.sender].latest() + msg.value;
        // INVARIANT: every seat has a real stake behind it.
        if (stake < minVerifierStake) revert StakeTooLow(stake, minVerifierStake);
        _setStake(msg.sender, stake, _totalStake.latest() + msg.value);
        totalHeld += msg.value;
        emit VerifierRegistered(msg.sender, msg.value, stake);
    }

    /// @inheritdoc IAudit
    function requestExit() external {
        uint256 stake = _stakes[msg.sender].latest();
        if (stake == 0) revert NotRegistered();
        _setStake(msg.sender, 0, _totalStake.latest() - stake);
        // INVARIANT: stake stays locked for as long as it can still be drawn (verifierDelay after it left).
        uint64 availableAt = uint64(block.timestamp) + verifierDelay;
        _exiting[msg.sender] += stake;
        _exitAt[msg.sender] = availableAt;
        emit VerifierExiting(msg.sender, stake, availableAt);
    }

    /// @inheritdoc IAudit
    function withdrawStake() external {
        uint256 amount = _exiting[msg.sender];
        if (amount == 0) revert NoPendingExit();
        if (block.timestamp < _exitAt[msg.sender]) revert ExitNotReady(_exitAt[msg.sender]);
        _exiting[msg.sender] = 0;
        totalHeld -= amount;
        _credit(msg.sender, amount);
        emit VerifierWithdrawn(msg.sender, amount);
    }

    /// @inheritdoc IAudit
    function stakeOf(address verifier) external view returns (uint256) {
        return _stakes[verifier].latest();
    }

    /// @inheritdoc IAudit
    function stakeAt(address verifier, uint256 timestamp) public view returns (uint256) {
        return _stakes[verifier].upperLookupRecent(uint48(timestamp));
    }

    /// @inheritdoc IAudit
    function totalStakeAt(uint256 timestamp) public view returns (uint256) {
        return _totalStake.upperLookupRecent(uint48(timestamp));
    }

    /// @inheritdoc IAudit
    function isDrawn(uint256 jobId, address verifier) public view returns (bool) {
        return _isDrawn(market.reviewOf(jobId), verifier);
    }

    /// @inheritdoc IAudit
    function fund(uint256 jobId) external payable {
        if (msg.value == 0) revert NoFunds();
        // INVARIANT: a pot that was paid out stays closed, so nothing is left behind in it.
        if (settled[jobId]) revert FundingClosed();
        // INVARIANT: only a posted job has a submitter to refund an unused pot to.
        if (market.jobState(jobId) == IMarket.JobState.None) revert NotUnderReview(IMarket.JobState.None);
        _funded[jobId] += msg.value;
        totalHeld += msg.value;
        emit AuditFunded(jobId, msg.sender, msg.value);
    }

    /// @inheritdoc IAudit
    function commit(uint256 jobId, bytes32 commitment) external payable {
        IMarket.Review memory job = market.reviewOf(jobId);
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
        // INVARIANT: audit seats are drawn by stake from a set fixed before the seed existed; never the solver.
        if (!_isDrawn(job, msg.sender)) revert NotDrawn();
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
        IMarket.Review memory job = market.reviewOf(jobId);
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

        (bool agreed, uint64 firstMismatch, bytes32 mismatchHash) =
            _compare(jobId, job.checkpointInterval, hashes, proofs);
        entry.revealed = true;
        entry.agreed = agreed;
        if (agreed) {
            ++agreements[jobId];
        } else {
            entry.firstMismatch = firstMismatch;
            entry.mismatchHash = mismatchHash;
        }
        emit AuditRevealed(jobId, msg.sender, agreed, firstMismatch);
    }

    /// @inheritdoc IAudit
    function settle(uint256 jobId) external {
        if (settled[jobId]) revert AlreadySettled();
        IMarket.Review memory job = market.reviewOf(jobId);
        // INVARIANT: audits are judged only once the job's outcome is final. A job that ended Cancelled or
        // Failed was never submitted, so it has no audits: its funded pot goes back to the submitter.
        IMarket.JobState state = job.state;
        if (
            state != IMarket.JobState.Finalized && state != IMarket.JobState.Unverified
                && state != IMarket.JobState.Slashed && state != IMarket.JobState.Cancelled
                && state != IMarket.JobState.Failed
        ) revert JobNotSettled(state);
        address[] storage verifiers = _verifiers[jobId];
        uint256 count = verifiers.length;
        if (count > 0) {
            uint64 revealEnd = job.sampleSealedAt + commitWindow + revealWindow;
            // INVARIANT: every verifier had the whole reveal window.
            if (block.timestamp <= revealEnd) revert RevealOpen(revealEnd);
        }
        settled[jobId] = true;
        Verdict memory verdict = _verdict(jobId, state);

        Outcome[] memory outcomes = new Outcome[](count);
        // slither-disable-next-line uninitialized-local (counters, zero on purpose)
        uint256 paidCount;
        // slither-disable-next-line uninitialized-local (counters, zero on purpose)
        uint256 forfeited;
        for (uint256 i; i < count; ++i) {
            outcomes[i] = _outcome(_entries[jobId][verifiers[i]], verdict);
            if (outcomes[i] == Outcome.Paid) ++paidCount;
            else if (outcomes[i] == Outcome.Forfeited) ++forfeited;
        }
        uint256 pool = _funded[jobId] + forfeited * auditBond;
        uint256 share = paidCount == 0 ? 0 : pool / paidCount;
        for (uint256 i; i < count; ++i) {
            address verifier = verifiers[i];
            Outcome outcome = outcomes[i];
            uint256 amount = outcome == Outcome.Paid ? auditBond + share : auditBond;
            if (outcome != Outcome.Forfeited) _credit(verifier, amount);
            emit AuditSettled(jobId, verifier, outcome, amount);
        }
        // The remainder of the division (dust) goes to the submitter: the division before it is the point.
        // slither-disable-next-line divide-before-multiply
        uint256 left = pool - share * paidCount;
        if (left > 0) {
            _credit(job.submitter, left);
            emit AuditRefunded(jobId, job.submitter, left);
        }
        totalHeld -= _funded[jobId] + count * auditBond;
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
        uint64 sealedAt = market.reviewOf(jobId).sampleSealedAt;
        return sealedAt == 0 ? 0 : sealedAt + commitWindow;
    }

    /// @inheritdoc IAudit
    function revealDeadline(uint256 jobId) external view returns (uint64) {
        uint64 sealedAt = market.reviewOf(jobId).sampleSealedAt;
        return sealedAt == 0 ? 0 : sealedAt + commitWindow + revealWindow;
    }

    /// @inheritdoc IAudit
    function pot(uint256 jobId) external view returns (uint256) {
        return settled[jobId] ? 0 : _funded[jobId];
    }

    /// @dev What a slashed job's dispute established, for `_outcome`.
    struct Verdict {
        bool slashed;
        /// @dev Slashed for a fault whose interval was sampled: only reveals that found it are paid.
        bool faultSampled;
        /// @dev Slashed for a fault the sample missed, or for unavailable data: reveals get their bond back.
        bool unjudged;
        uint64 interval;
        bytes32 hash;
    }

    /// @dev The verdict that stood for a settled job.
    function _verdict(uint256 jobId, IMarket.JobState state) internal view returns (Verdict memory verdict) {
        if (state != IMarket.JobState.Slashed) return verdict;
        verdict.slashed = true;
        IDisputeGame game = IDisputeGame(market.disputeGame());
        IDisputeGame.Dispute memory d = game.getDispute(game.decisiveDispute(jobId));
        if (d.kind == IDisputeGame.Kind.Fault) {
            uint64[] memory sample = market.sampledIntervals(jobId);
            for (uint256 i; i < sample.length; ++i) {
                if (sample[i] == d.index) {
                    verdict.faultSampled = true;
                    verdict.interval = d.index;
                    verdict.hash = d.challengerHash;
                    return verdict;
                }
            }
        }
        verdict.unjudged = true;
    }

    /// @dev How one audit settles under the verdict that stood (see IAudit).
    function _outcome(Entry storage entry, Verdict memory verdict) internal view returns (Outcome) {
        if (!entry.revealed) return Outcome.Forfeited;
        if (!verdict.slashed) return entry.agreed ? Outcome.Paid : Outcome.Forfeited;
        if (verdict.unjudged) return Outcome.Refunded;
        if (entry.agreed || entry.firstMismatch > verdict.interval) return Outcome.Forfeited; // approved the claim shown wrong
        // The game proves the solver's claim wrong, not the challenger's hash right: only the same hash is
        // paid (it was committed before anyone's was disclosed); another one, or an earlier doubt, is unjudged.
        if (entry.firstMismatch == verdict.interval && entry.mismatchHash == verdict.hash) return Outcome.Paid;
        return Outcome.Refunded;
    }

    /// @dev Whether `verifier` is on the job's committee: stake-weighted, from the registry as it was
    ///      verifierDelay before submission, with the sealed seed. Never the solver.
    function _isDrawn(IMarket.Review memory job, address verifier) internal view returns (bool) {
        if (job.sampleSeed == bytes32(0) || verifier == job.solver || job.submittedAt <= verifierDelay) return false;
        uint256 asOf = job.submittedAt - verifierDelay;
        uint256 stake = stakeAt(verifier, asOf);
        if (stake == 0) return false;
        uint256 total = totalStakeAt(asOf);
        uint256 weight = stake * committeeSize;
        return weight >= total || uint256(keccak256(abi.encode(job.sampleSeed, verifier))) % total < weight;
    }

    /// @dev Whether every hash is the solver's leaf at the end of its sampled interval; else the lowest
    ///      sampled interval whose hash differs, and the hash revealed for it.
    function _compare(uint256 jobId, uint64 checkpointInterval, bytes32[] calldata hashes, bytes32[][] calldata proofs)
        internal
        view
        returns (bool agreed, uint64 firstMismatch, bytes32 mismatchHash)
    {
        uint64[] memory sample = market.sampledIntervals(jobId);
        if (hashes.length != sample.length) revert WrongSampleLength(hashes.length, sample.length);
        if (proofs.length != sample.length) revert WrongSampleLength(proofs.length, sample.length);
        agreed = true;
        for (uint256 i; i < sample.length; ++i) {
            uint256 end = uint256(sample[i]) + 1;
            if (market.verifyCheckpoint(jobId, end, end * checkpointInterval, hashes[i], proofs[i])) continue;
            if (agreed || sample[i] < firstMismatch) (firstMismatch, mismatchHash) = (sample[i], hashes[i]);
            agreed = false;
        }
    }

    function _setStake(address verifier, uint256 stake, uint256 total) internal {
        // Checkpoints.push returns the previous and new values, which are not needed here.
        // slither-disable-next-line unused-return
        _stakes[verifier].push(uint48(block.timestamp), uint208(stake));
        // slither-disable-next-line unused-return
        _totalStake.push(uint48(block.timestamp), uint208(total));
    }
}
