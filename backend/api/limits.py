"""Limits that hold before a route runs: a body cap per route, enforced on the declared Content-Length
before anything is read and again on the bytes as they stream; and a rate limit on writes per client.

Both are plain ASGI middleware, so an oversized or excessive request costs the coordinator a header parse,
never the body.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.api.problems import problem

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """413 for a body over `limit_for(method, path)` bytes: at once when Content-Length says so, else as soon
    as the stream passes it (411 for an upload without Content-Length, where the limit is large)."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str, str], int], length_required_over: int = 1 << 20):
        self.app = app
        self.limit_for = limit_for
        self.length_required_over = length_required_over

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit_for(scope["method"], scope["path"])
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                return await problem(400, "Content-Length must be a non-negative integer")(scope, receive, send)
            if int(declared) > limit:
                return await problem(413, f"body of {int(declared)} bytes exceeds this route's limit of {limit} bytes"
                                     )(scope, receive, send)
        elif scope["method"] in WRITE_METHODS and limit > self.length_required_over and b"transfer-encoding" in headers:
            return await problem(411, "send Content-Length with an upload")(scope, receive, send)
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await problem(413, f"body exceeds this route's limit of {limit} bytes")(scope, receive, send)


class RateLimit:
    """Token buckets per client address for writes: `rate` requests per second, bursts of `burst`; 429 with
    Retry-After beyond that (rate 0: no limit). Per process: with N workers a client gets up to N times the
    rate. Quotas per signing address (artifact bytes) are the routes' business."""

    def __init__(self, app: ASGIApp, rate: float, burst: int, max_clients: int = 100_000):
        self.app = app
        self.rate, self.burst, self.max_clients = rate, burst, max_clients
        self.buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)

    @staticmethod
    def _client(scope: Scope) -> str:
        client = scope.get("client")  # behind a proxy: run uvicorn with --proxy-headers
        return client[0] if client else "unknown"

    def take(self, client: str, now: float) -> float:
        """0 when a token was taken, else seconds until one is available."""
        tokens, at = self.buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if tokens >= 1:
            if len(self.buckets) >= self.max_clients and client not in self.buckets:
                self.buckets.clear()  # a flood of new clients resets the table rather than growing it
            self.buckets[client] = (tokens - 1, now)
            return 0.0
        self.buckets[client] = (tokens, now)
        return (1 - tokens) / self.rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in WRITE_METHODS and self.rate > 0:
            wait = self.take(self._client(scope), time.monotonic())
            if wait:
                retry = str(max(1, math.ceil(wait)))
                return await problem(429, f"too many writes from this client: retry in {retry} s",
                                     {"Retry-After": retry})(scope, receive, send)
        await self.app(scope, receive, send)


class InFlightLimit:
    """503 with Retry-After once `limit` requests are in flight in this process: back-pressure a client can
    act on, rather than a queue that grows until requests time out. Paths for which `exempt(path)` holds are
    not counted: long-lived streams, which hold a request for minutes, have a cap of their own."""

    def __init__(self, app: ASGIApp, limit: int, exempt: Callable[[str], bool] = lambda path: False):
        self.app, self.limit, self.exempt, self.in_flight = app, limit, exempt, 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.exempt(scope["path"]):
            return await self.app(scope, receive, send)
        if self.in_flight >= self.limit:
            return await problem(503, f"the coordinator is at its limit of {self.limit} requests in flight: retry "
                                 "shortly", {"Retry-After": "1"})(scope, receive, send)
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
