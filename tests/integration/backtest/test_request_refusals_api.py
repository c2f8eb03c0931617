"""`POST /backtest/start` refuses, with a 422 naming the field, what would fail or mislead later."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from atp.bus.memory import InMemoryBus
from atp.services.backtester import bootstrap
from atp.services.settings import DEFAULT_DATA_DIR, AtpSettings

BODY: dict[str, Any] = {
    "start_date": "2024-01-01T00:00:00",
    "end_date": "2024-01-31T23:59:59",
    "symbols": ["AAPL"],
    "strategies": ["momentum"],
    "initial_balance": 100000,
}
MSFT = DEFAULT_DATA_DIR / "pairs_trading_system" / "MSFT.csv"


async def test_requests_that_cannot_run_as_asked_are_refused_before_a_run(tmp_path: Path) -> None:
    service = await bootstrap(AtpSettings(var_dir=tmp_path), bus=InMemoryBus())
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

        async def start(**changes: Any) -> httpx.Response:
            return await client.post("/backtest/start", json={**BODY, **changes})

        twice = await start(strategies=["momentum", "momentum"])
        assert twice.status_code == 422, twice.text
        assert "strategies must be unique" in twice.json()["message"]

        wrong_file = await start(data_files={"AAPL": str(MSFT)})
        assert wrong_file.status_code == 422, wrong_file.text
        assert wrong_file.json()["message"] == (
            f"{MSFT}: line 2, column 'Symbol': expected the requested symbol AAPL, found "
            "'MSFT' (the file holds another symbol's bars)"
        )

        stray = await start(data_files={"MSFT": str(MSFT)})
        assert stray.status_code == 422, stray.text
        assert "data_files: key 'MSFT' not in symbols (AAPL)" in stray.json()["message"]

        compared = await start(compare_voting_strategies=["nosuch"])
        assert compared.status_code == 422, compared.text
        assert compared.json()["message"].startswith("compare_voting_strategies: unknown 'nosuch'")

        assert (await client.get("/backtest")).json()["runs"] == []
    await service.stop()
