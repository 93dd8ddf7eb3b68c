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
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from .blob_routes import blob_router
from .dashboard_routes import dashboard_router
from .errors import WorkPoolFull, install_handlers
from .metrics import Metrics, Reading
from .node import Node
from .read_routes import read_router
from .request_bounds import RequestBounds
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

    def _live() -> Reading:
        pub = node.published()
        return Reading(
            node.log.size,
            pub.size if pub else 0,
            node.last_publish,
            node.publisher.witness_states(),
            node.live_opened,
        )

    metrics = Metrics(_live)

    app.add_middleware(RequestBounds, reads=reads, metrics=metrics)

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
