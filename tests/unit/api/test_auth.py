"""Mutating endpoints need the bearer token when one is configured; errors keep one body."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from atp.api.app import create_app
from atp.api.auth import actor_of, require_token
from atp.core.errors import ConfigurationError, Conflict, InvalidInput
from atp.telemetry.metrics import new_registry

TOKEN = "right-token-0123456789"


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

    @router.get("/broken", response_model=Echo)
    async def broken() -> Echo:
        raise RuntimeError("internal detail: /var/secret/path")

    async def ready() -> dict[str, bool]:
        return {"nats": True}

    app = create_app(
        service="test", registry=new_registry(), readiness=ready, routers=[router], api_token=token
    )
    # Unexpected exceptions answer 500 and are re-raised for the server's log; see the answer.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def _assert_error_body(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "message", "details"}, body
    assert body["code"] == code and body["message"]
    return body


async def test_without_a_configured_token_loopback_requests_pass() -> None:
    async with _app(None) as client:
        response = await client.post("/danger")
    assert response.status_code == 200
    assert response.json()["actor"].startswith("addr:")


async def test_a_missing_or_wrong_token_is_refused_and_the_right_one_passes() -> None:
    async with _app(TOKEN) as client:
        missing = await client.post("/danger")
        wrong = await client.post("/danger", headers={"Authorization": "Bearer wrong"})
        right = await client.post("/danger", headers={"Authorization": f"Bearer {TOKEN}"})
    assert missing.status_code == 401 and wrong.status_code == 401
    assert right.status_code == 200
    actor = right.json()["actor"]
    assert actor.startswith("token:") and TOKEN not in actor


async def test_an_empty_bearer_never_passes_and_is_told_how_to_authenticate() -> None:
    async with _app(TOKEN) as client:
        answers = [
            await client.post("/danger", headers={"Authorization": value})
            for value in ("Bearer ", "Bearer", "Bearer    ", "", f"Basic {TOKEN}")
        ]
    for answer in answers:
        body = _assert_error_body(answer, 401, "unauthorized")
        assert body["message"] == "a valid bearer token is required"
        assert answer.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("token", ["", "   ", "short-token", "a token with spaces in it"])
def test_an_app_refuses_a_token_too_weak_to_guard_it(token: str) -> None:
    async def ready() -> dict[str, bool]:
        return {}

    with pytest.raises(ConfigurationError, match="ATP_API_TOKEN") as refused:
        create_app(service="test", registry=new_registry(), readiness=ready, api_token=token)
    assert token.strip() == "" or token not in str(refused.value)


async def test_unknown_routes_wrong_methods_and_crashes_answer_the_documented_body() -> None:
    async with _app(TOKEN) as client:
        unknown = await client.get("/no/such/route")
        wrong_method = await client.put("/danger")
        get_on_post = await client.get("/danger")
        head_health = await client.head("/healthz")
        crash = await client.get("/broken")
    assert _assert_error_body(unknown, 404, "not_found")["message"] == "no route /no/such/route"
    body = _assert_error_body(wrong_method, 405, "method_not_allowed")
    assert body["message"] == "PUT is not allowed on /danger (allowed: POST)"
    assert wrong_method.headers["allow"] == "POST"
    _assert_error_body(get_on_post, 405, "method_not_allowed")
    assert (head_health.status_code, head_health.headers["allow"]) == (405, "GET")
    body = _assert_error_body(crash, 500, "internal_error")
    assert "secret" not in crash.text


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
