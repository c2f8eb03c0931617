"""The backtester's HTTP API: the seed's request finishes, matches the CLI, and is published."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import time
from pathlib import Path
from typing import Any

import httpx
from tests.integration.backtest.serving import SEED_BODY, serving

from atp.backtest.manager import MAX_ATTEMPTS
from atp.backtest.model import BacktestRequest
from atp.bus.memory import InMemoryBus
from atp.bus.subjects import BACKTEST_RESULTS
from atp.core.events import Envelope
from atp.marketdata.catalog import find_data_file
from atp.services.backtester import bootstrap
from atp.services.cli import main as atp_main
from atp.services.settings import AtpSettings


async def test_seed_request_finishes_is_published_and_matches_the_cli(
    tmp_path: Path, capsys: Any
) -> None:
    settings = AtpSettings(var_dir=tmp_path)
    bus = InMemoryBus()
    published: list[Envelope[Any]] = []

    async def on_result(envelope: Envelope[Any]) -> None:
        published.append(envelope)

    await bus.subscribe("backtest.results", durable="test", handler=on_result)
    service = await bootstrap(settings, bus=bus)
    await service.start()
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        started = await client.post("/backtest/start", json=SEED_BODY)
        assert started.status_code == 202, started.text
        run_id = started.json()["run_id"]
        await service.manager.wait(run_id)
        body = (await client.get(f"/backtest/{run_id}")).json()
        assert body["status"] == "finished" and body["progress"] == 100.0
        results = body["results"]
        assert results["bars"] == 21
        trades = await client.get(f"/backtest/{run_id}/trades.csv")
        assert trades.text.splitlines()[0].startswith("filled_at,symbol,side")
        equity = await client.get(f"/backtest/{run_id}/equity.csv")
        assert len(equity.text.splitlines()) == 22
        report = await client.get(f"/backtest/{run_id}/report")
        assert "<svg" in report.text and "Drawdown" in report.text
        # The service's report names the file it traded, relative to the data folder.
        traded = find_data_file(settings.data_dir, "AAPL").relative_to(settings.data_dir)
        assert traded.as_posix() in report.text
        listed = (await client.get("/backtest")).json()["runs"]
        assert [r["run_id"] for r in listed] == [run_id]
    await service.stop()
    assert [e.payload.run_id for e in published] == [run_id]
    assert published[0].payload.final_equity.__str__().startswith(results["final_equity"][:6])

    code = atp_main(
        [
            "backtest",
            "run",
            "--symbol",
            "AAPL",
            "--symbol",
            "MSFT",
            "--strategy",
            "momentum",
            "--strategy",
            "mean_reversion",
            "--start",
            "2024-01-01T00:00:00",
            "--end",
            "2024-01-31T23:59:59",
            "--initial-balance",
            "100000",
            "--json",
        ]
    )
    assert code == 0
    cli = json.loads(capsys.readouterr().out)
    assert cli["final_equity"] == results["final_equity"]
    assert cli["fills"] == results["fills"]
    assert cli["metrics"] == results["metrics"]


async def test_bad_requests_are_refused_with_the_reason(tmp_path: Path) -> None:
    service = await bootstrap(AtpSettings(var_dir=tmp_path), bus=InMemoryBus())
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        unknown = await client.post("/backtest/start", json={**SEED_BODY, "strategies": ["x"]})
        assert unknown.status_code == 422 and "unknown strategy 'x'" in unknown.json()["message"]
        backwards = await client.post(
            "/backtest/start", json={**SEED_BODY, "end_date": "2023-01-01T00:00:00"}
        )
        assert backwards.status_code == 422 and "before start_date" in backwards.json()["message"]
        missing = await client.post("/backtest/start", json={**SEED_BODY, "symbols": ["NOPE1"]})
        assert missing.status_code == 422 and "no data for NOPE1" in missing.json()["message"]
        assert (await client.get("/backtest/does-not-exist")).status_code == 404
    await service.stop()


async def _start(client: httpx.AsyncClient, body: dict[str, Any], key: str) -> httpx.Response:
    return await client.post("/backtest/start", json=body, headers={"Idempotency-Key": key})


async def test_a_run_failed_after_crashing_every_attempt_is_published(tmp_path: Path) -> None:
    settings = AtpSettings(var_dir=tmp_path)
    async with serving(settings) as client:
        run_id = (await client.post("/backtest/start", json=SEED_BODY)).json()["run_id"]
    # As a process killed during each of its attempts leaves it: counted, never ended.
    meta_path = tmp_path / "backtests" / run_id / "run.json"
    record = json.loads(meta_path.read_text())
    record.update(status="running", attempts=MAX_ATTEMPTS)
    meta_path.write_text(json.dumps(record))

    bus = InMemoryBus()
    async with serving(settings, bus):
        pass  # the stop returns once the failed run is announced

    published = [e.payload for e in await bus.history(BACKTEST_RESULTS)]
    assert [(p.run_id, p.status) for p in published] == [(run_id, "failed")]
    assert f"interrupted {MAX_ATTEMPTS} times" in (published[0].error or "")
    assert json.loads(meta_path.read_text())["status"] == "failed"


async def test_a_keyed_run_stored_just_before_a_crash_is_not_started_again(tmp_path: Path) -> None:
    settings = AtpSettings(var_dir=tmp_path)
    key = "crash-after-the-run-was-stored"
    two_years = {**SEED_BODY, "start_date": "2023-01-01T00:00:00", "end_date": "2024-12-31"}
    async with serving(settings) as client:
        first = await _start(client, two_years, key)
    # Stopped, so not ended. A process that dies right after the run is stored leaves its
    # run.json and nothing else.
    for path in (tmp_path / "backtests").rglob("*"):
        if path.is_file() and path.name != "run.json":
            path.unlink()

    async with serving(settings) as client:
        retry = await _start(client, two_years, key)
        runs = (await client.get("/backtest")).json()["runs"]

    assert first.status_code == 202, first.text
    assert (retry.status_code, retry.json()) == (202, first.json())
    assert [r["run_id"] for r in runs] == [first.json()["run_id"]]


async def test_a_key_recorded_by_the_previous_version_still_answers_its_retry(
    tmp_path: Path,
) -> None:
    settings = AtpSettings(var_dir=tmp_path)
    key = "recorded-before-keys-went-into-run-json"
    async with serving(settings) as client:
        first = await _start(client, SEED_BODY, key)
    # The layout the previous version left: run.json without the key, one file per key beside.
    run_id = first.json()["run_id"]
    meta_path = tmp_path / "backtests" / run_id / "run.json"
    record = json.loads(meta_path.read_text())
    record.pop("idempotency_key"), record.pop("fingerprint")
    meta_path.write_text(json.dumps(record))
    body = BacktestRequest.model_validate(SEED_BODY).model_dump(mode="json")
    fingerprint = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    legacy = (
        tmp_path / "backtests" / "idempotency" / f"{hashlib.sha256(key.encode()).hexdigest()}.json"
    )
    legacy.parent.mkdir()
    legacy.write_text(json.dumps({"key": key, "fingerprint": fingerprint, "answer": first.json()}))

    async with serving(settings) as client:
        retry = await _start(client, SEED_BODY, key)
        other_body = await _start(client, {**SEED_BODY, "initial_balance": 5}, key)
        runs = (await client.get("/backtest")).json()["runs"]

    assert (retry.status_code, retry.json()) == (202, first.json())
    assert other_body.status_code == 422 and key in other_body.json()["message"]
    assert [r["run_id"] for r in runs] == [run_id]


async def test_the_service_answers_while_a_start_reads_its_data(tmp_path: Path) -> None:
    eight_symbols = ["AAPL", "ADBE", "AMD", "AMGN", "AMZN", "AVGO", "CMCSA", "COST"]
    body = {**SEED_BODY, "symbols": eight_symbols, "strategies": ["momentum"]}
    turns: list[float] = []  # when the event loop ran another task

    async def turn() -> None:
        while True:
            turns.append(time.perf_counter())
            await asyncio.sleep(0.001)

    async with serving(AtpSettings(var_dir=tmp_path)) as client:
        watcher = asyncio.create_task(turn())
        await asyncio.sleep(0.01)
        began = time.perf_counter()
        started = await client.post("/backtest/start", json=body)
        ended = time.perf_counter()
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher

    assert started.status_code == 202, started.text
    during = [began, *(t for t in turns if began < t < ended), ended]
    longest = max(later - earlier for earlier, later in itertools.pairwise(during))
    # Eight files take about half a second to read and check; read on the event loop, they
    # stalled it (every other request, every NATS message) for all that time.
    assert longest < (ended - began) / 3, (longest, ended - began)
