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
import base64
import binascii
import json
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ..pact.admission import MAX_BATCH, MAX_ENVELOPE_BYTES
from ..statements.blob_auth import (
    SIGNATURE_HEADER,
    SIGNER_HEADER,
    TIME_HEADER,
    upload_message,
)
from ..statements.blobs import BlobError
from ..statements.schemas import parse_time
from ..tlog.errors import TlogError
from ..tlog.tiles import TILE_HEIGHT, TILE_WIDTH, first_entries, parse_tile_path
from .errors import (
    ERRORS,
    BodyTooLarge,
    ErrorBody,
    RequestError,
    SlowBody,
    WorkPoolFull,
    busy,
    error,
    install_handlers,
)
from .metrics import Metrics
from .node import Node

MAX_BODY = 16 << 20
MAX_ENTRIES_PER_PAGE = 1000
MAX_WAIT_SECONDS = 60.0
IMMUTABLE = "public, max-age=31536000, immutable"


class SubmitResult(BaseModel):
    index: int = Field(description="the entry's index (the first index if already logged)")
    leaf_hash: str = Field(description="base64 RFC 9162 leaf hash")
    proof: str | None = Field(
        None, description="c2sp.org/tlog-proof@v1 against the published checkpoint (wait=true)"
    )


class BatchResult(BaseModel):
    results: list[SubmitResult]


class BatchBody(BaseModel):
    envelopes: list[dict[str, Any]] = Field(max_length=MAX_BATCH)


class ProofResult(BaseModel):
    hashes: list[str]


class EntriesResult(BaseModel):
    start: int
    entries: list[str] = Field(description="base64 entries")


class WitnessState(BaseModel):
    url: str
    state: str = Field(description="up or down")
    down_since: str | None = None
    last_error: str | None = None
    cosigned_size: int


class LogInfo(BaseModel):
    origin: str
    vkey: str
    pact: str
    size: int
    published_size: int
    witness_quorum: int
    sequencer: bool = Field(description="whether this process sequences (always, on SQLite)")
    witnesses: list[WitnessState] = Field(
        default_factory=list, description="the witnesses this server asks to cosign"
    )


class BlobResult(BaseModel):
    sha256: str


DEFAULT_BODY_TIMEOUT = 10.0
MIN_UPLOAD_RATE = 1e6  # bytes/s a blob uploader must sustain
BLOB_AUTH_ERROR = {
    "model": ErrorBody,
    "description": "not a member, or the upload's signature, key or time does not verify",
}
LENGTH_REQUIRED = {"model": ErrorBody, "description": "Content-Length is required"}


