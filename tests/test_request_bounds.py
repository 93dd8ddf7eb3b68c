"""The server's request middleware: reads wait for no slot (503 ``busy`` when none is
free), writes take none, every refusal is counted by its error code, and every response
leaves exactly as the app sent it."""

from __future__ import annotations

import asyncio
import json

import httpx
from prometheus_client.parser import text_string_to_metric_families
from starlette.types import Receive, Scope, Send

from pausepact.server.metrics import Metrics, Reading
from pausepact.server.request_bounds import MAX_ERROR_BODY, RequestBounds


def _metrics() -> Metrics:
    return Metrics(lambda: Reading(0, 0, None, []))


def _refusals(m: Metrics) -> dict[str, float]:
    return {
        s.labels["reason"]: s.value
        for family in text_string_to_metric_families(m.text().decode())
        for s in family.samples
        if s.name == "pausepact_refusals_total"
    }


def _answering(status: int, body: bytes, chunks: int = 1) -> object:
    """An app that answers every request with ``status`` and ``body`` in ``chunks`` parts."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"x-kept", b"yes")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        step = max(1, -(-len(body) // chunks))
        parts = [body[i : i + step] for i in range(0, len(body), step)] or [b""]
        for n, part in enumerate(parts):
            more = n < len(parts) - 1
            await send({"type": "http.response.body", "body": part, "more_body": more})

    return app


def _get(app: object, method: str = "GET", path: str = "/x") -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.request(method, path)

    return asyncio.run(go())


def test_a_read_when_every_read_slot_is_taken_is_refused_busy() -> None:
    m = _metrics()
    reads = asyncio.Semaphore(1)

    async def go() -> tuple[httpx.Response, httpx.Response]:
        app = RequestBounds(_answering(200, b"{}"), reads, m)  # type: ignore[arg-type]
        transport = httpx.ASGITransport(app=app)
        client = httpx.AsyncClient(transport=transport, base_url="http://t")
        async with client, reads:  # every read slot taken
            refused = await client.get("/tile/0/000")
            write = await client.post("/v1/statements", content=b"{}")
        return refused, write

    refused, write = asyncio.run(go())
    assert refused.status_code == 503 and refused.json()["error"] == "busy"
    assert refused.headers["retry-after"] == "1"
    assert write.status_code == 200  # writes take their slot from the write pool, later
    assert _refusals(m) == {"busy": 1.0}


def test_an_error_is_counted_by_its_code_and_leaves_as_the_app_sent_it() -> None:
    m = _metrics()
    body = json.dumps({"error": "invalid", "detail": "x" * 50_000}).encode()
    got = _get(RequestBounds(_answering(422, body, chunks=7), asyncio.Semaphore(4), m), "POST")
    assert got.status_code == 422 and got.content == body and got.headers["x-kept"] == "yes"
    assert _refusals(m) == {"invalid": 1.0}


def test_an_error_body_that_is_not_the_servers_is_counted_by_its_status() -> None:
    m = _metrics()
    for body in (b"not json", b'{"no": "code"}', b"[1, 2]", b""):
        got = _get(RequestBounds(_answering(404, body), asyncio.Semaphore(4), m))
        assert got.status_code == 404 and got.content == body
    assert _refusals(m) == {"404": 4.0}


def test_an_oversized_error_body_is_read_only_up_to_the_limit_and_sent_whole() -> None:
    m = _metrics()
    body = json.dumps({"error": "huge", "detail": "y" * (4 * MAX_ERROR_BODY)}).encode()
    got = _get(RequestBounds(_answering(500, body, chunks=16), asyncio.Semaphore(4), m))
    assert got.status_code == 500 and got.content == body
    assert _refusals(m) == {"500": 1.0}  # cut at the limit, what was read is not JSON


def test_a_success_is_not_a_refusal_and_its_latency_is_kept_by_route() -> None:
    m = _metrics()
    got = _get(RequestBounds(_answering(200, b'{"ok": true}', chunks=3), asyncio.Semaphore(4), m))
    assert got.status_code == 200 and got.json() == {"ok": True}
    assert _refusals(m) == {}
    counts = {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(m.text().decode())
        for s in family.samples
        if s.name == "pausepact_request_seconds_count"
    }
    assert counts == {(("method", "GET"), ("route", "unmatched")): 1.0}
