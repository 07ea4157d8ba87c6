"""Manage your stake in the Staking contract named by the deployment file (see scripts/deploy.py).

    ape run stake show [--address 0x..]
    ape run stake deposit 1.5
    ape run stake request-withdrawal 0.5
    ape run stake withdraw

Amounts are in ether. On a local network test account 0 is used when --account is not given; add
APE_FOUNDRY_HOST=http://127.0.0.1:8545 to act on an anvil that is already running.
"""

import json
from datetime import UTC, datetime
from decimal import Decimal

import click
from ape import Contract
from ape.cli import (
    ConnectedProviderCommand,
    account_option,
    ape_cli_context,
    network_option,
)

from pinpoint.ape_cli import explained, signer
from pinpoint.settings import get_settings

WEI_PER_ETHER = 10**18


def staking_contract():
    path = get_settings().deployment_file
    if not path.is_file():
        raise click.ClickException(f"no deployment file at {path}: run `ape run deploy` first")
    staking = json.loads(path.read_text())["contracts"]["Staking"]
    return Contract(staking["address"], abi=staking["abi"])


def to_wei(ether: str) -> int:
    wei = Decimal(ether) * WEI_PER_ETHER
    if wei <= 0 or wei != wei.to_integral_value():
        raise click.BadParameter(f"{ether} is not a positive amount of ether (at most 18 decimals)")
    return int(wei)


def ether(wei: int) -> str:
    return f"{Decimal(wei) / WEI_PER_ETHER} ETH"


def unix_time(seconds: int) -> str:
    return f"{seconds} ({datetime.fromtimestamp(seconds, UTC):%Y-%m-%d %H:%M:%S} UTC)"


# Why the Staking contract refused, in words, by custom error (see contracts/interfaces/IStaking.sol).
EXPLANATIONS = {
    "WithdrawalNotReady": lambda e: f"the unbonding delay has not passed: withdrawable at {unix_time(e['availableAt'])}",
    "NoPendingWithdrawal": lambda e: "nothing is unbonding: run `ape run stake request-withdrawal AMOUNT` first",
    "InsufficientFreeStake": lambda e: f"only {ether(e['available'])} of free stake, {ether(e['requested'])} needed",
}


@click.group()
def cli():
    """Deposit, unbond and withdraw stake."""


@cli.command(cls=ConnectedProviderCommand)
@ape_cli_context()
@network_option()
@account_option(prompt=False)
@click.option("--address", help="Show this address instead of the account's.")
def show(cli_ctx, network, account, address):
    """Show free, locked and pending stake."""
    staking = staking_contract()
    who = address or signer(cli_ctx, account).address
    click.echo(f"account:           {who}")
    click.echo(f"free stake:        {ether(staking.freeStake(who))}")
    click.echo(f"locked stake:      {ether(staking.lockedStake(who))}")
    click.echo(f"pending:           {ether(staking.pendingWithdrawal(who))}")
    click.echo(f"withdrawable at:   {staking.withdrawableAt(who)} (unix time)")


@cli.command(cls=ConnectedProviderCommand)
@ape_cli_context()
@network_option()
@account_option(prompt=False)
@click.argument("amount")
def deposit(cli_ctx, network, account, amount):
    """Deposit AMOUNT ether as free stake."""
    with explained("deposit", EXPLANATIONS):
        staking_contract().deposit(sender=signer(cli_ctx, account), value=to_wei(amount))
    cli_ctx.logger.success(f"deposited {amount} ETH")


@cli.command("request-withdrawal", cls=ConnectedProviderCommand)
@ape_cli_context()
@network_option()
@account_option(prompt=False)
@click.argument("amount")
def request_withdrawal(cli_ctx, network, account, amount):
    """Start unbonding AMOUNT ether of free stake (restarts the clock for all pending stake)."""
    staking = staking_contract()
    sender = signer(cli_ctx, account)
    with explained("request-withdrawal", EXPLANATIONS):
        staking.requestWithdrawal(to_wei(amount), sender=sender)
    cli_ctx.logger.success(f"requested {amount} ETH; withdrawable at {staking.withdrawableAt(sender)}")


@cli.command(cls=ConnectedProviderCommand)
@ape_cli_context()
@network_option()
@account_option(prompt=False)
def withdraw(cli_ctx, network, account):
    """Withdraw all pending stake once its unbonding delay has passed."""
    with explained("withdraw", EXPLANATIONS):
        staking_contract().withdraw(sender=signer(cli_ctx, account))
    cli_ctx.logger.success("withdrawn")
