// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IDisputeGame} from "../interfaces/IDisputeGame.sol";

/// @title Staller
/// @notice For tests only (never deployed by the deploy script): an adversary's contract that opens many
///         frivolous disputes in one transaction, claims timeouts and re-challenges in the same one, and
///         refuses every ETH transfer, so that the suites can show neither keeps anyone else out or stuck.
contract Staller {
    /// @notice Whether ETH sent to this contract is refused (a party whose payouts would revert if pushed).
    bool public refuseEth = true;

    /// @notice Opens `count` fault disputes of the same interval, each with msg.value / count as its bond.
    function challengeMany(
        IDisputeGame game,
        uint256 count,
        uint256 jobId,
        uint64 index,
        bytes32 agreedHash,
        bytes32[] calldata agreedProof,
        bytes32 solverHash,
        bytes32[] calldata solverProof,
        bytes32 challengerHash
    ) external payable returns (uint256[] memory disputeIds) {
        disputeIds = new uint256[](count);
        uint256 bond = msg.value / count;
        for (uint256 i; i < count; ++i) {
            disputeIds[i] = game.challenge{value: bond}(
                jobId, index, agreedHash, agreedProof, solverHash, solverProof, challengerHash
            );
        }
    }

    /// @notice Lets `lost` run out (anyone's timeout claim) and opens a fresh dispute in the same transaction.
    function timeoutAndRechallenge(
        IDisputeGame game,
        uint256 lost,
        uint256 jobId,
        uint64 index,
        bytes32 agreedHash,
        bytes32[] calldata agreedProof,
        bytes32 solverHash,
        bytes32[] calldata solverProof,
        bytes32 challengerHash
    ) external payable returns (uint256 disputeId) {
        game.claimTimeout(lost);
        disputeId = game.challenge{value: msg.value}(
            jobId, index, agreedHash, agreedProof, solverHash, solverProof, challengerHash
        );
    }

    /// @notice Withdraws this contract's credit from `game` (reverts while refuseEth: its own loss only).
    function claimFrom(IDisputeGame game) external {
        game.claim();
    }

    function setRefuseEth(bool refuse) external {
        refuseEth = refuse;
    }

    receive() external payable {
        require(!refuseEth, "Staller: refuses ETH");
    }
}
