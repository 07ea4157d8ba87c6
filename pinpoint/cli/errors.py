"""The one place a command turns a user's mistake into one line saying what is wrong and what to do.

Every `pinpoint` command runs its body through `guarded`: a known mistake (a service that is not running, a
malformed key, an account without funds, a spec or file that is wrong) prints `prog: what; what to do` and
exits 1; Ctrl-C exits 130. Anything else is a bug in Pinpoint, and keeps its traceback.
"""

from __future__ import annotations

import binascii
import sys
from collections.abc import Callable

import httpx
import pydantic
import requests

from pinpoint.chain import ChainError, DeploymentMissing
from pinpoint.client import CoordinatorError
from pinpoint.keys import AccountError
from pinpoint.settings import ConfigError
from pinpoint.spec import SpecError
from pinpoint.tensors import SafetensorsError


class UserError(Exception):
    """A mistake of the user's, already phrased as what is wrong and what to do."""


def explain(exc: BaseException) -> str | None:
    """One line for a mistake a user can make, or None when `exc` is not one."""
    if isinstance(exc, httpx.TransportError):
        url = str(exc.request.url) if _has_request(exc) else "PINPOINT_COORDINATOR_URL"
        return (f"cannot reach the coordinator ({url}: {type(exc).__name__}); is it running? "
                "(`pinpoint dev status`, or set PINPOINT_COORDINATOR_URL)")
    if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
        url = getattr(exc.request, "url", None) or "PINPOINT_RPC_URL"
        return f"cannot reach the chain at {url}; is a node running? (`pinpoint dev status`, or set PINPOINT_RPC_URL)"
    if isinstance(exc, binascii.Error) or (isinstance(exc, ValueError) and "private key" in str(exc).lower()):
        return ("the private key is malformed: it is 32 bytes written as 0x followed by 64 hex digits "
                "(PINPOINT_PRIVATE_KEY, --key, or an account from `pinpoint account`)")
    text = str(exc)
    if isinstance(exc, pydantic.ValidationError) and exc.title == "Settings":
        wrong = "; ".join(f"PINPOINT_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        return f"a setting is wrong: {wrong} (environment, .env or the config profile: `pinpoint config show`)"
    if isinstance(exc, ChainError | ValueError) and "insufficient funds" in text.lower():
        return f"the account has not enough ether for this transaction and its gas: fund it first ({text[:200]})"
    if isinstance(exc, UserError | AccountError | ConfigError | DeploymentMissing | ChainError | CoordinatorError | SpecError | SafetensorsError):
        return text
    if isinstance(exc, FileNotFoundError):
        return f"no such file: {exc.filename or text}"
    if isinstance(exc, OSError):
        return text
    return None


def _has_request(exc: httpx.TransportError) -> bool:
    try:
        exc.request  # noqa: B018 (raises when the error was built without one)
    except RuntimeError:
        return False
    return True


def guarded(prog: str, body: Callable[[], int | None]) -> int:
    """Run a command's body; a user's mistake becomes one line on stderr and exit status 1."""
    try:
        return body() or 0
    except BrokenPipeError:  # `... | head`: whoever reads stopped; nothing to say
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        message = explain(exc)
        if message is None:
            raise
        print(f"{prog}: {message}", file=sys.stderr)
        return 1
