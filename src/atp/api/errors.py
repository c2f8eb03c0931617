"""Maps ATP errors to HTTP responses with one stable body: `{code, message, details}`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

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

    app.add_exception_handler(AtpError, on_atp_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
