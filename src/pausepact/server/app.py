"""The log server's HTTP API (FastAPI).

C2SP static API (tlog-tiles): ``GET /checkpoint`` (the latest *published* checkpoint,
with its witness cosignatures), ``GET /tile/<L>/<N>[.p/<W>]`` and
``GET /tile/entries/<N>[.p/<W>]``; full tiles are immutable and served with
``Cache-Control: public, max-age=31536000, immutable``.

JSON API under ``/v1``: submit one envelope or a batch, blobs by digest, inclusion and
consistency proofs, entries, the replayed state. Every error is JSON
``{"error": <code>, "detail": <message>[, "item": <batch position>]}``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from .blob_routes import blob_router
from .dashboard_routes import dashboard_router
from .errors import (
    WorkPoolFull,
    busy,
    install_handlers,
)
from .metrics import Metrics
from .node import Node
from .read_routes import read_router
from .submit_routes import submit_router

DEFAULT_BODY_TIMEOUT = 10.0


def create_app(
    node: Node, *, max_concurrency: int = 64, body_timeout: float = DEFAULT_BODY_TIMEOUT
) -> FastAPI:
    """The server. Work is bounded in two pools so that readers are never starved by
    writers: ``max_concurrency`` writes (taken once a body has fully arrived) and four
    times as many reads (checkpoint, tiles, bundles, proofs, state)."""
    app = FastAPI(
        title="pausepact log server",
        version="1",
        description=__doc__,
    )
    writes = asyncio.Semaphore(max_concurrency)
    reads = asyncio.Semaphore(4 * max_concurrency)

    def _live() -> tuple[int, int, float | None, list[dict[str, object]]]:
        pub = node.published()
        return (
            node.log.size,
            pub.size if pub else 0,
            node.last_publish,
            node.publisher.witness_states(),
        )

    metrics = Metrics(_live)

    @app.middleware("http")
    async def bounded(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        if request.method not in ("GET", "HEAD"):
            resp = await call_next(request)  # writes take their slot after their body
        elif reads.locked():
            resp = busy()
        else:
            async with reads:
                resp = await call_next(request)
        route = request.scope.get("route")
        metrics.latency.labels(request.method, getattr(route, "path", "unmatched")).observe(
            time.perf_counter() - started
        )
        if resp.status_code >= 400:
            return await _count_refusal(resp)
        return resp

    async def _count_refusal(resp: Response) -> Response:
        """Count an error response by its JSON error code (the body is small)."""
        if hasattr(resp, "body_iterator"):  # a response passed through the app
            chunks = [c async for c in resp.body_iterator]
            body = b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks)
        else:  # one the middleware made itself
            body = bytes(resp.body)
        try:
            reason = str(json.loads(body)["error"])
        except (ValueError, KeyError, TypeError):
            reason = str(resp.status_code)
        metrics.refusals.labels(reason).inc()
        return Response(body, resp.status_code, headers=dict(resp.headers))

    @app.get(
        "/metrics",
        response_class=PlainTextResponse,
        responses={200: {"content": {"text/plain": {}}}},
        summary="Prometheus metrics (text format)",
    )
    def prometheus() -> Response:
        return Response(metrics.text(), media_type="text/plain; version=0.0.4; charset=utf-8")

    async def _work(fn: Callable[..., Any], *args: Any) -> Any:
        """Run a write's work in a slot of the write pool (503 busy when it is full)."""
        if writes.locked():
            raise WorkPoolFull
        async with writes:
            return await run_in_threadpool(fn, *args)

    install_handlers(app)

    app.include_router(submit_router(node, metrics, _work, body_timeout))
    app.include_router(read_router(node))
    app.include_router(blob_router(node, body_timeout))
    app.include_router(dashboard_router(node))
    return app
