"""Signed reports and reads: workers sign what they tell the coordinator, so nobody can report in their
name, and a solver signs its reads of its own job, whose checkpoint hashes verifiers may not see yet."""

import json
import time

from eth_account import Account
from eth_account.messages import encode_defunct


def report_message(kind: str, job_id: int, body: dict) -> bytes:
    return json.dumps({"kind": kind, "job_id": job_id, "body": body}, sort_keys=True, separators=(",", ":")).encode()


def sign_report(private_key: str, kind: str, job_id: int, body: dict) -> str:
    signed = Account.sign_message(encode_defunct(report_message(kind, job_id, body)), private_key)
    return "0x" + signed.signature.hex().removeprefix("0x")


def report_signer(kind: str, job_id: int, body: dict, signature: str) -> str:
    """The address that signed the report; raises ValueError for a malformed signature."""
    return Account.recover_message(encode_defunct(report_message(kind, job_id, body)), signature=signature)


READ_SIGNATURE_MAX_AGE = 300
"""Seconds a signed read stays valid: long enough for clock skew, short enough that a leaked one expires."""


def read_message(job_id: int, timestamp: int) -> bytes:
    return f"pinpoint.read/1:{job_id}:{timestamp}".encode()


def sign_read(private_key: str, job_id: int, timestamp: int | None = None) -> dict[str, str]:
    """Headers that prove the reader holds `private_key` (the job's solver reads its own checkpoints)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = Account.sign_message(encode_defunct(read_message(job_id, timestamp)), private_key)
    return {"X-Pinpoint-Timestamp": str(timestamp), "X-Pinpoint-Signature": "0x" + signed.signature.hex().removeprefix("0x")}


def read_signer(job_id: int, timestamp: str | None, signature: str | None) -> str | None:
    """The address that signed a fresh read of `job_id`, or None (no, stale or malformed signature)."""
    if not timestamp or not signature:
        return None
    try:
        ts = int(timestamp)
        if abs(time.time() - ts) > READ_SIGNATURE_MAX_AGE:
            return None
        return Account.recover_message(encode_defunct(read_message(job_id, ts)), signature=signature)
    except Exception:  # noqa: BLE001 (any malformed signature is simply not a proof)
        return None
