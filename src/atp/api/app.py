"""The FastAPI app factory every service uses: health, readiness, metrics, errors, auth."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from atp import __version__
from atp.api.errors import install_error_handlers
from atp.core.tokens import check_api_token
from atp.telemetry.metrics import render

ReadinessCheck = Callable[[], Awaitable[dict[str, bool]]]


class Health(BaseModel):
    """The answer of `/healthz`."""

    status: str
    service: str
    version: str


class Readiness(BaseModel):
    """The answer of `/readyz`: each dependency and whether it is usable."""

    status: str
    service: str
    checks: dict[str, bool]


def create_app(
    *,
    service: str,
    registry: CollectorRegistry,
    readiness: ReadinessCheck,
    routers: Iterable[APIRouter] = (),
    state: dict[str, Any] | None = None,
    api_token: str | None = None,
    description: str = "",
) -> FastAPI:
    """Builds a service's HTTP app.

    Args:
        service: the service name, shown in health answers and the OpenAPI title.
        registry: the service's Prometheus registry, served on `/metrics`.
        readiness: answers which dependencies are usable; all true means ready.
        routers: the service's area routers.
        state: objects the routers read from `request.app.state` (never module globals).
        api_token: the bearer token mutating endpoints require, if any.

    Raises:
        ConfigurationError: `api_token` is too weak to guard anything (see `check_api_token`).
    """
    app = FastAPI(title=f"ATP {service}", version=__version__, description=description)
    app.state.api_token = check_api_token(api_token) if api_token is not None else None
    for key, value in (state or {}).items():
        setattr(app.state, key, value)
    install_error_handlers(app)

    @app.get("/healthz", response_model=Health, tags=["operations"])
    async def healthz() -> Health:
        """Liveness: the process answers."""
        return Health(status="ok", service=service, version=__version__)

    @app.get("/readyz", response_model=Readiness, tags=["operations"])
    async def readyz() -> JSONResponse:
        """Readiness: every dependency (NATS, database, venue) is usable."""
        checks = await readiness()
        ready = all(checks.values())
        body = Readiness(status="ready" if ready else "not_ready", service=service, checks=checks)
        return JSONResponse(body.model_dump(), status_code=200 if ready else 503)

    @app.get("/metrics", tags=["operations"], response_class=Response)
    async def metrics() -> Response:
        """Prometheus metrics in the text exposition format."""
        payload, content_type = render(registry)
        return Response(content=payload, media_type=content_type)

    for router in routers:
        app.include_router(router)
    return app
