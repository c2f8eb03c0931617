"""The market-data service: replays real bars onto `signals.normalized` at a chosen speed.

Composition root. By default it replays AAPL and MSFT daily bars from
`<data_dir>/pairs_trading_system` from 2024-01-01, starting `warmup_bars` sessions earlier so
the slow SMA is warm when 2024 begins, at 5 bar steps per second (one step = every symbol's bar
of one timestamp): agents trade within the first minute of `make up`.

The cursor (the time of the last step published) is written atomically (temp file, fsync,
rename) under `var_dir`, at most once a second and on stop, so a restart resumes after the last
step it saved; a step republished after a crash carries the same event ids, so JetStream and
the consumers drop it. When the data runs out the service stops publishing and says so in
`GET /status`. The pace has one name, `speed` (bar steps per second), in the settings
(`ATP_MARKET_DATA_SPEED`), in `GET /status` and in `POST /control/speed` (`{"speed": 20}`; the
former `{"steps_per_second": 20}` is still accepted).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Callable
from datetime import date, datetime
from datetime import time as clock_time
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from prometheus_client import Counter, Gauge
from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from atp.api.app import create_app
from atp.api.auth import actor_of, require_token
from atp.core.clock import Clock, SystemClock
from atp.core.events import ControlAction, envelope_for
from atp.core.ids import derive_id
from atp.marketdata.align import BarBatch, align
from atp.marketdata.catalog import DEFAULT_TIMEZONE, find_data_file, load_bars
from atp.marketdata.cursor_file import load_cursor, save_cursor
from atp.marketdata.replay import Pacer, ReplayPlan
from atp.marketdata.timeparse import exchange_zone
from atp.services.settings import AtpSettings
from atp.telemetry.metrics import BusMetrics, new_registry

log = logging.getLogger(__name__)

NAME = "market-data"
SOURCE = "market-data"
CURSOR_FILE = "market-data-cursor.json"
SAVE_INTERVAL_SECONDS = 1.0
MAX_STEPS_PER_TICK = 500  # bounds one loop turn so HTTP stays responsive at unpaced speed
MAX_SLEEP_SECONDS = 0.25  # how long a pause or speed change may take to be noticed


class MarketDataSettings(BaseSettings):
    """What to replay (`ATP_MARKET_DATA_` prefix; lists as JSON, e.g. `["AAPL","MSFT"]`)."""

    model_config = SettingsConfigDict(env_prefix="ATP_MARKET_DATA_", frozen=True, extra="forbid")

    files: list[Path] = Field(
        default_factory=list, description="CSV files to replay; empty: look up `symbols`."
    )
    symbols: list[str] = Field(
        default_factory=lambda: ["AAPL", "MSFT"],
        description="Symbols looked up in data_dir when `files` is empty.",
    )
    start: date | None = Field(default=date(2024, 1, 1), description="First session shown.")
    end: date | None = Field(default=None, description="Last session replayed (inclusive).")
    warmup_bars: int = Field(
        default=60, ge=0, le=10_000, description="Steps replayed before `start` to warm up."
    )
    speed: float = Field(default=5.0, gt=0, description="Bar steps per second (inf: unpaced).")
    timezone: str = Field(default=DEFAULT_TIMEZONE, description="Zone of naive timestamps.")
    price_basis: Literal["close", "adjusted"] = Field(
        default="close", description="close: as printed; adjusted: Adj Close basis."
    )


class ReplayStatus(BaseModel):
    """`GET /status`: where the replay is."""

    model_config = ConfigDict(extra="forbid")

    service: str
    files: list[str]
    symbols: list[str]
    speed: float = Field(description="Bar steps per second; `POST /control/speed` sets it.")
    paused: bool
    done: bool
    message: str
    cursor: datetime | None
    first_bar: datetime | None
    steps_done: int
    total_steps: int
    bars_published: int


class SpeedChange(BaseModel):
    """`POST /control/speed`: the new speed, named as `GET /status` and `ATP_MARKET_DATA_SPEED`.

    `{"speed": 20}`. The former name, `{"steps_per_second": 20}`, is still accepted (one of the
    two, not both).
    """

    model_config = ConfigDict(extra="forbid")

    speed: float = Field(
        gt=0,
        validation_alias=AliasChoices("speed", "steps_per_second"),
        description="Bar steps per second (also accepted as `steps_per_second`).",
    )


class MarketDataService:
    """The running replay: its loop, its cursor file and its HTTP app."""

    name = NAME

    def __init__(
        self,
        *,
        settings: AtpSettings,
        config: MarketDataSettings,
        bus: Any,
        owns_bus: bool,
        clock: Clock,
        monotonic: Callable[[], float],
        registry: Any,
    ) -> None:
        self._settings = settings
        self.config = config
        self._bus = bus
        self._owns_bus = owns_bus
        self._clock = clock
        self._monotonic = monotonic
        self.port = settings.market_data_port
        paths = list(config.files) or [
            find_data_file(settings.data_dir, symbol) for symbol in config.symbols
        ]
        series = [
            load_bars(p, timezone=config.timezone, price_basis=config.price_basis) for p in paths
        ]
        self.files = [str(p) for p in paths]
        self.symbols = [s.symbol for s in series]
        self._batches: list[BarBatch] = align(series)
        self._cursor_path = settings.var_dir / CURSOR_FILE
        self._fingerprint = _fingerprint(self.files, config)
        self.plan = ReplayPlan(
            self._batches,
            start=_session_start(config.start, config.timezone),
            end=_session_end(config.end, config.timezone),
            warmup_steps=config.warmup_bars,
            cursor=load_cursor(self._cursor_path, self._fingerprint),
        )
        self.pacer = Pacer(config.speed, now=monotonic(), steps_done=self.plan.steps_done)
        self.paused = False
        self.bars_published = 0
        self.finished = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_save = 0.0
        self._wake = asyncio.Event()
        self.published = Counter(
            "atp_market_data_bars_published_total",
            "Bars published, by symbol.",
            ["symbol"],
            registry=registry,
        )
        self.lag = Gauge(
            "atp_market_data_replay_lag_seconds",
            "How far the replay is behind its pace.",
            registry=registry,
        )
        self.progress = Gauge(
            "atp_market_data_replay_progress_ratio",
            "Steps replayed / steps planned.",
            registry=registry,
        )
        self.app: FastAPI = create_app(
            service=NAME,
            registry=registry,
            readiness=self._readiness,
            routers=[router],
            state={"market_data": self},
            api_token=settings.api_token_value,
            description="Replays real OHLCV bars onto signals.normalized.",
        )

    async def start(self) -> None:
        """Starts the replay loop (it returns at once)."""
        self.pacer.rebase(now=self._monotonic(), steps_done=self.plan.steps_done)
        if self.plan.done:
            self.finished.set()
        self._task = asyncio.create_task(self._run(), name="market-data-replay")

    async def stop(self) -> None:
        """Stops the loop, saves the cursor and closes the bus if this service opened it."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._save_cursor()
        if self._owns_bus:
            await self._bus.close()

    def status(self) -> ReplayStatus:
        """The replay's position and settings."""
        done = self.plan.done
        return ReplayStatus(
            service=NAME,
            files=self.files,
            symbols=list(self.symbols),
            speed=self.pacer.steps_per_second,
            paused=self.paused,
            done=done,
            message=(
                "data exhausted: nothing more to publish"
                if done
                else "paused"
                if self.paused
                else "replaying"
            ),
            cursor=self.plan.cursor.last_bar_time,
            first_bar=self.plan.first_time,
            steps_done=self.plan.steps_done,
            total_steps=self.plan.total_steps,
            bars_published=self.bars_published,
        )

    def pause(self) -> None:
        """Stops publishing until `resume`."""
        self.paused = True
        self._wake.set()

    def resume(self) -> None:
        """Publishes again, from where the pause left off (no catch-up burst)."""
        self.paused = False
        self.pacer.rebase(now=self._monotonic(), steps_done=self.plan.steps_done)
        self._wake.set()

    def set_speed(self, steps_per_second: float) -> None:
        """Changes the pace from now on."""
        self.pacer.set_speed(
            steps_per_second, now=self._monotonic(), steps_done=self.plan.steps_done
        )
        self._wake.set()

    async def record_control(self, action: str, parameters: dict[str, Any], actor: str) -> None:
        """Publishes the operator's action on `control.actions` for the audit trail."""
        now = self._clock.now()
        control = ControlAction(
            action_id=derive_id("control", NAME, action, now.isoformat()),
            service=NAME,
            action=action,
            parameters=parameters,
            actor=actor,
            occurred_at=now,
        )
        await self._bus.publish(envelope_for(control, source=SOURCE, event_time=now))

    async def _run(self) -> None:
        while not self.plan.done:
            if self.paused:
                await self._nap(MAX_SLEEP_SECONDS)
                continue
            now = self._monotonic()
            due = self.pacer.due(now=now, steps_done=self.plan.steps_done)
            if due == 0:
                await self._nap(
                    self.pacer.seconds_until_next(now=now, steps_done=self.plan.steps_done)
                )
                continue
            for _ in range(min(due, MAX_STEPS_PER_TICK)):
                batch = self.plan.next_batch()
                if batch is None:
                    break
                await self._publish(batch)
            self.lag.set(
                self.pacer.lag_seconds(now=self._monotonic(), steps_done=self.plan.steps_done)
            )
            self.progress.set(self.plan.steps_done / max(1, self.plan.total_steps))
            if self._monotonic() - self._last_save >= SAVE_INTERVAL_SECONDS:
                self._save_cursor()
            await asyncio.sleep(0)
        self._save_cursor()
        self.lag.set(0)
        log.info(
            "replay finished: %d steps, cursor %s; data exhausted, nothing more to publish",
            self.plan.steps_done,
            self.plan.cursor.last_bar_time,
        )
        self.finished.set()

    async def _publish(self, batch: BarBatch) -> None:
        for bar in batch.bars:
            await self._bus.publish(envelope_for(bar, source=SOURCE, event_time=self._clock.now()))
            self.published.labels(bar.symbol).inc()
            self.bars_published += 1

    async def _nap(self, seconds: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=min(seconds, MAX_SLEEP_SECONDS))

    async def _readiness(self) -> dict[str, bool]:
        return {"nats": bool(getattr(self._bus, "is_connected", True)), "data": bool(self._batches)}

    def _save_cursor(self) -> None:
        save_cursor(self._cursor_path, self._fingerprint, self.plan.cursor, self.files)
        self._last_save = self._monotonic()


