"""Signed requests: workers sign what they write to the coordinator, so nobody writes in their name, and a
solver signs its reads of its own job, whose checkpoint hashes verifiers may not see yet.

A signature is EIP-712 typed data over the request itself (method, path with query, sha256 of the body, an
expiry and a random nonce) under a domain that names the chain and the market. So one signature is good
for one request, on one deployment, for at most `MAX_TTL` seconds, and the coordinator accepts it once:
a captured request can be neither replayed nor carried to another deployment or another route.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass

from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data

EXPIRES, NONCE, SIGNATURE = "X-Pinpoint-Expires", "X-Pinpoint-Nonce", "X-Pinpoint-Signature"
MAX_TTL = 120
"""Latest expiry the coordinator accepts, in seconds from its clock: long enough for clock skew, short
enough that the record of used signatures stays small."""
DEFAULT_TTL = 60

REQUEST_TYPES = {
    "Request": [
        {"name": "method", "type": "string"},
        {"name": "path", "type": "string"},
        {"name": "bodyHash", "type": "bytes32"},
        {"name": "expires", "type": "uint64"},
        {"name": "nonce", "type": "bytes32"},
    ]
}


class SignatureError(ValueError):
    """A signed request that cannot be accepted; the message says why."""


@dataclass(frozen=True)
class SigningDomain:
    """Which deployment a signature is for: the chain and the Market contract."""

    chain_id: int
    market: str

    def eip712(self) -> dict:
        return {"name": "Pinpoint coordinator", "version": "1", "chainId": self.chain_id,
                "verifyingContract": self.market}


@dataclass(frozen=True)
class SignedBy:
    """A verified request: who signed it, the digest it is recorded under, and until when it was valid."""

    signer: str
    digest: str
    expires: int


def body_hash(body: bytes) -> bytes:
    return hashlib.sha256(body).digest()


def _signable(domain: SigningDomain, method: str, path: str, digest: bytes, expires: int, nonce: bytes):
    message = {"method": method.upper(), "path": path, "bodyHash": digest, "expires": expires, "nonce": nonce}
    return encode_typed_data(domain_data=domain.eip712(), message_types=REQUEST_TYPES, message_data=message)


def sign_request(private_key: str, domain: SigningDomain, method: str, path: str, body: bytes = b"",
                 digest: bytes | None = None, ttl: int = DEFAULT_TTL, now: float | None = None) -> dict[str, str]:
    """Headers that sign `method path` with `body` (or its sha256 `digest`, for a streamed upload)."""
    expires = int(now if now is not None else time.time()) + ttl
    nonce = os.urandom(32)
    signable = _signable(domain, method, path, digest if digest is not None else body_hash(body), expires, nonce)
    signature = Account.sign_message(signable, private_key).signature.hex().removeprefix("0x")
    return {EXPIRES: str(expires), NONCE: "0x" + nonce.hex(), SIGNATURE: "0x" + signature}


def verify_request(domain: SigningDomain, method: str, path: str, digest: bytes, headers: Mapping[str, str],
                   now: float | None = None) -> SignedBy | None:
    """The signer of a request, None when it carries no signature; raises SignatureError when it carries a
    malformed, expired or too long-lived one. Whether it was used before is the caller's record to check."""
    expires, nonce, signature = (headers.get(name) for name in (EXPIRES, NONCE, SIGNATURE))
    if expires is None and nonce is None and signature is None:
        return None
    if expires is None or nonce is None or signature is None:
        raise SignatureError(f"a signed request carries all of {EXPIRES}, {NONCE} and {SIGNATURE}")
    now = time.time() if now is None else now
    try:
        expires_at = int(expires)
        nonce_bytes = bytes.fromhex(nonce.removeprefix("0x"))
        signature_bytes = bytes.fromhex(signature.removeprefix("0x"))
    except ValueError:
        raise SignatureError(f"{EXPIRES} must be an integer, {NONCE} and {SIGNATURE} hex") from None
    if len(nonce_bytes) != 32 or len(signature_bytes) != 65:
        raise SignatureError(f"{NONCE} must be 32 bytes and {SIGNATURE} 65 bytes")
    if expires_at <= now:
        raise SignatureError(f"the signature expired at {expires_at} (now {int(now)}): sign the request again")
    if expires_at > now + MAX_TTL:
        raise SignatureError(f"{EXPIRES} is more than {MAX_TTL} s ahead: sign with a shorter expiry")
    signable = _signable(domain, method, path, digest, expires_at, nonce_bytes)
    try:
        signer = Account.recover_message(signable, signature=signature_bytes)
    except Exception:  # noqa: BLE001 (any unrecoverable signature is simply not a proof)
        raise SignatureError("the signature does not recover to an address") from None
    return SignedBy(signer=signer, digest="0x" + _hash_eip191_message(signable).hex(), expires=expires_at)
