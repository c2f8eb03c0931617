"""The risk engine's demo, on real data, with the services as processes (issue 4).

market-data, agents, meta-agent (with the risk engine) and broker-adapters run as
`python -m atp serve <name>` on a nats-server of the test's own, configured only by environment
variables. On AAPL's real closes of March 2020 (`pairs_trading_system/AAPL.csv`):

1. a manual position is pushed into a tight per-symbol cap (`ATP_RISK_LIMITS`): refused, 409;
2. the real drop of Monday 2020-03-16 (close 69.4925 -> 60.5525, -12.9%) takes a 40-share long
   past a 200 daily-loss limit: trading moves to REDUCING (the day is the bar's day:
   `day_boundary: market`), a buy is refused and a sell that shrinks the position passes;
3. the kill switch, tripped by an HTTP POST, halts everything: the reducing sell is refused too.

Each violation is checked in `GET /risk/violations`, in `/metrics` and on `risk.violations`.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support import free_port

from atp.bus.nats import NatsBus
from atp.bus.subjects import RISK_VIOLATIONS
from atp.core.events import Envelope
from atp.services.embedded_nats import EmbeddedNats
from atp.services.settings import AtpSettings
from atp.telemetry.metrics import BusMetrics, new_registry

pytestmark = pytest.mark.e2e

PORTS = {
    "broker-adapters": "ATP_BROKER_PORT",
    "meta-agent": "ATP_META_AGENT_PORT",
    "agents": "ATP_AGENTS_PORT",
    "market-data": "ATP_MARKET_DATA_PORT",
}
LIMITS = {
    "daily_loss": {"max_loss": "200", "action": "reducing", "day_boundary": "market"},
    "position_caps": {"per_symbol": {"AAPL": {"max_quantity": "50"}}},
}
TICK = Decimal("0.0001")  # the paper venue's price increment


def _close(day: str) -> Decimal:
    """AAPL's close of `day`, read straight from the CSV (not through ATP's loader)."""
    path = AtpSettings().data_dir / "pairs_trading_system" / "AAPL.csv"
    with path.open(newline="") as handle:
        return next(Decimal(r["Close"]) for r in csv.DictReader(handle) if r["Date"] == day)


class Services:
    """The four services as processes, sharing one environment and one nats-server."""

    def __init__(self, root: Path, nats_url: str) -> None:
        self.root = root
        self.ports = {name: free_port() for name in PORTS}
        env = {k: v for k, v in os.environ.items() if not k.startswith("ATP_")}
        env.update({PORTS[name]: str(port) for name, port in self.ports.items()})
        for name in ("ATP_BACKTESTER_PORT", "ATP_AUDIT_PORT", "ATP_EMBEDDED_NATS_PORT"):
            env[name] = str(free_port())
        env.update(
            {
                "ATP_NATS_URL": nats_url,
                "ATP_VAR_DIR": str(root / "var"),
                "ATP_DATABASE_URL": f"sqlite+aiosqlite:///{root / 'atp.db'}",
                "ATP_RISK_LIMITS": json.dumps(LIMITS),
                "ATP_MARKET_DATA_SYMBOLS": '["AAPL"]',
                "ATP_MARKET_DATA_START": "2020-03-12",
                "ATP_MARKET_DATA_END": "2020-03-13",
                "ATP_MARKET_DATA_WARMUP_BARS": "0",
                "ATP_MARKET_DATA_SPEED": "20",
                "ATP_AGENTS_AGENTS": json.dumps(
                    [
                        {
                            "agent_id": "sma",
                            "strategy": "sma_crossover",
                            "params": {"fast": 10, "slow": 30, "long_only": True},
                        }
                    ]
                ),
            }
        )
        self.env = env
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, **overrides: str) -> None:
        """Starts `python -m atp serve <name>` and waits for its `/readyz`."""
        log = (self.root / f"{name}-{time.monotonic_ns()}.log").open("wb")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "atp", "serve", name],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**self.env, **overrides},
        )
        deadline = time.monotonic() + 60
        while True:
            assert self.processes[name].poll() is None, f"{name} exited\n{self.logs()}"
            try:
                if httpx.get(self.url(name, "/readyz"), timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"{name} not ready\n{self.logs()}"
            time.sleep(0.2)

    def stop(self, name: str) -> None:
        """Stops one service with Ctrl-C (SIGINT) and waits for it."""
        process = self.processes.pop(name)
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def url(self, name: str, path: str) -> str:
        """The URL of `path` on service `name`."""
        return f"http://127.0.0.1:{self.ports[name]}{path}"

    def get(self, name: str, path: str) -> Any:
        """GETs JSON, failing on an error status."""
        response = httpx.get(self.url(name, path), timeout=10.0)
        assert response.status_code == 200, response.text
        return response.json()

    def order(self, side: str, quantity: int) -> httpx.Response:
        """POSTs a manual market order for AAPL to the broker."""
        body = {"symbol": "AAPL", "side": side, "quantity": quantity, "order_type": "market"}
        return httpx.post(self.url("broker-adapters", "/orders"), json=body, timeout=10.0)

    def wait_for(self, what: str, predicate: Any, timeout: float = 60.0) -> Any:
        """Polls `predicate` until it returns something truthy."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            assert time.monotonic() < deadline, f"waited for {what}\n{self.logs()}"
            time.sleep(0.2)

    def logs(self) -> str:
        """The tails of every service's log."""
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.root.glob("*.log"))
        )

    def stop_all(self) -> None:
        """Stops every service still running."""
        for name in list(self.processes):
            self.stop(name)


@pytest.fixture
def nats(tmp_path: Path) -> Iterator[EmbeddedNats]:
    server = EmbeddedNats(tmp_path / "nats-store", free_port())
    with server:
        yield server


