// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title ICredits
/// @notice The pull-payment ledger shared by the market, the dispute game, the referee court and the audit:
///         settlement never sends ETH, it credits `credits[account]`; the account takes it with `claim()`.
interface ICredits {
    /// @notice The caller has no credit to claim.
    error NothingToClaim();

    /// @notice `account` took its whole credit, `amount` wei.
    event Claimed(address indexed account, uint256 amount);

    /// @notice Pays the caller its whole credit.
    function claim() external;

    /// @notice Credit `account` can claim.
    function credits(address account) external view returns (uint256);

    /// @notice Sum of all unclaimed credits.
    function totalCredits() external view returns (uint256);
}
