"""One error format for the whole API: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    """Raised by routers; rendered in the single error format."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


class ErrorDetail(BaseModel):
    """What went wrong: a stable machine code, a sentence for people, optional specifics."""

    code: str
    message: str
    details: Any = None


class ErrorOut(BaseModel):
    """Every error answer of the API."""

    error: ErrorDetail


_ERROR_WHEN = {
    400: "The body could not be parsed at all",
    401: "No token, or the token is unknown, revoked or expired",
    403: "The token is for another server or below the role this needs",
    404: "No such resource in this server",
    409: "The request conflicts with the resource's state",
    413: "The body is too large",
    415: "The body's media type is not accepted",
    422: "The request is not valid; `details` lists every problem",
    429: "Over the token's per-minute rate; `Retry-After` says when to retry",
    503: "A service the call needs (Temporal) cannot be reached; nothing was done",
}


AUTHENTICATED = (401, 403, 422, 429)
"""What every call with a bearer token can answer: no/bad token, wrong server or role, invalid
request, over the rate limit."""


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries, in the error format, for the statuses a router can answer.

    Pass AUTHENTICATED plus the resource's own (404, 409, 503...).
    """
    return {
        status: {"model": ErrorOut, "description": _ERROR_WHEN.get(status, "Error")}
        for status in statuses
    }


def _body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def _out_of_range(
    exc: Exception, message: str = "A number or time in the request is out of range."
) -> JSONResponse:
    log.info("request refused by the database: %s", str(exc).splitlines()[0][:200])
    return JSONResponse(_body("invalid_request", message), status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    """Route every failure through the same JSON shape."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(
            _body(exc.code, exc.message, exc.details), status_code=exc.status, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": ".".join(str(p) for p in e["loc"]), "msg": e["msg"]} for e in exc.errors()
        ]
        return JSONResponse(
            _body("invalid_request", "The request is not valid.", details), status_code=422
        )

    @app.exception_handler(OverflowError)
    async def _overflow(_: Request, exc: OverflowError) -> JSONResponse:
        # A number or time the request carried that the database cannot hold (an id past
        # int64, a case number past int32, year 1 shifted before UTC): the client's error.
        return _out_of_range(exc)

    @app.exception_handler(DBAPIError)
    async def _database(_: Request, exc: DBAPIError) -> JSONResponse:
        # PostgreSQL's "data exception" class (SQLSTATE 22xxx: a NUL character in text, a number
        # out of range...) and asyncpg refusing a parameter past int32 are the request's fault;
        # anything else is a real fault and stays a 500.
        cause = exc.orig.__cause__ if exc.orig is not None else None
        sqlstate = str(getattr(exc.orig, "sqlstate", None) or getattr(cause, "sqlstate", ""))
        if sqlstate.startswith("22"):
            return _out_of_range(exc, "A value in the request cannot be stored (e.g. a NUL).")
        if "out of int" in str(exc.orig) or isinstance(cause, OverflowError):
            return _out_of_range(exc)
        raise exc

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            _body(f"http_{exc.status_code}", str(exc.detail)), status_code=exc.status_code
        )
