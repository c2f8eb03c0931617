"""`POST` requests repeated with the same `Idempotency-Key`: the first answer comes back, one
order is made at the venue (one backtest run is started), and the key reused with another body
is refused with a 422 that names the key."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from tests.integration.manual_orders import manual_orders

from atp.bus.subjects import BACKTEST_RESULTS, EXECUTIONS_ORDER_UPDATE
from atp.core.enums import OrderStatus
from atp.services.backtester import bootstrap as backtester
from atp.services.embedded_nats import EmbeddedNats
from atp.services.settings import AtpSettings

from .crash import connect

ORDER = {"symbol": "AAPL", "side": "buy", "quantity": "3", "order_type": "market"}


async def test_orders_with_one_idempotency_key_make_one_order_and_answer_alike(
    fresh_nats_server: EmbeddedNats, database_url: str, tmp_path: Path
) -> None:
    settings = AtpSettings(
        database_url=database_url, var_dir=tmp_path, broker_port=0, meta_agent_port=0
    )
    async with manual_orders(fresh_nats_server.url, settings) as services:
        transport = httpx.ASGITransport(app=services.broker.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://broker") as client:

            async def post(key: str, body: dict[str, Any]) -> httpx.Response:
                return await client.post("/orders", json=body, headers={"Idempotency-Key": key})

            first = await post("retry-1", ORDER)
            again = await post("retry-1", ORDER)
            together = await asyncio.gather(*(post("together-1", ORDER) for _ in range(6)))
            other_body = await post("retry-1", {**ORDER, "quantity": "4"})
            orders = (await client.get("/orders")).json()
        updates = [e.payload for e in await services.publisher.history(EXECUTIONS_ORDER_UPDATE)]

    assert first.status_code == 201, first.text
    assert (again.status_code, again.json()) == (201, first.json())
    assert [r.status_code for r in together] == [201] * 6, [r.text for r in together]
    assert all(r.json() == together[0].json() for r in together)
    assert together[0].json()["client_order_id"] != first.json()["client_order_id"]
    # One order per key at the venue: two orders, each accepted once.
    assert len(orders) == 2
    accepted = [u.client_order_id for u in updates if u.status is OrderStatus.ACCEPTED]
    assert sorted(accepted) == sorted(
        [first.json()["client_order_id"], together[0].json()["client_order_id"]]
    )
    assert other_body.status_code == 422
    error = other_body.json()
    assert error["code"] == "invalid_input" and "retry-1" in error["message"]


SEED_BODY = {
    "start_date": "2024-01-01T00:00:00",
    "end_date": "2024-01-31T23:59:59",
    "symbols": ["AAPL"],
    "strategies": ["momentum"],
    "initial_balance": 100000,
}


async def test_backtest_start_with_one_idempotency_key_starts_one_run(
    fresh_nats_server: EmbeddedNats, tmp_path: Path
) -> None:
    bus = await connect(fresh_nats_server.url, "backtester")
    service = await backtester(AtpSettings(var_dir=tmp_path, backtester_port=0), bus=bus)
    await service.start()
    try:
        transport = httpx.ASGITransport(app=service.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://backtester") as client:

            async def start(key: str, body: dict[str, Any]) -> httpx.Response:
                headers = {"Idempotency-Key": key}
                return await client.post("/backtest/start", json=body, headers=headers)

            first = await start("run-1", SEED_BODY)
            again = await start("run-1", SEED_BODY)
            together = await asyncio.gather(*(start("run-2", SEED_BODY) for _ in range(5)))
            other_body = await start("run-1", {**SEED_BODY, "initial_balance": 50000})
            without_key = await client.post("/backtest/start", json=SEED_BODY)
            for response in (first, together[0], without_key):
                await service.manager.wait(response.json()["run_id"])
            after_the_runs = await start("run-1", SEED_BODY)
            runs = (await client.get("/backtest")).json()["runs"]
        results = await bus.history(BACKTEST_RESULTS)
    finally:
        await service.stop()
        await bus.close()

    assert first.status_code == 202, first.text
    assert (again.status_code, again.json()) == (202, first.json())
    # The first answer, not the run's later state: a retry cannot tell the runs apart.
    assert (after_the_runs.status_code, after_the_runs.json()) == (202, first.json())
    assert [r.status_code for r in together] == [202] * 5
    assert all(r.json() == together[0].json() for r in together)
    run_ids = {first.json()["run_id"], together[0].json()["run_id"], without_key.json()["run_id"]}
    assert len(run_ids) == 3
    assert sorted(r["run_id"] for r in runs) == sorted(run_ids)
    assert all(r["status"] == "finished" for r in runs)
    assert sorted(e.payload.run_id for e in results) == sorted(run_ids)
    assert other_body.status_code == 422
    error = other_body.json()
    assert error["code"] == "invalid_input" and "run-1" in error["message"]


# Long enough (two years, three agents, every voting strategy) to still be running when stopped.
LONG_BODY = {
    "start_date": "2023-01-01T00:00:00",
    "end_date": "2024-12-31T23:59:59",
    "symbols": ["AAPL", "MSFT"],
    "strategies": ["sma_crossover", "momentum", "mean_reversion"],
    "compare_voting_strategies": ["majority", "weighted", "unanimous", "confidence_weighted"],
    "initial_balance": 100000,
}


async def test_a_stopped_run_resumes_and_a_retry_after_the_restart_starts_nothing(
    fresh_nats_server: EmbeddedNats, tmp_path: Path
) -> None:
    settings = AtpSettings(var_dir=tmp_path, backtester_port=0)
    headers = {"Idempotency-Key": "across-a-restart"}

    async def serve() -> tuple[Any, Any]:
        bus = await connect(fresh_nats_server.url, "backtester")
        service = await backtester(settings, bus=bus)
        await service.start()
        return service, bus

    service, bus = await serve()
    try:
        transport = httpx.ASGITransport(app=service.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://backtester") as client:
            first = await client.post("/backtest/start", json=LONG_BODY, headers=headers)
    finally:
        await service.stop()  # the run is interrupted, not cancelled
        await bus.close()
    run_id = first.json()["run_id"]

    service, bus = await serve()
    try:
        transport = httpx.ASGITransport(app=service.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://backtester") as client:
            listed_on_restart = (await client.get("/backtest")).json()["runs"]
            retry = await client.post("/backtest/start", json=LONG_BODY, headers=headers)
            other_body = await client.post(
                "/backtest/start", json={**LONG_BODY, "initial_balance": 5}, headers=headers
            )
            await service.manager.wait(run_id)
            ended = (await client.get(f"/backtest/{run_id}")).json()
            runs = (await client.get("/backtest")).json()["runs"]
        results = await bus.history(BACKTEST_RESULTS)
    finally:
        await service.stop()
        await bus.close()

    assert first.status_code == 202, first.text
    # Resumed by the start: queued, or already running again.
    assert [r["run_id"] for r in listed_on_restart] == [run_id]
    assert listed_on_restart[0]["status"] in ("queued", "running")
    assert (retry.status_code, retry.json()) == (202, first.json())
    assert other_body.status_code == 422 and "across-a-restart" in other_body.json()["message"]
    assert ended["status"] == "finished" and ended["results"]["fills"]
    assert [r["run_id"] for r in runs] == [run_id]
    # Published once, when it ended: the interrupted attempt published nothing.
    assert [e.payload.run_id for e in results] == [run_id]
