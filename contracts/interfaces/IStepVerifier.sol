// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IStepVerifier
/// @notice Adjudicates one training step of a dispute: from the agreed state at `step` (whose bytes the
///         solver served as the artifact `preStateArtifact`), what is the true state hash at `step + 1`?
///         v1 is a staked referee court (`RefereeCourt`); a trustless implementation (bisection over the
///         operator graph, one operator executed on chain) can replace it behind this interface.
/// @dev The implementation answers by calling `IDisputeGame.stepVerified(disputeId, postStateHash)`, where
///      `postStateHash == bytes32(0)` means the served pre-state was unavailable or did not hash to
///      `preStateHash` (the solver, who must serve it, loses).
interface IStepVerifier {
    /// @notice Asks for the post-state of one step. Dispute game only.
    /// @param disputeId The dispute to answer (passed back to `stepVerified`).
    /// @param jobId The disputed job (its spec says how to run the step).
    /// @param step The step to execute, from the state at `step` to the state at `step + 1`.
    /// @param preStateHash The agreed state hash at `step`.
    /// @param preStateArtifact sha256 of the safetensors bytes the solver served for the state at `step`.
    /// @param solver The disputed job's solver (cannot adjudicate its own dispute).
    /// @param challenger The challenger (cannot adjudicate its own dispute).
    /// @return requestId The verifier's id for this request.
    function requestStep(
        uint256 disputeId,
        uint256 jobId,
        uint64 step,
        bytes32 preStateHash,
        bytes32 preStateArtifact,
        address solver,
        address challenger
    ) external returns (uint256 requestId);

    /// @notice Asks whether the bytes `artifact` (sha256 of them) can be fetched and hold the checkpoint at
    ///         `step` whose state hash is `stateHash`. Answered like a step: `stepVerified(disputeId, h)`
    ///         with h the state hash of the fetched bytes, or bytes32(0) if they are unavailable or are not
    ///         that checkpoint (the solver wins iff h == stateHash). Dispute game only.
    function requestAvailability(
        uint256 disputeId,
        uint256 jobId,
        uint64 step,
        bytes32 stateHash,
        bytes32 artifact,
        address solver,
        address challenger
    ) external returns (uint256 requestId);
}
