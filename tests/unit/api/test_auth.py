"""Mutating endpoints need the bearer token when one is configured; errors keep one body."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from atp.api.app import create_app
from atp.api.auth import actor_of, require_token
from atp.core.errors import Conflict, InvalidInput
from atp.telemetry.metrics import new_registry


class Echo(BaseModel):
    actor: str


def _app(token: str | None) -> httpx.AsyncClient:
    router = APIRouter()

    @router.post("/danger", response_model=Echo, dependencies=[Depends(require_token)])
    async def danger(request: Request) -> Echo:
        return Echo(actor=actor_of(request))

    @router.post("/refuse/{kind}", response_model=Echo)
    async def refuse(kind: str) -> Echo:
        raise Conflict("halted") if kind == "conflict" else InvalidInput("quantity: expected > 0")

    async def ready() -> dict[str, bool]:
        return {"nats": True}

    app = create_app(
        service="test", registry=new_registry(), readiness=ready, routers=[router], api_token=token
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_without_a_configured_token_loopback_requests_pass() -> None:
    async with _app(None) as client:
        response = await client.post("/danger")
    assert response.status_code == 200
    assert response.json()["actor"].startswith("addr:")


async def test_a_missing_or_wrong_token_is_refused_and_the_right_one_passes() -> None:
    async with _app("right-token") as client:
        missing = await client.post("/danger")
        wrong = await client.post("/danger", headers={"Authorization": "Bearer wrong"})
        right = await client.post("/danger", headers={"Authorization": "Bearer right-token"})
    assert missing.status_code == 401 and wrong.status_code == 401
    assert right.status_code == 200
    actor = right.json()["actor"]
    assert actor.startswith("token:") and "right-token" not in actor


async def test_errors_map_to_statuses_with_one_stable_body() -> None:
    async with _app(None) as client:
        conflict = await client.post("/refuse/conflict")
        invalid = await client.post("/refuse/invalid")
    assert conflict.status_code == 409
    assert conflict.json() == {"code": "conflict", "message": "halted", "details": None}
    assert invalid.status_code == 422
    assert invalid.json()["message"] == "quantity: expected > 0"


async def test_health_readiness_and_metrics_are_served() -> None:
    async with _app(None) as client:
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
        metrics = await client.get("/metrics")
        docs = await client.get("/openapi.json")
    assert health.json()["status"] == "ok"
    assert ready.json() == {"status": "ready", "service": "test", "checks": {"nats": True}}
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    assert "/danger" in docs.json()["paths"]
