"""Reading a request body with a size limit and a deadline."""

from __future__ import annotations

import asyncio

from fastapi import Request

from .errors import BodyTooLarge, SlowBody


async def read_body(request: Request, limit: int, timeout: float) -> bytes:
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
