"""Helpers the operator scripts in `scripts/` share (ape imports them; services never do).

Importing this module points ape's local network (the `foundry` provider) at the chain PINPOINT_RPC_URL names,
default the node at http://127.0.0.1:8545, as the services do: ape's own default (`host: auto` in
ape-config.yaml, kept for `ape test`) is a throwaway Anvil on a random port, on which `ape run stake show`
would find nothing. APE_FOUNDRY_HOST, when set, still wins.
"""

import os
from collections.abc import Callable
from contextlib import contextmanager

import click
from ape import accounts, chain
from ape.exceptions import ContractLogicError

from pinpoint.settings import get_settings
from pinpoint.units import parse_eth

os.environ.setdefault("APE_FOUNDRY_HOST", get_settings().rpc_url)


def signer(cli_ctx, account, spending: str = "Send"):
    """The given account (after confirming `spending` off local networks); on a local network test account 0."""
    if account is None:
        if not cli_ctx.provider.network.is_local:
            raise click.UsageError("give --account on a non-local network")
        return accounts.test_accounts[0]
    if not cli_ctx.provider.network.is_local:
        click.confirm(f"{spending} from {account.address}?", abort=True)
    return account


def require_code(name: str, address: str) -> None:
    """Refuse, saying what to do, when the deployment file names a contract the connected chain lacks: it was
    written for another chain (or ape started a throwaway one because nothing ran at the host)."""
    provider = chain.provider
    if provider.get_code(address):
        return
    throwaway = getattr(provider, "process", None) is not None
    raise click.ClickException(
        f"no {name} contract at {address} on the chain at {provider.uri}"
        + (" (nothing was running there, so ape started an empty chain)" if throwaway else "")
        + f": {get_settings().deployment_file} was written for another chain. Start the chain it is for "
        "(`pinpoint dev up`, or anvil and `ape run deploy`) and point PINPOINT_RPC_URL at it, or PINPOINT_HOME at "
        "this chain's deployment (`eval \"$(pinpoint dev env)\"` does both for `pinpoint dev up`)")


@contextmanager
def explained(action: str, explanations: dict[str, Callable[[dict], str]] | None = None):
    """Turn a revert into one readable line (the error's name, and why when known) instead of a traceback."""
    try:
        yield
    except ContractLogicError as err:
        name = getattr(err, "name", None)
        inputs = getattr(err, "inputs", {})
        detail = f"{name}({', '.join(f'{k}={v}' for k, v in inputs.items())})" if name else str(err)
        why = (explanations or {}).get(name)
        raise click.ClickException(f"{action} reverted with {detail}" + (f": {why(inputs)}" if why else "")) from None


@contextmanager
def mining_per_transaction(provider, block_time: int | None = None):
    """On a local Anvil, mine a block per transaction inside the block, then a block every `block_time` seconds
    (else as before: Anvil's `--block-time`, or `--no-mining`).

    ape waits for a transaction's receipt only while the node mines per transaction: on a node that mines on an
    interval it takes the unmined receipt as final, so `deploy` finds no contract in it ("did not create a
    contract"). A deployment wants instant blocks; the services want blocks on a clock (a deadline passes only
    when a block with a later timestamp is mined)."""
    local_anvil = provider.network.is_local and provider.name == "foundry"
    if not local_anvil:
        if block_time is not None:
            raise click.UsageError("--block-time is for a local Anvil only")
        yield
        return
    per_transaction = provider.make_request("anvil_getAutomine", [])
    interval = provider.make_request("anvil_getIntervalMining", []) if not per_transaction else None
    provider.make_request("evm_setAutomine", [True])
    try:
        yield
    finally:
        if block_time or interval:
            provider.make_request("evm_setIntervalMining", [block_time or interval])
        elif not per_transaction:
            provider.make_request("evm_setAutomine", [False])


class Ether(click.ParamType):
    """An amount of ether on the command line, as wei (pinpoint.units: exact, positive, at most 18 decimals)."""

    name = "ETH"

    def convert(self, value, param, ctx) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_eth(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


ETHER = Ether()
