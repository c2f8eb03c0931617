"""The run list is cheap at any size of results, and /metrics counts runs as a user graphs them."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from tests.integration.backtest.serving import SEED_BODY, serving

from atp.services.settings import AtpSettings

LONG_BODY = SEED_BODY | {"start_date": "2020-01-01T00:00:00", "end_date": "2024-12-31T23:59:59"}
# Half a year of one strategy: it trades, so its final equity is not the initial balance.
TRADING_BODY = SEED_BODY | {"end_date": "2024-06-30T23:59:59", "strategies": ["momentum"]}


async def _ended(client: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    for _ in range(3000):
        body: dict[str, Any] = (await client.get(f"/backtest/{run_id}")).json()
        if body["status"] not in ("queued", "running"):
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} did not end")


async def _start(client: httpx.AsyncClient, body: dict[str, Any]) -> str:
    started = await client.post("/backtest/start", json=body)
    assert started.status_code == 202, started.text
    run_id: str = started.json()["run_id"]
    return run_id


async def _listed_equity(client: httpx.AsyncClient) -> dict[str, str | None]:
    runs = (await client.get("/backtest")).json()["runs"]
    return {r["run_id"]: r["final_equity"] for r in runs}


async def _fastest(client: httpx.AsyncClient, path: str, times: int = 5) -> float:
    best = float("inf")
    for _ in range(times):
        began = time.perf_counter()
        answer = await client.get(path)
        best = min(best, time.perf_counter() - began)
        assert answer.status_code == 200
    return best


async def test_the_list_shows_final_equity_before_and_after_a_restart(tmp_path: Path) -> None:
    settings = AtpSettings(var_dir=tmp_path)
    async with serving(settings) as client:
        finished = await _start(client, TRADING_BODY)
        results = (await _ended(client, finished))["results"]
        cancelled = await _start(client, LONG_BODY)
        await client.post(f"/backtest/{cancelled}/cancel")
        await _ended(client, cancelled)
        before = await _listed_equity(client)
    # A run stored by the previous version has its final equity in results.json only.
    legacy = await _start_and_store_legacy(settings)
    async with serving(settings) as client:
        after = await _listed_equity(client)
        legacy_results = (await client.get(f"/backtest/{legacy}")).json()["results"]
        restarted_results = (await client.get(f"/backtest/{finished}")).json()["results"]

    assert before == {finished: results["final_equity"], cancelled: None}
    assert after == {
        finished: results["final_equity"],
        cancelled: None,
        legacy: legacy_results["final_equity"],
    }
    assert len({results["final_equity"], legacy_results["final_equity"], "100000"}) == 3
    assert restarted_results == results  # the details are read back whole, when asked for


async def _start_and_store_legacy(settings: AtpSettings) -> str:
    async with serving(settings) as client:
        run_id = await _start(client, TRADING_BODY | {"strategies": ["mean_reversion"]})
        await _ended(client, run_id)
    meta_path = settings.var_dir / "backtests" / run_id / "run.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    del meta["final_equity"]
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    return run_id


async def test_listing_does_not_build_the_results_of_finished_runs(tmp_path: Path) -> None:
    # Five years of two symbols: building its results (fills, equity curve) is what the detail
    # route does and costs tens of milliseconds; the list must not pay it for every run.
    async with serving(AtpSettings(var_dir=tmp_path)) as client:
        run_id = await _start(client, LONG_BODY)
        detail = await _ended(client, run_id)
        assert detail["status"] == "finished" and len(detail["results"]["equity_curve"]) > 1000
        listing = await _fastest(client, "/backtest")
        details = await _fastest(client, f"/backtest/{run_id}")

    assert listing * 10 < details, (listing, details)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text page, parsed as Prometheus parses it."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_count_runs_by_status_their_duration_bars_and_runs_in_progress(
    tmp_path: Path,
) -> None:
    async with serving(AtpSettings(var_dir=tmp_path)) as client:
        finished = await _start(client, SEED_BODY)
        results = (await _ended(client, finished))["results"]
        long_run = await _start(client, LONG_BODY)
        during = _samples((await client.get("/metrics")).text)
        await client.post(f"/backtest/{long_run}/cancel")
        assert (await _ended(client, long_run))["status"] == "cancelled"
        page = await client.get("/metrics")
    after = _samples(page.text)

    assert page.headers["content-type"].startswith("text/plain")
    assert during[("atp_backtest_runs_in_progress", ())] == 1
    assert after[("atp_backtest_runs_in_progress", ())] == 0
    assert after[("atp_backtest_runs_started_total", ())] == 2
    ended = {
        status: after[("atp_backtest_runs_ended_total", (("status", status),))]
        for status in ("finished", "cancelled", "failed")
    }
    assert ended == {"finished": 1, "cancelled": 1, "failed": 0}
    finished_runs = (("status", "finished"),)
    assert after[("atp_backtest_run_duration_seconds_count", finished_runs)] == 1
    assert after[("atp_backtest_run_duration_seconds_sum", finished_runs)] > 0
    assert after[("atp_backtest_bars_processed_total", ())] == results["bars"] == 21
