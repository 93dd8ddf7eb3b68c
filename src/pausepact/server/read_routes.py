"""The read side: the C2SP static API (checkpoint, tiles, entry bundles) and the JSON
reads (log info, proofs, entries, the replayed state), all against the *published* tree."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from ..tlog import TILE_HEIGHT, TILE_WIDTH, TlogError, first_entries, parse_tile_path
from .errors import ERRORS, error
from .models import EntriesResult, LogInfo, ProofResult, WitnessState
from .node import Node

MAX_ENTRIES_PER_PAGE = 1000
IMMUTABLE = "public, max-age=31536000, immutable"


def read_router(node: Node) -> APIRouter:
    router = APIRouter()

    @router.get(
        "/checkpoint",
        response_class=PlainTextResponse,
        responses={404: ERRORS[404], 200: {"content": {"text/plain": {}}}},
        summary="The latest published checkpoint (signed note with cosignatures)",
    )
    def checkpoint() -> Response:
        pub = node.published()
        if pub is None:
            return error(404, "no_checkpoint", "nothing has been published yet")
        return PlainTextResponse(pub.note, headers={"Cache-Control": "no-cache"})

    @router.get(
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
        size = pub.size if pub else 0
        level = 0 if ref.level is None else ref.level
        if ref.index * TILE_WIDTH + ref.width > size >> (TILE_HEIGHT * level):
            return error(404, "no_tile", f"no such tile in the published tree (size {size})")
        if ref.level is None:
            data = first_entries(node.log.store.read_bundle(ref.index) or b"", ref.width)
        else:
            # need=width: a cached copy of a partial row may be shorter than the tile asked for
            row = node.reader.row(TILE_HEIGHT * ref.level, ref.index, need=ref.width)
            data = row[: ref.width * 32]
        cache = IMMUTABLE if ref.width == TILE_WIDTH else "public, max-age=3600, immutable"
        return Response(
            data, media_type="application/octet-stream", headers={"Cache-Control": cache}
        )

    # --- proofs, entries, state -------------------------------------------------------------
    @router.get("/v1/log", response_model=LogInfo, summary="The log's identity and sizes")
    def info() -> LogInfo:
        pub = node.published()
        return LogInfo(
            origin=node.origin,
            vkey=node.log.vkey,
            pact=node.pact.id,
            size=node.log.size,
            published_size=pub.size if pub else 0,
            witness_quorum=node.pact.pact.witness_quorum,
            sequencer=bool(getattr(node.log, "is_sequencer", True)),
            witnesses=[WitnessState(**w) for w in node.publisher.witness_states()],  # type: ignore[arg-type]
        )

    def _published_size() -> int:
        pub = node.published()
        return pub.size if pub else 0

    @router.get("/v1/proof/inclusion", response_model=ProofResult, responses=ERRORS)
    def inclusion(index: Annotated[int, Query(ge=0)], size: Annotated[int, Query(ge=1)]) -> Any:
        if index >= size or size > _published_size():
            return error(422, "bad_range", "need index < size <= the published size")
        return ProofResult(
            hashes=[base64.b64encode(h).decode() for h in node.reader.inclusion_proof(index, size)]
        )

    @router.get("/v1/proof/consistency", response_model=ProofResult, responses=ERRORS)
    def consistency(old: Annotated[int, Query(ge=1)], new: Annotated[int, Query(ge=1)]) -> Any:
        if old > new or new > _published_size():
            return error(422, "bad_range", "need 1 <= old <= new <= the published size")
        return ProofResult(
            hashes=[base64.b64encode(h).decode() for h in node.reader.consistency_proof(old, new)]
        )

    @router.get("/v1/entries", response_model=EntriesResult, responses=ERRORS)
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

    @router.get(
        "/v1/state", responses=ERRORS, summary="The replayed pact state of the published log"
    )
    def state(as_of: Annotated[datetime | None, Query(description="RFC 3339 time")] = None) -> Any:
        if as_of is not None and as_of.tzinfo is None:
            return error(422, "bad_time", "as_of needs a timezone (e.g. Z)")
        if as_of is not None and not 1970 <= as_of.year <= 3999:
            return error(422, "bad_time", "as_of must lie in the years 1970-3999")
        return JSONResponse(node.state(as_of).to_dict())

    return router