router = APIRouter(tags=["market-data"])


def _service(request: Request) -> MarketDataService:
    service: MarketDataService = request.app.state.market_data
    return service


@router.get("/status", response_model=ReplayStatus)
async def get_status(request: Request) -> ReplayStatus:
    """Where the replay is: cursor, speed, files, and whether the data is exhausted."""
    return _service(request).status()


@router.post("/control/pause", response_model=ReplayStatus, dependencies=[Depends(require_token)])
async def pause(request: Request) -> ReplayStatus:
    """Stops publishing until resumed."""
    service = _service(request)
    service.pause()
    await service.record_control("pause", {}, actor_of(request))
    return service.status()


@router.post("/control/resume", response_model=ReplayStatus, dependencies=[Depends(require_token)])
async def resume(request: Request) -> ReplayStatus:
    """Publishes again from where it stopped."""
    service = _service(request)
    service.resume()
    await service.record_control("resume", {}, actor_of(request))
    return service.status()


@router.post("/control/speed", response_model=ReplayStatus, dependencies=[Depends(require_token)])
async def speed(request: Request, change: SpeedChange) -> ReplayStatus:
    """Changes the replay speed (bar steps per second)."""
    service = _service(request)
    service.set_speed(change.speed)
    await service.record_control("speed", {"speed": change.speed}, actor_of(request))
    return service.status()


