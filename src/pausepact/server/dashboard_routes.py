"""The dashboard's routes: the page at ``/``, its files, ``dashboard.json`` and
``pact.json`` (the pact's canonical JSON, whose SHA-256 is the pact ID) — the same paths
``pausepact publish`` writes, so the page runs unchanged on a static mirror."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter
from fastapi.responses import Response

from .dashboard_view import ASSETS, DASHBOARD_FILE, PACT_JSON_FILE, asset, content_type
from .node import Node

#: the page's files change only with the installed package; revalidate cheaply
ASSET_CACHE = "public, max-age=60"


def dashboard_router(node: Node) -> APIRouter:
    router = APIRouter()
    pact_json = node.pact.canonical()

    def _file(name: str) -> Response:
        return Response(
            asset(name), media_type=content_type(name), headers={"Cache-Control": ASSET_CACHE}
        )

    @router.get("/", include_in_schema=False)
    def index() -> Response:
        return _file("index.html")

    def _route(name: str) -> Callable[[], Response]:
        def serve_file() -> Response:
            return _file(name)

        return serve_file

    for name in ASSETS:
        router.add_api_route(f"/{name}", _route(name), methods=["GET"], include_in_schema=False)

    @router.get(
        f"/{DASHBOARD_FILE}",
        summary="The dashboard's data: the replayed state at the published size, charts",
        responses={200: {"content": {"application/json": {}}}},
    )
    def dashboard() -> Response:
        return Response(
            node.dashboard(), media_type="application/json", headers={"Cache-Control": "no-cache"}
        )

    @router.get(
        f"/{PACT_JSON_FILE}",
        summary="The pact as canonical JSON (RFC 8785): its SHA-256 is the pact ID",
        responses={200: {"content": {"application/json": {}}}},
    )
    def pact() -> Response:
        return Response(pact_json, media_type="application/json")

    return router
