"""Maps errors to HTTP responses with one stable body: `{code, message, details}`.

Every error answer of every service has it: ATP errors (by kind), a request that breaks its
schema (422 `invalid_input`, `details` lists each problem with its location), HTTP errors of
the framework itself (404 `not_found` for an unknown route, 405 `method_not_allowed` with its
`Allow` header, 401 `unauthorized` with `WWW-Authenticate`) and anything unexpected (500
`internal_error`, without internals).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from atp.core.errors import (
    AtpError,
    Conflict,
    InvalidInput,
    NotFound,
    TransientError,
    VenueRejected,
)

_STATUS: tuple[tuple[type[AtpError], int], ...] = (
    (NotFound, 404),
    (Conflict, 409),
    (InvalidInput, 422),
    (VenueRejected, 422),
    (TransientError, 503),
)


def http_error_code(status: int) -> str:
    """The `code` of an HTTP error answer, e.g. `method_not_allowed` for a 405.

    The status's phrase in snake case, except a 422: `invalid_input`, as for all bad input.
    """
    if status == 422:
        return InvalidInput.code
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "http_error"


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The one error body every ATP endpoint returns."""
    return {"code": code, "message": message, "details": details}


def status_for(error: AtpError) -> int:
    """The HTTP status of an ATP error."""
    for kind, status in _STATUS:
        if isinstance(error, kind):
            return status
    return 500


def install_error_handlers(app: FastAPI) -> None:
    """Registers the mapping on `app`."""

    async def on_atp_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AtpError)
        return JSONResponse(error_body(exc.code, str(exc)), status_code=status_for(exc))

    async def on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"location": list(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type")}
            for e in exc.errors()
        ]
        message = "; ".join(f"{'.'.join(map(str, e['location']))}: {e['message']}" for e in errors)
        return JSONResponse(error_body("invalid_input", message, errors), status_code=422)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        status = exc.status_code
        if status in (204, 304):  # answers that carry no body
            return Response(status_code=status, headers=exc.headers)
        message = str(exc.detail)
        if status == 404 and message == HTTPStatus.NOT_FOUND.phrase:
            message = f"no route {request.url.path}"
        elif status == 405 and message == HTTPStatus.METHOD_NOT_ALLOWED.phrase:
            allowed = (exc.headers or {}).get("Allow", "")
            message = f"{request.method} is not allowed on {request.url.path} (allowed: {allowed})"
        return JSONResponse(
            error_body(http_error_code(status), message), status_code=status, headers=exc.headers
        )

    async def on_unexpected(_request: Request, exc: Exception) -> JSONResponse:
        # The traceback goes to the server's log (Starlette re-raises it), never to the client.
        return JSONResponse(error_body("internal_error", "internal error"), status_code=500)

    app.add_exception_handler(AtpError, on_atp_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
