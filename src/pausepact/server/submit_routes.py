"""``POST /v1/statements`` and ``/v1/statements/batch``: admission, sequencing and,
with ``wait``, the tlog-proof against the next published checkpoint."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from ..pact import MAX_BATCH, MAX_ENVELOPE_BYTES
from .body import read_body
from .errors import ERRORS, RequestError
from .metrics import Metrics
from .models import BatchResult, SubmitResult
from .node import Node

MAX_BODY = 16 << 20
MAX_WAIT_SECONDS = 60.0

#: runs blocking work in a slot of the server's write pool
Work = Callable[..., Awaitable[Any]]
Wait = Annotated[bool, Query(description="wait until a published checkpoint covers the entries")]
WaitSeconds = Annotated[
    float, Query(gt=0, le=MAX_WAIT_SECONDS, description="seconds to wait (with wait=true)")
]


def submit_router(node: Node, metrics: Metrics, work: Work, body_timeout: float) -> APIRouter:
    router = APIRouter()

    def _results(raws: list[bytes], wait: bool, timeout: float) -> list[dict[str, Any]]:
        """One :class:`SubmitResult` (as its dict) per entry, in order."""
        started = time.perf_counter()
        subs = node.submit(raws)
        metrics.sequencing.observe(time.perf_counter() - started)
        metrics.batches.inc()
        metrics.entries.inc(len(subs))
        proofs: list[str | None] = [None] * len(subs)
        if wait:
            last = max(s.index for s in subs)
            pub = node.wait_published(last, timeout)
            if pub is None:
                where = ", ".join(str(s.index) for s in subs[:5]) + (", …" if len(subs) > 5 else "")
                raise RequestError(
                    503,
                    "not_published",
                    f"sequenced at index {where}; not yet published after {timeout:g} s: "
                    f"{node.publisher.unpublished_reason()}. The statements are logged; "
                    "their proofs come with the next published checkpoint",
                    retry_after=5,
                )
            proofs = [node.proof(s.index, pub).format() for s in subs]
        return [
            {"index": s.index, "leaf_hash": base64.b64encode(s.leaf_hash).decode(), "proof": p}
            for s, p in zip(subs, proofs, strict=True)
        ]

    @router.post(
        "/v1/statements",
        response_model=SubmitResult,
        responses=ERRORS,
        summary="Submit one DSSE envelope (JSON body)",
    )
    async def submit_one(
        request: Request,
        wait: Wait = False,
        timeout: WaitSeconds = 30.0,
    ) -> SubmitResult:
        raw = await read_body(request, MAX_ENVELOPE_BYTES, body_timeout)
        return SubmitResult(**(await work(_results, [raw], wait, timeout))[0])

    @router.post(
        "/v1/statements/batch",
        response_model=BatchResult,
        responses=ERRORS,
        summary="Submit up to 1000 envelopes; none is logged unless all are valid",
    )
    async def submit_batch(
        request: Request,
        wait: Wait = False,
        timeout: WaitSeconds = 30.0,
    ) -> Response:
        raw = await read_body(request, MAX_BODY, body_timeout)
        # parsing a batch (up to 16 MiB) and writing the answer happen off the event loop
        return Response(await work(_batch, raw, wait, timeout), media_type="application/json")

    def _batch(raw: bytes, wait: bool, timeout: float) -> bytes:
        raws = _envelopes_fast(raw)
        if raws is None:  # msgspec refused it: the standard parser decides, and says why
            raws = _envelopes(raw)
        results = _results(raws, wait, timeout)
        if not wait:  # indices and base64 only: msgspec writes exactly what json.dumps does
            return _ENCODE({"results": results})
        return json.dumps({"results": results}, separators=(",", ":")).encode()

    return router


class _Body(msgspec.Struct):
    envelopes: list[Any]


_DECODE_BODY = msgspec.json.Decoder(_Body)
#: compact with sorted keys, as ``json.dumps(..., separators=(",", ":"), sort_keys=True)``
#: writes ASCII text (non-ASCII text differs only in escaping, which admission undoes)
_ENCODE = msgspec.json.Encoder(order="sorted").encode


def _envelopes_fast(raw: bytes) -> list[bytes] | None:
    """The batch's envelopes, each in compact sorted-key form (an envelope sent in its
    canonical form comes out byte for byte, and admission then takes the parser-free
    path for it); None when msgspec refuses the body (not UTF-8 JSON, a lone
    surrogate, a number out of range, too deep, no ``envelopes`` list): then
    :func:`_envelopes` decides and names the problem."""
    try:
        envs = _DECODE_BODY.decode(raw).envelopes
    except (msgspec.DecodeError, RecursionError):
        return None
    if len(envs) > MAX_BATCH:
        raise RequestError(413, "invalid", f"at most {MAX_BATCH} envelopes per batch")
    return [e.encode() if isinstance(e, str) else _ENCODE(e) for e in envs]


def _envelopes(raw: bytes) -> list[bytes]:
    """The batch's envelopes by the standard parser, with a precise error for a bad body."""
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        raise RequestError(400, "invalid", "body is not JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("envelopes"), list):
        raise RequestError(400, "invalid", 'body must be {"envelopes": [...]}')
    envs = doc["envelopes"]
    if len(envs) > MAX_BATCH:
        raise RequestError(413, "invalid", f"at most {MAX_BATCH} envelopes per batch")
    raws = []
    for i, e in enumerate(envs):
        try:
            raws.append(
                json.dumps(e, separators=(",", ":"), sort_keys=True).encode()
                if not isinstance(e, str)
                else e.encode()
            )
        except UnicodeEncodeError:  # a lone surrogate (JSON allows the escape)
            raise RequestError(
                400, "invalid", "envelope is not valid Unicode text (a lone surrogate)", i
            ) from None
    return raws