async def bootstrap(
    settings: AtpSettings,
    *,
    bus: Any = None,
    clock: Clock | None = None,
    config: MarketDataSettings | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> MarketDataService:
    """Builds the service; by default on the NATS at `settings.effective_nats_url`.

    Args:
        bus: a `Bus`; a NatsBus is connected here if None (and closed on stop).
        config: what to replay; read from `ATP_MARKET_DATA_*` if None.
        monotonic: the pacing time source (seconds), for tests.
    """
    config = config or MarketDataSettings()
    clock = clock or SystemClock()
    registry = new_registry()
    owns_bus = bus is None
    if bus is None:
        from atp.bus.nats import NatsBus

        bus = await NatsBus.connect(
            settings.effective_nats_url, client_name=NAME, metrics=BusMetrics(registry)
        )
    return MarketDataService(
        settings=settings,
        config=config,
        bus=bus,
        owns_bus=owns_bus,
        clock=clock,
        monotonic=monotonic,
        registry=registry,
    )


def _session_start(day: date | None, zone_name: str) -> datetime | None:
    if day is None:
        return None
    return datetime.combine(day, clock_time(0), tzinfo=exchange_zone(zone_name))


def _session_end(day: date | None, zone_name: str) -> datetime | None:
    if day is None:
        return None
    return datetime.combine(day, clock_time(23, 59, 59, 999999), tzinfo=exchange_zone(zone_name))


def _fingerprint(files: list[str], config: MarketDataSettings) -> str:
    # The end date is left out on purpose: extending it continues the same replay.
    key = json.dumps(
        [files, str(config.start), config.warmup_bars, config.price_basis, config.timezone]
    )
    return hashlib.sha256(key.encode()).hexdigest()[:16]
