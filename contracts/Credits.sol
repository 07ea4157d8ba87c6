// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";

import {ICredits} from "./interfaces/ICredits.sol";

/// @title Credits
/// @notice The one claim ledger of the market, the dispute game, the referee court and the audit (pull
///         payments): settlement credits an account with `_credit`, never sends ETH; `claim()` zeroes the
///         caller's credit, then sends it.
/// @dev The inheriting contract keeps its own ledger of what it holds besides credits, and checks
///      `address(this).balance >= held + totalCredits`.
abstract contract Credits is ICredits, ReentrancyGuard {
    /// @inheritdoc ICredits
    uint256 public totalCredits;

    /// @inheritdoc ICredits
    mapping(address account => uint256 amount) public credits;

    /// @inheritdoc ICredits
    function claim() external nonReentrant {
        uint256 amount = credits[msg.sender];
        // INVARIANT: a claim pays something.
        if (amount == 0) revert NothingToClaim();
        // Effects before the transfer: the credit is gone before any code of the caller runs.
        credits[msg.sender] = 0;
        totalCredits -= amount;
        emit Claimed(msg.sender, amount);
        Address.sendValue(payable(msg.sender), amount);
    }

    /// @dev Adds `amount` to what `account` can claim (nothing for zero). The caller must already hold the
    ///      ETH and have moved it out of its other ledgers (escrow, bonds, stake) in the same transaction.
    function _credit(address account, uint256 amount) internal {
        if (amount == 0) return;
        credits[account] += amount;
        totalCredits += amount;
    }
}
