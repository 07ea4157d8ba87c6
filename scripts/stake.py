"""Manage your stake in the Staking contract named by the deployment file (see scripts/deploy.py).

    ape run stake show [--address 0x..]
    ape run stake deposit 1.5
    ape run stake request-withdrawal 0.5
    ape run stake withdraw

Amounts are in ether. On a local network test account 0 is used when --account is not given, on the node at
PINPOINT_RPC_URL (default http://127.0.0.1:8545; APE_FOUNDRY_HOST overrides it, see pinpoint/ape_cli.py).
"""

import json
from datetime import UTC, datetime

import click
from ape import Contract
from ape.cli import (
    ConnectedProviderCommand,
    account_option,
    ape_cli_context,
    network_option,
)

from pinpoint.ape_cli import ETHER, explained, require_code, signer
from pinpoint.settings import get_settings
from pinpoint.units import format_eth


def staking_contract():
    path = get_settings().deployment_file
    if not path.is_file():
        raise click.ClickException(f"no deployment file at {path}: run `ape run deploy` first")
    staking = json.loads(path.read_text())["contracts"]["Staking"]
    require_code("Staking", staking["address"])
    return Contract(staking["address"], abi=staking["abi"])


ether = format_eth


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
@click.option("--json", "as_json", is_flag=True, help="Machine-readable: amounts in wei, as decimal strings.")
def show(cli_ctx, network, account, address, as_json):
    """Show free, locked and pending stake."""
    staking = staking_contract()
    who = address or signer(cli_ctx, account).address
    amounts = {"free_stake": staking.freeStake(who), "locked_stake": staking.lockedStake(who),
               "pending": staking.pendingWithdrawal(who)}
    withdrawable_at = staking.withdrawableAt(who)
    if as_json:
        click.echo(json.dumps({"account": str(who), **{k: str(v) for k, v in amounts.items()},
                               "withdrawable_at": withdrawable_at}))
        return
    click.echo(f"account:           {who}")
    click.echo(f"free stake:        {ether(amounts['free_stake'])}")
    click.echo(f"locked stake:      {ether(amounts['locked_stake'])}")
    click.echo(f"pending:           {ether(amounts['pending'])}")
    click.echo(f"withdrawable at:   {withdrawable_at} (unix time)")


@cli.command(cls=ConnectedProviderCommand)
@ape_cli_context()
@network_option()
@account_option(prompt=False)
@click.argument("amount", type=ETHER)
def deposit(cli_ctx, network, account, amount):
    """Deposit AMOUNT ether as free stake."""
    with explained("deposit", EXPLANATIONS):
        staking_contract().deposit(sender=signer(cli_ctx, account), value=amount)
    cli_ctx.logger.success(f"deposited {ether(amount)}")


@cli.command("request-withdrawal", cls=ConnectedProviderCommand)
@ape_cli_context()
@network_option()
@account_option(prompt=False)
@click.argument("amount", type=ETHER)
def request_withdrawal(cli_ctx, network, account, amount):
    """Start unbonding AMOUNT ether of free stake (restarts the clock for all pending stake)."""
    staking = staking_contract()
    sender = signer(cli_ctx, account)
    with explained("request-withdrawal", EXPLANATIONS):
        staking.requestWithdrawal(amount, sender=sender)
    cli_ctx.logger.success(f"requested {ether(amount)}; withdrawable at {staking.withdrawableAt(sender)}")


@cli.command(cls=ConnectedProviderCommand)
@ape_cli_context()
@network_option()
@account_option(prompt=False)
def withdraw(cli_ctx, network, account):
    """Withdraw all pending stake once its unbonding delay has passed."""
    with explained("withdraw", EXPLANATIONS):
        staking_contract().withdraw(sender=signer(cli_ctx, account))
    cli_ctx.logger.success("withdrawn")
