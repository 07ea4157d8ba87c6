"""Helpers the operator scripts in `scripts/` share (ape imports them; services never do)."""

from collections.abc import Callable
from contextlib import contextmanager

import click
from ape import accounts
from ape.exceptions import ContractLogicError


def signer(cli_ctx, account, spending: str = "Send"):
    """The given account (after confirming `spending` off local networks); on a local network test account 0."""
    if account is None:
        if not cli_ctx.provider.network.is_local:
            raise click.UsageError("give --account on a non-local network")
        return accounts.test_accounts[0]
    if not cli_ctx.provider.network.is_local:
        click.confirm(f"{spending} from {account.address}?", abort=True)
    return account


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