@pytest.fixture
def services(tmp_path: Path, nats: EmbeddedNats) -> Iterator[Services]:
    running = Services(tmp_path, nats.url)
    try:
        yield running
    finally:
        running.stop_all()


class Violations:
    """Every `risk.violations` event, as a subscriber on the bus sees it."""

    def __init__(self) -> None:
        self.events: list[Envelope[Any]] = []

    async def __call__(self, envelope: Envelope[Any]) -> None:
        self.events.append(envelope)

    async def wait_for_rule(self, rule: str, within: float = 15.0) -> Envelope[Any]:
        """The first violation of `rule` received (fails after `within` seconds)."""
        async with asyncio.timeout(within):
            while True:
                for envelope in self.events:
                    if envelope.payload.rule == rule:
                        return envelope
                await asyncio.sleep(0.05)


@pytest.fixture
async def watcher(nats: EmbeddedNats) -> AsyncIterator[Violations]:
    bus = await NatsBus.connect(nats.url, client_name="demo", metrics=BusMetrics(new_registry()))
    seen = Violations()
    await bus.subscribe(RISK_VIOLATIONS, durable="demo-watcher", handler=seen)
    try:
        yield seen
    finally:
        await bus.close()


def _violations_metric(services: Services) -> dict[str, float]:
    text = httpx.get(services.url("meta-agent", "/metrics"), timeout=10.0).text
    return {
        rule: float(value)
        for rule, value in re.findall(
            r'^atp_risk_violations_total\{rule="([a-z_]+)"\} ([0-9.e+]+)$', text, re.M
        )
    }


def _refused_by(response: httpx.Response, rule: str) -> str:
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["code"] == "risk_refused"
    assert f"refused by risk rule {rule}" in body["message"], body
    message: str = body["message"]
    return message


async def _sees_everywhere(
    services: Services, watcher: Violations, rule: str, message: str
) -> None:
    """The violation is in the API, counted in the metrics, and on `risk.violations`."""
    listed = services.get("meta-agent", "/risk/violations?limit=50")
    assert any(v["rule"] == rule and message in v["message"] for v in listed), listed
    assert _violations_metric(services).get(rule, 0) >= 1
    event = await watcher.wait_for_rule(rule)
    assert message in event.payload.message


async def test_cap_daily_loss_and_kill_switch_on_a_real_crash_day(
    services: Services, watcher: Violations
) -> None:
    for name in PORTS:
        await asyncio.to_thread(services.start, name)
    await asyncio.to_thread(
        services.wait_for,
        "Friday's bar at the risk engine",
        lambda: (
            services.get("market-data", "/status")["done"]
            and services.get("meta-agent", "/risk/state")["trading_day"] == "2020-03-13"
        ),
    )

    # 1. Position cap: 40 shares pass, 20 more would make 60 against a cap of 50.
    bought = await asyncio.to_thread(
        services.wait_for, "a filled buy", lambda: _filled(services.order("buy", 40))
    )
    friday, monday = _close("2020-03-13"), _close("2020-03-16")
    assert Decimal(bought["fills"][0]["price"]) == friday.quantize(TICK)
    message = _refused_by(await asyncio.to_thread(services.order, "buy", 20),
                          "position_cap_quantity")  # fmt: skip
    assert "position cap AAPL 50 would become 60" in message
    await _sees_everywhere(services, watcher, "position_cap_quantity",
                           "position cap AAPL 50 would become 60")  # fmt: skip
    state = services.get("meta-agent", "/risk/state")
    assert state["trading_state"] == "active"
    assert Decimal(state["positions"][0]["quantity"]) == 40

    # 2. The real drop: market-data is extended to Monday and resumes at its cursor.
    await asyncio.to_thread(services.stop, "market-data")
    await asyncio.to_thread(services.start, "market-data", ATP_MARKET_DATA_END="2020-03-16")
    state = await asyncio.to_thread(
        services.wait_for,
        "REDUCING after the crash day",
        lambda: (
            (s := services.get("meta-agent", "/risk/state"))["trading_state"] == "reducing" and s
        ),
    )
    assert state["trading_day"] == "2020-03-16" and state["loss_breached"]
    # The day's P&L is exactly the close-to-close move of the crash day on 40 shares.
    assert Decimal(state["day_pnl"]) == 40 * (monday - friday)
    await _sees_everywhere(services, watcher, "daily_loss",
                           "daily loss 357.60 reached limit 200.00")  # fmt: skip
    _refused_by(await asyncio.to_thread(services.order, "buy", 1), "daily_loss")
    reduced = await asyncio.to_thread(services.order, "sell", 10)
    assert reduced.status_code == 201, reduced.text  # REDUCING lets a position shrink

    # 3. Kill switch by HTTP: HALTED, and even the reducing sell is refused.
    tripped = await asyncio.to_thread(
        httpx.post, services.url("meta-agent", "/risk/kill-switch"), json={"reason": "demo"}
    )
    assert tripped.status_code == 200, tripped.text
    assert tripped.json()["trading_state"] == "halted"
    message = _refused_by(await asyncio.to_thread(services.order, "sell", 10), "kill_switch")
    assert "kill switch is on" in message
    await _sees_everywhere(services, watcher, "kill_switch", "kill switch is on")
    account = services.get("broker-adapters", "/account")
    held = {p["symbol"]: Decimal(p["quantity"]) for p in account["positions"]}
    assert held["AAPL"] == 30, "nothing refused reached the broker"


def _filled(response: httpx.Response) -> Any:
    if response.status_code == 201 and response.json()["fills"]:
        return response.json()
    return None
