// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IStaking
/// @notice Holds the ETH stake of solvers (and later verifiers and referees). Stake is in one of three
///         buckets: free (can back new bids or be withdrawn), locked (backs a running commitment; only the
///         market can release or slash it, by its rules) and pending (unbonding; withdrawable after
///         `unbondingDelay`).
/// @dev Accounting invariant: address(this).balance == sum over accounts of (free + locked + pending).
///      Least authority: the deployer wires the market once (`setMarket`), which drops the owner, so no key
///      can later add an operator that locks or takes anyone's stake.
interface IStaking {
    /// @notice An amount of zero was given where a positive amount is required.
    error ZeroAmount();
    /// @notice The zero address was given where a contract address is required.
    error ZeroAddress();
    /// @notice The caller is not the market.
    error NotMarket(address caller);
    /// @notice The market is already wired.
    error MarketAlreadySet(address market);
    /// @notice The unbonding delay is longer than MAX_UNBONDING_DELAY.
    error DelayTooLong(uint64 delay, uint64 maximum);
    /// @notice The account's free stake is smaller than the amount asked for.
    error InsufficientFreeStake(uint256 available, uint256 requested);
    /// @notice The account's locked stake is smaller than the amount asked for.
    error InsufficientLockedStake(uint256 available, uint256 requested);
    /// @notice The caller has no pending withdrawal.
    error NoPendingWithdrawal();
    /// @notice The unbonding delay of the pending withdrawal has not elapsed yet.
    error WithdrawalNotReady(uint64 availableAt);

    /// @notice `account` added `amount` wei to its free stake.
    event Deposited(address indexed account, uint256 amount);
    /// @notice `account` moved `amount` wei from free to pending; all of its pending stake unbonds at `availableAt`.
    event WithdrawalRequested(address indexed account, uint256 amount, uint64 availableAt);
    /// @notice `account` received its whole pending stake, `amount` wei.
    event Withdrawn(address indexed account, uint256 amount);
    /// @notice The market moved `amount` wei of `account`'s stake from free to locked.
    event StakeLocked(address indexed account, uint256 amount);
    /// @notice The market moved `amount` wei of `account`'s stake from locked back to free.
    event StakeUnlocked(address indexed account, uint256 amount);
    /// @notice The market took `amount` wei of `account`'s locked stake (and received the ETH).
    event StakeSlashed(address indexed account, uint256 amount, address indexed market);
    /// @notice The market was wired; the staking contract has no owner from now on.
    event MarketSet(address indexed market);

    /// @notice Adds msg.value to the caller's free stake.
    function deposit() external payable;

    /// @notice Moves `amount` of the caller's free stake to pending and (re)starts the unbonding clock.
    /// @dev A new request adds to the pending amount and restarts the clock for all of it.
    function requestWithdrawal(uint256 amount) external;

    /// @notice Sends the caller its whole pending stake once `withdrawableAt(caller)` has been reached.
    function withdraw() external;

    /// @notice Moves `amount` of `account`'s free stake to locked. Market only.
    function lock(address account, uint256 amount) external;

    /// @notice Moves `amount` of `account`'s locked stake back to free. Market only.
    function unlock(address account, uint256 amount) external;

    /// @notice Takes `amount` of `account`'s locked stake and sends the ETH to the calling operator,
    ///         which credits the harmed parties in its own ledger. Market only.
    /// @return slashed The amount sent to the operator (always `amount`).
    function slash(address account, uint256 amount) external returns (uint256 slashed);

    /// @notice Wires the one market that may lock, unlock and slash stake, once, and renounces the owner.
    ///         Owner (the deployer) only.
    function setMarket(address market_) external;

    /// @notice The longest unbonding delay a deployment may have (365 days).
    function MAX_UNBONDING_DELAY() external view returns (uint64);

    /// @notice The market that locks, unlocks and slashes stake (zero until wired).
    function market() external view returns (address);

    /// @notice Stake of `account` that can back a new bid or be withdrawn.
    function freeStake(address account) external view returns (uint256);

    /// @notice Stake of `account` that backs a running commitment.
    function lockedStake(address account) external view returns (uint256);

    /// @notice Stake of `account` that is unbonding.
    function pendingWithdrawal(address account) external view returns (uint256);

    /// @notice Timestamp from which `account` can withdraw its pending stake (0 if none was requested).
    function withdrawableAt(address account) external view returns (uint64);

    /// @notice Seconds between a withdrawal request and the moment the stake can be withdrawn.
    function unbondingDelay() external view returns (uint64);
}
