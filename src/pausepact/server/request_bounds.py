"""What the server does around every request: a slot of the read pool for reads (503
``busy`` when none is free), the latency by route, and refusals counted by their JSON
error code.

A plain ASGI middleware: it watches the messages the app sends and lets them through as
they are. Starlette's ``@app.middleware("http")`` (``BaseHTTPMiddleware``) ran every
request in a task of its own and passed the request body and the response through
memory streams, an event per message: about a fifth of the event loop's time under
batched submissions (docs/PERFORMANCE.md, §2 round 6), and an error's body was read
whole to rebuild the response it had just counted.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import busy
from .metrics import Metrics

#: an error body is read for its code up to this many bytes (error bodies are small)
MAX_ERROR_BODY = 64 << 10


class RequestBounds:
    def __init__(self, app: ASGIApp, reads: asyncio.Semaphore, metrics: Metrics) -> None:
        self.app = app
        self.reads = reads
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        error: list[bytes] | None = None  # an error response's body, as it is sent
        status = 0

        async def sending(message: Message) -> None:
            nonlocal error, status
            if message["type"] == "http.response.start":
                status = message["status"]
                error = [] if status >= 400 else None
            elif (
                message["type"] == "http.response.body"
                and error is not None
                and sum(map(len, error)) < MAX_ERROR_BODY
            ):
                error.append(message.get("body", b""))
            await send(message)

        method = scope["method"]
        if method not in ("GET", "HEAD"):  # writes take their slot once their body is in
            await self.app(scope, receive, sending)
        elif self.reads.locked():
            await busy()(scope, receive, sending)
        else:
            async with self.reads:
                await self.app(scope, receive, sending)
        route = scope.get("route")
        self.metrics.latency.labels(method, getattr(route, "path", "unmatched")).observe(
            time.perf_counter() - started
        )
        if error is not None:
            self.metrics.refusals.labels(_error_code(b"".join(error), status)).inc()


def _error_code(body: bytes, status: int) -> str:
    """The ``error`` field of a JSON error body; the status when there is none (a body
    that is not one of the server's own errors, or was cut at the limit)."""
    try:
        doc: Any = json.loads(body)
        return str(doc["error"])
    except (ValueError, KeyError, TypeError):
        return str(status)
