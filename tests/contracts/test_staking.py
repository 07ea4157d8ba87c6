"""Staking: deposits, unbonding withdrawals, and the market's lock / unlock / slash (wired once, no owner
afterwards). Here `stranger` stands in for the market."""

import ape
import pytest
from market_helpers import UNBONDING_DELAY, logs

ONE = 10**18
ZERO = "0x" + "00" * 20


@pytest.fixture
def staking(project, owner):
    """A staking contract of its own, not yet wired (the session's one is the market's)."""
    return owner.deploy(project.Staking, UNBONDING_DELAY)


def test_constructor_setsUnbondingDelayAndOwner(staking, owner):
    assert staking.unbondingDelay() == UNBONDING_DELAY
    assert staking.owner() == owner
    assert staking.market() == ZERO


def test_constructor_unbondingDelayOverTheBound_reverts_andTheBoundIsAccepted(project, owner):
    bound = 365 * 24 * 3600
    with ape.reverts(project.Staking.DelayTooLong, delay=bound + 1, maximum=bound):
        owner.deploy(project.Staking, bound + 1)
    assert owner.deploy(project.Staking, bound).MAX_UNBONDING_DELAY() == bound


def test_setMarket_byOwner_setsEmitsAndRenouncesOwner(staking, owner, stranger):
    tx = staking.setMarket(stranger, sender=owner)
    assert staking.market() == stranger
    assert logs(tx, staking.MarketSet) == [staking.MarketSet(market=stranger)]
    # Least authority: nobody can add another party that locks or takes stake.
    assert staking.owner() == ZERO
    with ape.reverts(staking.OwnableUnauthorizedAccount, account=owner):
        staking.setMarket(owner, sender=owner)


def test_setMarket_byStranger_reverts(staking, stranger):
    with ape.reverts(staking.OwnableUnauthorizedAccount, account=stranger):
        staking.setMarket(stranger, sender=stranger)


def test_setMarket_zeroAddress_reverts(staking, owner):
    with ape.reverts(staking.ZeroAddress):
        staking.setMarket(ZERO, sender=owner)


def test_deposit_addsFreeStakeAndEmits(staking, solver):
    tx = staking.deposit(sender=solver, value=ONE)
    staking.deposit(sender=solver, value=ONE)
    assert staking.freeStake(solver) == 2 * ONE
    assert staking.balance == 2 * ONE
    assert logs(tx, staking.Deposited) == [staking.Deposited(account=solver, amount=ONE)]


def test_deposit_zero_reverts(staking, solver):
    with ape.reverts(staking.ZeroAmount):
        staking.deposit(sender=solver, value=0)


def test_requestWithdrawal_movesFreeToPendingAndStartsClock(staking, solver, chain):
    staking.deposit(sender=solver, value=3 * ONE)
    tx = staking.requestWithdrawal(ONE, sender=solver)
    available_at = tx.timestamp + UNBONDING_DELAY
    assert staking.freeStake(solver) == 2 * ONE
    assert staking.pendingWithdrawal(solver) == ONE
    assert staking.withdrawableAt(solver) == available_at
    assert logs(tx, staking.WithdrawalRequested) == [
        staking.WithdrawalRequested(account=solver, amount=ONE, availableAt=available_at)
    ]


def test_requestWithdrawal_again_addsAndRestartsClock(staking, solver, chain):
    staking.deposit(sender=solver, value=3 * ONE)
    staking.requestWithdrawal(ONE, sender=solver)
    chain.pending_timestamp += 1000
    tx = staking.requestWithdrawal(ONE, sender=solver)
    assert staking.pendingWithdrawal(solver) == 2 * ONE
    assert staking.withdrawableAt(solver) == tx.timestamp + UNBONDING_DELAY


def test_requestWithdrawal_zero_reverts(staking, solver):
    with ape.reverts(staking.ZeroAmount):
        staking.requestWithdrawal(0, sender=solver)


def test_requestWithdrawal_moreThanFree_reverts(staking, solver):
    staking.deposit(sender=solver, value=ONE)
    with ape.reverts(staking.InsufficientFreeStake, available=ONE, requested=ONE + 1):
        staking.requestWithdrawal(ONE + 1, sender=solver)


def test_requestWithdrawal_lockedStake_reverts(staking, owner, solver, stranger):
    staking.setMarket(stranger, sender=owner)
    staking.deposit(sender=solver, value=ONE)
    staking.lock(solver, ONE, sender=stranger)
    with ape.reverts(staking.InsufficientFreeStake, available=0, requested=1):
        staking.requestWithdrawal(1, sender=solver)


def test_withdraw_afterDelay_sendsPendingAndEmits(staking, solver, chain):
    staking.deposit(sender=solver, value=2 * ONE)
    staking.requestWithdrawal(ONE, sender=solver)
    chain.pending_timestamp = staking.withdrawableAt(solver)
    balance_before = solver.balance
    tx = staking.withdraw(sender=solver)
    assert solver.balance == balance_before + ONE - tx.total_fees_paid
    assert staking.pendingWithdrawal(solver) == 0
    assert staking.withdrawableAt(solver) == 0
    assert staking.freeStake(solver) == ONE
    assert staking.balance == ONE
    assert logs(tx, staking.Withdrawn) == [staking.Withdrawn(account=solver, amount=ONE)]


