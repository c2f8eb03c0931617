"""The `backtester` service (port 8005): runs backtests on request and publishes their results.

Runs go to a worker thread (the engine is CPU-bound), so the HTTP API answers while they run.
Each ended run is published as a `BacktestResult` on `backtest.results` and its files are kept
under `<var_dir>/backtests/`, which one backtester at a time holds from its start to its stop (a
second one on the same `var/` is refused at start, see `atp.backtest.store_lock`). Its `/metrics`
count runs started and ended, their duration and bars, and the runs in progress
(`atp.services.backtester_metrics`).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI

from atp.api.app import create_app
from atp.api.routers.backtest import router as backtest_router
from atp.backtest.manager import RunManager
from atp.core.clock import Clock, SystemClock
from atp.core.events import BacktestResult, envelope_for
from atp.core.ports import Bus
from atp.services.backtester_metrics import BacktestMetrics
from atp.services.settings import AtpSettings
from atp.telemetry.metrics import BusMetrics, new_registry

log = logging.getLogger(__name__)


class BacktesterService:
    """The backtester deployable: its run manager, its bus connection and its HTTP app."""

    name = "backtester"

    def __init__(
        self,
        *,
        settings: AtpSettings,
        bus: Bus | None,
        clock: Clock,
        metrics: BusMetrics,
        manager: RunManager,
        app: FastAPI,
    ) -> None:
        self.settings = settings
        self.app = app
        self.port = settings.backtester_port
        self.manager = manager
        self._bus = bus
        self._owns_bus = bus is None
        self._clock = clock
        self._metrics = metrics

    async def start(self) -> None:
        """Takes the run store, connects to NATS when no bus was given, resumes interrupted runs.

        Raises:
            ConfigurationError: another backtester holds the run store (the same `var/`); this
                one then touches no run.
        """
        self.manager.open()  # first: refused before it connects or reads anything
        if self._bus is None:
            from atp.bus.nats import NatsBus

            self._bus = await NatsBus.connect(
                self.settings.effective_nats_url, client_name="backtester", metrics=self._metrics
            )
        self.manager.resume()

    async def stop(self) -> None:
        """Stops running backtests and lets the run store go; closes the bus if it opened it.

        A stopped run is resumed by the next start of a backtester on this store.
        """
        await self.manager.close()
        if self._owns_bus and self._bus is not None:
            await self._bus.close()

    async def publish(self, result: BacktestResult) -> None:
        """Publishes one run's result on `backtest.results`."""
        if self._bus is None:
            log.warning("no bus: result of run %s not published", result.run_id)
            return
        await self._bus.publish(
            envelope_for(result, source="backtester", event_time=self._clock.now())
        )

    async def readiness(self) -> dict[str, bool]:
        """Ready when the bus is connected and the data folder exists."""
        bus_ok = self._bus is not None and bool(getattr(self._bus, "is_connected", True))
        return {"bus": bus_ok, "data": self.settings.data_dir.is_dir()}


async def bootstrap(
    settings: AtpSettings, *, bus: Bus | None = None, clock: Clock | None = None
) -> BacktesterService:
    """Builds the backtester on the configured NATS (or the bus given)."""
    registry = new_registry()
    metrics = BusMetrics(registry)
    clock = clock or SystemClock()
    holder: dict[str, BacktesterService] = {}

    async def publish(result: BacktestResult) -> None:
        await holder["service"].publish(result)

    async def readiness() -> dict[str, bool]:
        return await holder["service"].readiness()

    runs = BacktestMetrics(registry)
    manager = RunManager(
        data_dir=settings.data_dir,
        store_dir=settings.var_dir / "backtests",
        clock=clock,
        publish=publish,
        observer=runs,
    )
    runs.watch(manager)
    app = create_app(
        service="backtester",
        registry=registry,
        readiness=readiness,
        routers=[backtest_router],
        state={"backtests": manager},
        api_token=settings.api_token_value,
        description="Backtests on the live chain: start, watch, compare, download.",
    )
    service = BacktesterService(
        settings=settings, bus=bus, clock=clock, metrics=metrics, manager=manager, app=app
    )
    holder["service"] = service
    return service
