"""The witness service: C2SP tlog-witness over HTTP.

``POST /add-checkpoint`` hands the body to :class:`pausepact.tlog.witness.Witness`
(check and persist are one atomic compare-and-set in the state database) and answers
200 with the cosignature line, or 400/403/404/409/422 as the spec prescribes (409 with
the witness's size as ``text/x.tlog.size``). ``GET /v1/checkpoint?origin=`` returns
the latest checkpoint this witness cosigned, so auditors can compare what the witness
saw with what the log serves them (split-view detection).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from ..store import SQLiteWitnessState
from ..tlog import MAX_REQUEST_BYTES, Witness, WitnessError

TEXT: dict[str, Any] = {"content": {"text/plain": {}}}


def create_witness_app(witness: Witness, state: SQLiteWitnessState) -> FastAPI:
    app = FastAPI(title="pausepact witness", version="1", description=__doc__)

    @app.post(
        "/add-checkpoint",
        response_class=PlainTextResponse,
        responses={
            200: {**TEXT, "description": "the cosignature line(s)"},
            400: {**TEXT, "description": "malformed request"},
            403: {**TEXT, "description": "not signed by a known log key"},
            404: {**TEXT, "description": "unknown log origin"},
            409: {
                "content": {"text/x.tlog.size": {}, "text/plain": {}},
                "description": "old size is not the witness's size (body: that size)",
            },
            413: {**TEXT, "description": "request too large"},
            422: {**TEXT, "description": "the consistency proof does not verify"},
        },
    )
    async def add_checkpoint(request: Request) -> Response:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_REQUEST_BYTES:
                return PlainTextResponse("request too large\n", status_code=413)
        try:
            lines = await run_in_threadpool(witness.add_checkpoint, bytes(body))
        except WitnessError as exc:
            return Response(exc.body, status_code=exc.status, media_type=exc.content_type)
        return PlainTextResponse(lines)

    @app.get(
        "/v1/checkpoint",
        response_class=PlainTextResponse,
        responses={200: TEXT, 404: {"description": "this witness has cosigned nothing for it"}},
    )
    def latest(origin: Annotated[str, Query(max_length=255)]) -> Response:
        note = witness.cosigned(origin, state.checkpoint(origin))
        if note is None:
            return JSONResponse(
                {"error": "unknown", "detail": "no checkpoint for this origin"}, 404
            )
        return PlainTextResponse(note, headers={"Cache-Control": "no-cache"})

    return app
