// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";

import {IStaking} from "./interfaces/IStaking.sol";

/// @title Staking
/// @notice ETH stake with free, locked and unbonding buckets; only the market, wired once at deploy,
///         locks, unlocks and slashes.
contract Staking is IStaking, Ownable, ReentrancyGuard {
    /// @dev One account's stake, by bucket.
    struct Stake {
        uint256 free;
        uint256 locked;
        uint256 pending;
        uint64 withdrawableAt;
    }

    /// @inheritdoc IStaking
    uint64 public constant MAX_UNBONDING_DELAY = 365 days;

    /// @inheritdoc IStaking
    uint64 public immutable unbondingDelay;

    /// @inheritdoc IStaking
    address public market;

    mapping(address account => Stake) private _stakes;

    /// @param unbondingDelay_ Seconds a withdrawal request waits before the stake can be withdrawn.
    constructor(uint64 unbondingDelay_) Ownable(msg.sender) {
        // INVARIANT: a withdrawal's date never overflows and stake is never locked away for good.
        if (unbondingDelay_ > MAX_UNBONDING_DELAY) revert DelayTooLong(unbondingDelay_, MAX_UNBONDING_DELAY);
        unbondingDelay = unbondingDelay_;
    }

    modifier onlyMarket() {
        // INVARIANT: only the market, by its rules, can move or take someone else's stake.
        if (msg.sender != market) revert NotMarket(msg.sender);
        _;
    }

    /// @inheritdoc IStaking
    function setMarket(address market_) external onlyOwner {
        // INVARIANT: the market is a real address.
        if (market_ == address(0)) revert ZeroAddress();
        // INVARIANT: wired once; with the owner gone, no key can add a party that locks or takes stake.
        if (market != address(0)) revert MarketAlreadySet(market);
        market = market_;
        emit MarketSet(market_);
        _transferOwnership(address(0));
    }

    /// @inheritdoc IStaking
    function deposit() external payable {
        // INVARIANT: a deposit adds stake.
        if (msg.value == 0) revert ZeroAmount();
        _stakes[msg.sender].free += msg.value;
        emit Deposited(msg.sender, msg.value);
    }

    /// @inheritdoc IStaking
    function requestWithdrawal(uint256 amount) external {
        // INVARIANT: a request withdraws something.
        if (amount == 0) revert ZeroAmount();
        Stake storage stake = _stakes[msg.sender];
        // INVARIANT: only free stake can leave; locked stake backs a commitment.
        if (stake.free < amount) revert InsufficientFreeStake(stake.free, amount);
        stake.free -= amount;
        stake.pending += amount;
        uint64 availableAt = uint64(block.timestamp) + unbondingDelay;
        stake.withdrawableAt = availableAt;
        emit WithdrawalRequested(msg.sender, amount, availableAt);
    }

    /// @inheritdoc IStaking
    function withdraw() external nonReentrant {
        Stake storage stake = _stakes[msg.sender];
        uint256 amount = stake.pending;
        // INVARIANT: there is something unbonding to withdraw.
        if (amount == 0) revert NoPendingWithdrawal();
        // INVARIANT: stake stays slashable-in-waiting for the whole unbonding delay.
        if (block.timestamp < stake.withdrawableAt) revert WithdrawalNotReady(stake.withdrawableAt);
        stake.pending = 0;
        stake.withdrawableAt = 0;
        emit Withdrawn(msg.sender, amount);
        Address.sendValue(payable(msg.sender), amount);
    }

    /// @inheritdoc IStaking
    function lock(address account, uint256 amount) external onlyMarket {
        // INVARIANT: a lock backs something.
        if (amount == 0) revert ZeroAmount();
        Stake storage stake = _stakes[account];
        // INVARIANT: only free stake can be locked; locked stake is never counted twice.
        if (stake.free < amount) revert InsufficientFreeStake(stake.free, amount);
        stake.free -= amount;
        stake.locked += amount;
        emit StakeLocked(account, amount);
    }

    /// @inheritdoc IStaking
    function unlock(address account, uint256 amount) external onlyMarket {
        // INVARIANT: an unlock releases something.
        if (amount == 0) revert ZeroAmount();
        Stake storage stake = _stakes[account];
        // INVARIANT: only stake that is locked can be released.
        if (stake.locked < amount) revert InsufficientLockedStake(stake.locked, amount);
        stake.locked -= amount;
        stake.free += amount;
        emit StakeUnlocked(account, amount);
    }

    /// @inheritdoc IStaking
    function slash(address account, uint256 amount) external onlyMarket nonReentrant returns (uint256 slashed) {
        // INVARIANT: a slash takes something.
        if (amount == 0) revert ZeroAmount();
        Stake storage stake = _stakes[account];
        // INVARIANT: only locked stake (stake behind a broken commitment) can be slashed.
        if (stake.locked < amount) revert InsufficientLockedStake(stake.locked, amount);
        stake.locked -= amount;
        emit StakeSlashed(account, amount, msg.sender);
        Address.sendValue(payable(msg.sender), amount);
        return amount;
    }

    /// @inheritdoc IStaking
    function freeStake(address account) external view returns (uint256) {
        return _stakes[account].free;
    }

    /// @inheritdoc IStaking
    function lockedStake(address account) external view returns (uint256) {
        return _stakes[account].locked;
    }

    /// @inheritdoc IStaking
    function pendingWithdrawal(address account) external view returns (uint256) {
        return _stakes[account].pending;
    }

    /// @inheritdoc IStaking
    function withdrawableAt(address account) external view returns (uint64) {
        return _stakes[account].withdrawableAt;
    }
}
