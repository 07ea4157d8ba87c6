"""Signed reports: workers sign what they tell the coordinator, so nobody can report in their name."""

import json

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
