"""Every error the log server answers, in one place: the JSON body
``{"error": <code>, "detail": <message>[, "item": <batch position>]}``, the HTTP
status of each error class, and the handlers that turn exceptions into answers.

The core (:mod:`pausepact.pact.admission`, :mod:`pausepact.store`) raises errors with
no HTTP in them; only this module knows statuses.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import PausepactError
from ..pact import AdmissionError, RefusalKind
from ..store import EntryTooLargeError, NotSequencedError, StoreError
from .rate_limit import BusyError, RateLimitedError


class ErrorBody(BaseModel):
    error: str
    detail: str
    item: int | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorBody, "description": d}
    for s, d in {
        400: "malformed request",
        404: "not found",
        408: "the request body did not arrive in time",
        413: "too large",
        422: "refused: invalid statement or parameters",
        429: "rate limited",
        503: "busy or not yet available",
    }.items()
}

#: an admission refusal's kind → (HTTP status, error code)
REFUSALS: dict[RefusalKind, tuple[int, str]] = {
    "invalid": (422, "refused"),
    "empty": (400, "invalid"),
    "too_many": (413, "invalid"),
    "too_large": (413, "invalid"),
    "rate_limited": (429, "rate_limited"),
}


def error(
    status: int,
    code: str,
    detail: str,
    item: int | None = None,
    retry_after: float | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"error": code, "detail": detail}
    if item is not None:
        body["item"] = item
    resp = JSONResponse(body, status_code=status)
    if retry_after is not None:
        resp.headers["Retry-After"] = str(max(1, round(retry_after)))
    return resp


def busy() -> JSONResponse:
    return error(503, "busy", "too many concurrent requests; retry shortly", retry_after=1)


class RequestError(PausepactError):
    """A request the server answers with ``status`` and ``code`` (a malformed body, or
    statements logged but not yet published when the client asked to wait)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        item: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.item = item
        self.retry_after = retry_after


class WorkPoolFull(PausepactError):
    """Every slot of the write pool is taken: 503 busy."""


class BodyTooLarge(PausepactError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"request body is larger than {limit} bytes")


class SlowBody(PausepactError):
    def __init__(self, timeout: float) -> None:
        super().__init__(f"the request body did not arrive within {timeout:g} s")


def install_handlers(app: FastAPI) -> None:
    """Map every exception class the routes may raise to its JSON answer."""

    @app.exception_handler(WorkPoolFull)
    async def _full(_r: Request, _exc: WorkPoolFull) -> JSONResponse:
        return busy()

    @app.exception_handler(BusyError)
    async def _replaying(_r: Request, exc: BusyError) -> JSONResponse:
        return error(503, "busy", f"{exc}; retry shortly", retry_after=1)

    @app.exception_handler(SlowBody)
    async def _slow(_r: Request, exc: SlowBody) -> JSONResponse:
        return error(408, "timeout", str(exc))

    @app.exception_handler(BodyTooLarge)
    async def _too_large(_r: Request, exc: BodyTooLarge) -> JSONResponse:
        return error(413, "too_large", str(exc))

    @app.exception_handler(RequestError)
    async def _request(_r: Request, exc: RequestError) -> JSONResponse:
        return error(exc.status, exc.code, str(exc), exc.item, exc.retry_after)

    @app.exception_handler(AdmissionError)
    async def _admission(_r: Request, exc: AdmissionError) -> JSONResponse:
        status, code = REFUSALS[exc.kind]
        if isinstance(exc, RateLimitedError):
            return error(status, code, str(exc), retry_after=exc.retry_after)
        return error(status, code, str(exc), exc.item)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_r: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = "not_found" if exc.status_code == 404 else "http_error"
        return error(exc.status_code, code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_r: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return error(422, "invalid_request", f"{where}: {first.get('msg', 'invalid')}")

    @app.exception_handler(StoreError)
    async def _store(_r: Request, exc: StoreError) -> JSONResponse:
        # A store problem is the server's, not the request's: 503 (retry), never 422
        # ("refused: invalid"). Only an entry over the bundle format's limit is the
        # client's fault.
        if isinstance(exc, EntryTooLargeError):
            return error(413, "too_large", str(exc))
        code = "not_sequenced" if isinstance(exc, NotSequencedError) else "unavailable"
        return error(503, code, str(exc), retry_after=1)