async def _body(request: Request, limit: int, timeout: float) -> bytes:
    """The whole body, at most ``limit`` bytes, within ``timeout`` seconds: a client that
    sends its headers and then trickles (or stops) is cut off, and holds no work slot
    meanwhile (slots are taken only once a body has arrived)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    data = bytearray()
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                data += chunk
                if len(data) > limit:
                    raise BodyTooLarge(limit)
    except TimeoutError:
        raise SlowBody(timeout) from None
    return bytes(data)


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
            pub[0] if pub else 0,
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

    # --- submit ----------------------------------------------------------------------------
    def _results(raws: list[bytes], wait: bool, timeout: float) -> list[SubmitResult]:
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
            SubmitResult(index=s.index, leaf_hash=base64.b64encode(s.leaf_hash).decode(), proof=p)
            for s, p in zip(subs, proofs, strict=True)
        ]

    @app.post(
        "/v1/statements",
        response_model=SubmitResult,
        responses=ERRORS,
        summary="Submit one DSSE envelope (JSON body)",
    )
    async def submit_one(
        request: Request,
        wait: Annotated[
            bool, Query(description="wait until a published checkpoint covers it")
        ] = False,
        timeout: Annotated[
            float, Query(gt=0, le=MAX_WAIT_SECONDS, description="seconds to wait")
        ] = 30.0,
    ) -> SubmitResult:
        raw = await _body(request, MAX_ENVELOPE_BYTES, body_timeout)
        return (await _work(_results, [raw], wait, timeout))[0]  # type: ignore[no-any-return]

    @app.post(
        "/v1/statements/batch",
        response_model=BatchResult,
        responses=ERRORS,
        summary="Submit up to 1000 envelopes; none is logged unless all are valid",
    )
    async def submit_batch(
        request: Request,
        wait: Annotated[
            bool, Query(description="wait until a published checkpoint covers them")
        ] = False,
        timeout: Annotated[
            float, Query(gt=0, le=MAX_WAIT_SECONDS, description="seconds to wait")
        ] = 30.0,
    ) -> Response:
        raw = await _body(request, MAX_BODY, body_timeout)
        # parsing a batch (up to 16 MiB) and writing the answer happen off the event loop
        return Response(await _work(_batch, raw, wait, timeout), media_type="application/json")

    def _batch(raw: bytes, wait: bool, timeout: float) -> bytes:
        try:
            doc = json.loads(raw)
        except (ValueError, RecursionError):
            raise RequestError(400, "invalid", "body is not JSON") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("envelopes"), list):
            raise RequestError(400, "invalid", 'body must be {"envelopes": [...]}')
        envs = doc["envelopes"]
        if len(envs) > MAX_BATCH:
            raise RequestError(413, "invalid", f"at most {MAX_BATCH} envelopes per batch")
        # compact and sorted: an envelope sent in its canonical form comes out byte for byte
        # (admission then takes the parser-free path for it)
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
        results = [r.model_dump() for r in _results(raws, wait, timeout)]
        return json.dumps({"results": results}, separators=(",", ":")).encode()

    # --- static C2SP API ------------------------------------------------------------------
    @app.get(
        "/checkpoint",
        response_class=PlainTextResponse,
        responses={404: ERRORS[404], 200: {"content": {"text/plain": {}}}},
        summary="The latest published checkpoint (signed note with cosignatures)",
    )
    def checkpoint() -> Response:
        pub = node.published()
        if pub is None:
            return error(404, "no_checkpoint", "nothing has been published yet")
        return PlainTextResponse(pub[1], headers={"Cache-Control": "no-cache"})

    @app.get(
        "/tile/{path:path}",
        responses={
            200: {"content": {"application/octet-stream": {}}, "description": "tile bytes"},
            404: ERRORS[404],
        },
        summary="Merkle tiles and entry bundles (c2sp.org/tlog-tiles)",
    )
    def tile(path: str) -> Response:
        try:
            ref = parse_tile_path("tile/" + path)
        except TlogError as exc:
            return error(404, "not_a_tile", str(exc))
        pub = node.published()
        size = pub[0] if pub else 0
        level = 0 if ref.level is None else ref.level
        if ref.index * TILE_WIDTH + ref.width > size >> (TILE_HEIGHT * level):
            return error(404, "no_tile", f"no such tile in the published tree (size {size})")
        if ref.level is None:
            data = first_entries(node.log.store.read_bundle(ref.index) or b"", ref.width)
        else:
            data = node.reader.row(TILE_HEIGHT * ref.level, ref.index)[: ref.width * 32]
        cache = IMMUTABLE if ref.width == TILE_WIDTH else "public, max-age=3600, immutable"
        return Response(
            data, media_type="application/octet-stream", headers={"Cache-Control": cache}
        )

    # --- proofs, entries, state -------------------------------------------------------------
    @app.get("/v1/log", response_model=LogInfo, summary="The log's identity and sizes")
    def info() -> LogInfo:
        pub = node.published()
        return LogInfo(
            origin=node.origin,
            vkey=node.log.vkey,
            pact=node.pact.id,
            size=node.log.size,
            published_size=pub[0] if pub else 0,
            witness_quorum=node.pact.pact.witness_quorum,
            sequencer=bool(getattr(node.log, "is_sequencer", True)),
            witnesses=[WitnessState(**w) for w in node.publisher.witness_states()],  # type: ignore[arg-type]
        )

    def _published_size() -> int:
        pub = node.published()
        return pub[0] if pub else 0

    @app.get("/v1/proof/inclusion", response_model=ProofResult, responses=ERRORS)
    def inclusion(index: Annotated[int, Query(ge=0)], size: Annotated[int, Query(ge=1)]) -> Any:
        if index >= size or size > _published_size():
            return error(422, "bad_range", "need index < size <= the published size")
        return ProofResult(
            hashes=[base64.b64encode(h).decode() for h in node.reader.inclusion_proof(index, size)]
        )

    @app.get("/v1/proof/consistency", response_model=ProofResult, responses=ERRORS)
    def consistency(old: Annotated[int, Query(ge=1)], new: Annotated[int, Query(ge=1)]) -> Any:
        if old > new or new > _published_size():
            return error(422, "bad_range", "need 1 <= old <= new <= the published size")
        return ProofResult(
            hashes=[base64.b64encode(h).decode() for h in node.reader.consistency_proof(old, new)]
        )

    @app.get("/v1/entries", response_model=EntriesResult, responses=ERRORS)
    def entries(
        start: Annotated[int, Query(ge=0)] = 0,
        count: Annotated[int, Query(ge=1, le=MAX_ENTRIES_PER_PAGE)] = 100,
    ) -> Any:
        size = _published_size()
        if start > size:
            return error(422, "bad_range", f"start {start} is beyond the published size {size}")
        end = min(size, start + count)
        return EntriesResult(
            start=start,
            entries=[base64.b64encode(e).decode() for e in node.log.entries(start, end)],
        )

    @app.get("/v1/state", responses=ERRORS, summary="The replayed pact state of the published log")
    def state(as_of: Annotated[datetime | None, Query(description="RFC 3339 time")] = None) -> Any:
        if as_of is not None and as_of.tzinfo is None:
            return error(422, "bad_time", "as_of needs a timezone (e.g. Z)")
        if as_of is not None and not 1970 <= as_of.year <= 3999:
            return error(422, "bad_time", "as_of must lie in the years 1970-3999")
        return JSONResponse(node.state(as_of).to_dict())

    # --- blobs ------------------------------------------------------------------------------
    @app.put(
        "/v1/blobs/{digest}",
        response_model=BlobResult,
        responses={**ERRORS, 401: BLOB_AUTH_ERROR, 411: LENGTH_REQUIRED},
        summary="Upload a blob, signed by a member (see statements/blob_auth.py)",
    )
    async def put_blob(digest: str, request: Request) -> Any:
        if node.blobs is None or node.blob_quota is None:
            return error(404, "no_blobs", "this server keeps no blobs")
        if not re.fullmatch(r"[0-9a-f]{64}", digest):
            return error(422, "bad_digest", "the path must end in a SHA-256 hex digest")
        length = request.headers.get("content-length", "")
        if not length.isdigit():
            return error(411, "length_required", "a blob upload needs a Content-Length")
        size = int(length)
        if size > node.blobs.max_size:
            return error(413, "too_large", f"blobs are limited to {node.blobs.max_size} bytes")
        member = _authorised(request, digest, size)  # before a byte of the body is read
        if isinstance(member, JSONResponse):
            return member
        if node.blobs.has(digest):
            return BlobResult(sha256=digest)  # already stored: nothing to read
        if not node.blob_quota.allows(member, size):
            return error(
                413,
                "quota",
                f"{member} has used {node.blob_quota.used(member)} of its "
                f"{node.blob_quota.quota} bytes of blob storage",
            )
        writer = node.blobs.writer()
        try:  # a slow uploader gets the body timeout plus 1 s per MB of its declared size
            async with asyncio.timeout(body_timeout + size / MIN_UPLOAD_RATE):
                async for chunk in request.stream():
                    writer.write(chunk)
            await run_in_threadpool(writer.finish, digest, size)
        except TimeoutError:
            writer.abort()
            return error(408, "timeout", "the blob did not arrive in time")
        except BlobError as exc:
            writer.abort()
            return error(422, "mismatch", str(exc))
        except BaseException:
            writer.abort()
            raise
        node.blob_quota.record(member, digest, size)
        return BlobResult(sha256=digest)

    def _authorised(request: Request, digest: str, size: int) -> str | JSONResponse:
        """The uploading member, or the 401 that says why not."""
        h = request.headers
        member, when, sig = h.get(SIGNER_HEADER), h.get(TIME_HEADER), h.get(SIGNATURE_HEADER)
        if not (member and when and sig):
            return error(
                401,
                "unauthorised",
                f"blob uploads are signed by a member: headers {SIGNER_HEADER}, "
                f"{TIME_HEADER} and {SIGNATURE_HEADER} are required",
            )
        key = node.keys.key_of(member)
        if key is None:
            return error(401, "unauthorised", f"{member} is not a member of this pact")
        try:
            t = parse_time(when)
            raw_sig = base64.b64decode(sig, validate=True)
        except (ValueError, binascii.Error):
            return error(401, "unauthorised", "malformed time or signature header")
        if abs(datetime.now(UTC) - t) > node.admission.skew:
            return error(401, "unauthorised", f"the upload's time {when} is outside the skew")
        if not key.verify(upload_message(node.pact.id, digest, size, when), raw_sig):
            return error(401, "unauthorised", f"the signature is not {member}'s current key's")
        return member

    @app.get(
        "/v1/blobs/{digest}",
        responses={
            200: {"content": {"application/octet-stream": {}}},
            404: ERRORS[404],
            503: ERRORS[503],
        },
    )
    def get_blob(digest: str) -> Response:
        if (
            node.blobs is None
            or not re.fullmatch(r"[0-9a-f]{64}", digest)
            or not node.blobs.has(digest)
        ):
            return error(404, "no_blob", "no such blob")
        try:
            chunks = node.blobs.stream(digest)  # re-hashed first: never a damaged file
        except BlobError:  # the file was damaged on disk (or went away meanwhile)
            resp = error(503, "unavailable", f"the stored blob {digest} is damaged or missing")
            resp.headers["Retry-After"] = "60"
            return resp
        return StreamingResponse(
            chunks, media_type="application/octet-stream", headers={"Cache-Control": IMMUTABLE}
        )

    return app
