"""Evidence blobs: ``PUT /v1/blobs/<sha256>`` signed by a member (within its quota),
and ``GET`` streamed after re-hashing."""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..statements import (
    SIGNATURE_HEADER,
    SIGNER_HEADER,
    TIME_HEADER,
    BlobError,
    parse_time,
    upload_message,
)
from .errors import ERRORS, ErrorBody, error
from .models import BlobResult
from .node import Node
from .read_routes import IMMUTABLE

MIN_UPLOAD_RATE = 1e6  # bytes/s a blob uploader must sustain
BLOB_AUTH_ERROR = {
    "model": ErrorBody,
    "description": "not a member, or the upload's signature, key or time does not verify",
}
LENGTH_REQUIRED = {"model": ErrorBody, "description": "Content-Length is required"}


def blob_router(node: Node, body_timeout: float) -> APIRouter:
    router = APIRouter()

    @router.put(
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

    @router.get(
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

    return router