def test_withdraw_beforeDelay_reverts(staking, solver, chain):
    staking.deposit(sender=solver, value=ONE)
    staking.requestWithdrawal(ONE, sender=solver)
    available_at = staking.withdrawableAt(solver)
    chain.pending_timestamp = available_at - 1
    with ape.reverts(staking.WithdrawalNotReady, availableAt=available_at):
        staking.withdraw(sender=solver)


def test_withdraw_nothingPending_reverts(staking, solver):
    with ape.reverts(staking.NoPendingWithdrawal):
        staking.withdraw(sender=solver)


def test_withdraw_twice_reverts(staking, solver, chain):
    staking.deposit(sender=solver, value=ONE)
    staking.requestWithdrawal(ONE, sender=solver)
    chain.pending_timestamp = staking.withdrawableAt(solver)
    staking.withdraw(sender=solver)
    with ape.reverts(staking.NoPendingWithdrawal):
        staking.withdraw(sender=solver)


def test_lock_unlock_byOperator_moveStakeAndEmit(staking, owner, solver, stranger):
    staking.setMarket(stranger, sender=owner)
    staking.deposit(sender=solver, value=3 * ONE)
    tx = staking.lock(solver, 2 * ONE, sender=stranger)
    assert (staking.freeStake(solver), staking.lockedStake(solver)) == (ONE, 2 * ONE)
    assert logs(tx, staking.StakeLocked) == [staking.StakeLocked(account=solver, amount=2 * ONE)]
    tx = staking.unlock(solver, ONE, sender=stranger)
    assert (staking.freeStake(solver), staking.lockedStake(solver)) == (2 * ONE, ONE)
    assert logs(tx, staking.StakeUnlocked) == [staking.StakeUnlocked(account=solver, amount=ONE)]


def test_lock_byStranger_reverts(staking, solver, stranger):
    staking.deposit(sender=solver, value=ONE)
    with ape.reverts(staking.NotMarket, caller=stranger):
        staking.lock(solver, ONE, sender=stranger)


def test_lock_zero_reverts(staking, owner, solver, stranger):
    staking.setMarket(stranger, sender=owner)
    with ape.reverts(staking.ZeroAmount):
        staking.lock(solver, 0, sender=stranger)


def test_lock_moreThanFree_reverts(staking, owner, solver, stranger):
    staking.setMarket(stranger, sender=owner)
    staking.deposit(sender=solver, value=ONE)
    with ape.reverts(staking.InsufficientFreeStake, available=ONE, requested=2 * ONE):
        staking.lock(solver, 2 * ONE, sender=stranger)


def test_lock_pendingStake_reverts(staking, owner, solver, stranger):
    staking.setMarket(stranger, sender=owner)
    staking.deposit(sender=solver, value=ONE)
    staking.requestWithdrawal(ONE, sender=solver)
    with ape.reverts(staking.InsufficientFreeStake, available=0, requested=ONE):
        staking.lock(solver, ONE, sender=stranger)


def test_unlock_byStranger_reverts(staking, solver, stranger):
    with ape.reverts(staking.NotMarket, caller=stranger):
        staking.unlock(solver, ONE, sender=stranger)


def test_unlock_zero_reverts(staking, owner, solver, stranger):
    staking.setMarket(stranger, sender=owner)
    with ape.reverts(staking.ZeroAmount):
        staking.unlock(solver, 0, sender=stranger)


def test_unlock_moreThanLocked_reverts(staking, owner, solver, stranger):
    staking.setMarket(stranger, sender=owner)
    staking.deposit(sender=solver, value=ONE)
    staking.lock(solver, ONE, sender=stranger)
    with ape.reverts(staking.InsufficientLockedStake, available=ONE, requested=ONE + 1):
        staking.unlock(solver, ONE + 1, sender=stranger)


def test_slash_byOperator_sendsLockedStakeToOperator(staking, owner, solver, stranger):
    staking.setMarket(stranger, sender=owner)
    staking.deposit(sender=solver, value=3 * ONE)
    staking.lock(solver, 2 * ONE, sender=stranger)
    balance_before = stranger.balance
    tx = staking.slash(solver, ONE, sender=stranger)
    assert tx.return_value == ONE
    assert stranger.balance == balance_before + ONE - tx.total_fees_paid
    assert (staking.freeStake(solver), staking.lockedStake(solver)) == (ONE, ONE)
    assert staking.balance == 2 * ONE
    assert logs(tx, staking.StakeSlashed) == [
        staking.StakeSlashed(account=solver, amount=ONE, market=stranger)
    ]


def test_slash_byStranger_reverts(staking, solver, stranger):
    with ape.reverts(staking.NotMarket, caller=stranger):
        staking.slash(solver, ONE, sender=stranger)


def test_slash_zero_reverts(staking, owner, solver, stranger):
    staking.setMarket(stranger, sender=owner)
    with ape.reverts(staking.ZeroAmount):
        staking.slash(solver, 0, sender=stranger)


def test_slash_freeStake_reverts(staking, owner, solver, stranger):
    staking.setMarket(stranger, sender=owner)
    staking.deposit(sender=solver, value=ONE)
    with ape.reverts(staking.InsufficientLockedStake, available=0, requested=ONE):
        staking.slash(solver, ONE, sender=stranger)


def test_lock_byFormerOwner_reverts(staking, owner, solver, stranger):
    staking.setMarket(stranger, sender=owner)
    staking.deposit(sender=solver, value=ONE)
    # The deploy key holds no power over stake once the market is wired.
    with ape.reverts(staking.NotMarket, caller=owner):
        staking.lock(solver, ONE, sender=owner)
