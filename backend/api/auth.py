"""Signed requests on the coordinator's side (pinpoint.signing): recover the signer, accept each signature
once, and say clearly why a signature is refused."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from backend.models import SignedRequest
from pinpoint.signing import EXPIRES, NONCE, SIGNATURE, SignatureError, SignedBy, body_hash, verify_request

HOW_TO_SIGN = f"sign the request: headers {EXPIRES}, {NONCE} and {SIGNATURE} (EIP-712, pinpoint.signing)"


def accept_once(sessions: sessionmaker[Session], signed: SignedBy) -> None:
    """Record the signature; 409 when it was accepted before. Expired records are dropped: an expired
    signature is refused anyway."""
    with sessions() as session:
        session.execute(delete(SignedRequest).where(SignedRequest.expires < int(time.time()) - 1))
        session.add(SignedRequest(digest=signed.digest, signer=signed.signer, expires=signed.expires))
        try:
            session.commit()
        except IntegrityError:
            raise HTTPException(status.HTTP_409_CONFLICT, detail="this signed request was accepted before; "
                                "sign every request anew (a fresh nonce)") from None


async def verify(request: Request, digest: bytes | None = None) -> SignedBy | None:
    """The request's signer (None when unsigned); `digest` is the body's sha256 when the route streams it."""
    if digest is None:
        digest = body_hash(await request.body())
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    try:
        signed = verify_request(request.app.state.chain.signing_domain, request.method, path, digest, request.headers)
    except SignatureError as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=str(exc)) from None
    if signed is not None:
        await run_in_threadpool(accept_once, request.app.state.sessions, signed)
    return signed


async def _required(request: Request) -> SignedBy:
    signed = await verify(request)
    if signed is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=f"unsigned: {HOW_TO_SIGN}")
    return signed


async def _optional(request: Request) -> SignedBy | None:
    return await verify(request)


SignerDep = Annotated[SignedBy, Depends(_required)]
OptionalSignerDep = Annotated[SignedBy | None, Depends(_optional)]
