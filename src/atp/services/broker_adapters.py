"""The broker-adapters service (port 8006): paper trading, manual orders, order updates.

Composition root: it builds the paper venue and adapter, the execution engine, the stores and
the HTTP app, and wires them to the bus:

    signals.normalized (durable "broker-marks")     -> marks and fills working paper orders
    decisions.meta     (durable "broker-decisions") -> one order per approved decision
    every order change                              -> executions.order_update
    POST /orders                                    -> rpc.risk.check, then the venue

On start, before consuming anything, the paper venue is rebuilt from every order update stored
on JetStream, so a restart neither loses nor repeats an order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from atp.api.app import create_app
from atp.api.routers.orders import router as orders_router
from atp.brokers.alpaca.adapter import AlpacaAdapter
from atp.brokers.alpaca.config import AlpacaConfig
from atp.brokers.alpaca.mapping import request_body as alpaca_request_body
from atp.brokers.base import AdapterState, BrokerAdapter
from atp.brokers.dry_run import DryRunAdapter
from atp.brokers.execution import ExecutionEngine
from atp.brokers.ib.adapter import IbAdapter
from atp.brokers.ib.config import IbConfig
from atp.brokers.ib.mapping import body_serializer as ib_body_serializer
from atp.brokers.memory_store import InMemoryIdempotencyStore, InMemoryOrderStore
from atp.brokers.paper.adapter import PaperAdapter
from atp.brokers.paper.config import PaperVenueConfig
from atp.brokers.paper.venue import PaperVenue
from atp.brokers.ports import IdempotencyStore, OrderStore
from atp.brokers.reconcile import Reconcilable, Reconciler
from atp.bus.codec import to_wire
from atp.bus.subjects import (
    CONTROL_ACTIONS,
    DECISIONS_META,
    EXECUTIONS_ORDER_UPDATE,
    SIGNALS_NORMALIZED,
)
from atp.core.clock import Clock, SystemClock
from atp.core.errors import ConfigurationError
from atp.core.events import MarketSignal, OrderUpdate
from atp.core.ids import Symbol
from atp.services.settings import AtpSettings
from atp.storage.database import migrate
from atp.storage.health import database_answers
from atp.telemetry.metrics import BusMetrics, new_registry

log = logging.getLogger(__name__)

NAME = "broker-adapters"
MARKS_DURABLE = "broker-marks"
DECISIONS_DURABLE = "broker-decisions"
CONTROL_DURABLE = "broker-control"

History = Callable[[], Awaitable[list[OrderUpdate]]]
MARK_TAIL = 10_000  # newest signals read on start for the last price of each symbol


class AlpacaOptions(BaseModel):
    """The Alpaca adapter's non-secret options (keys come from the environment)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    paper: bool = Field(default=True, description="Paper endpoints (True) or live (False).")
    url_override: str | None = Field(default=None, description="REST base URL override.")
    stream_url_override: str | None = Field(default=None, description="Stream URL override.")
    request_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="Deadline of one REST call."
    )


class BrokerServiceConfig(BaseModel):
    """What the broker-adapters service runs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    paper: PaperVenueConfig = Field(
        default_factory=PaperVenueConfig, description="The paper venue's rules."
    )
    dry_run: bool = Field(
        default=False, description="Validate, serialise, log and publish orders; send none."
    )
    risk_timeout_seconds: float = Field(
        default=2.0, gt=0, le=30, description="How long a manual order waits for the risk check."
    )
    adapters: tuple[Literal["paper", "alpaca", "ib"], ...] = Field(
        default=("paper",), min_length=1, description="Which adapters run."
    )
    default_adapter: Literal["paper", "alpaca", "ib"] = Field(
        default="paper", description="Where decisions and unnamed manual orders go."
    )
    alpaca: AlpacaOptions = Field(
        default_factory=AlpacaOptions, description="The Alpaca adapter's options."
    )
    ib: IbConfig = Field(
        default_factory=IbConfig,
        description="The Interactive Brokers adapter's TWS / IB Gateway connection.",
    )
    reconcile_interval_seconds: float = Field(
        default=60.0, gt=0, le=86_400, description="Seconds between periodic reconciliations."
    )
    unknown_grace_seconds: float = Field(
        default=60.0,
        ge=0,
        le=3_600,
        description="How long an UNKNOWN order the venue does not know waits before it is "
        "rejected as never received.",
    )


class BrokerAdaptersService:
    """The running service: its app, its engine, and the lifecycle of its consumers."""

    name = NAME

    def __init__(
        self,
        *,
        app: FastAPI,
        port: int,
        engine: ExecutionEngine,
        paper: PaperAdapter,
        bus: Any,
        owns_bus: bool,
        history: History,
        reconcilers: dict[str, Reconciler] | None = None,
        interval_seconds: float = 60.0,
        database: Any = None,
    ) -> None:
        self.reconcilers = reconcilers or {}
        self._interval = interval_seconds
        self._database = database
        self._periodic: asyncio.Task[None] | None = None
        self.app = app
        self.port = port
        self.engine = engine
        self.paper = paper
        self._bus = bus
        self._owns_bus = owns_bus
        self._history = history

    async def start(self) -> None:
        """Rebuilds the paper venue from history, then consumes prices and decisions."""
        updates = await self._history()
        if updates:
            self.paper.paper.restore(updates)
            for update in updates:
                await self.engine.store.save_update(update)
                if update.fill is not None:
                    self.engine.last_prices[update.symbol] = update.fill.price
        for signal in await self._last_signals():
            # The marks consumer resumes after its last ack: the bars before the restart are
            # not delivered again, but their last prices are today's market.
            self.paper.paper.remember(signal)
            self.engine.last_prices[signal.symbol] = signal.close
        log.info(
            "restored %d orders from %d updates",
            len(self.paper.paper.tracker.orders()),
            len(updates),
        )
        if self._database is not None:
            await migrate(self._database.url)
        for adapter in self.engine.adapters.values():
            await adapter.connect()
        for reconciler in self.reconcilers.values():
            await reconciler.reconcile("start")
        if self.reconcilers:
            self._periodic = asyncio.create_task(self._reconcile_periodically())
        await self.paper.resume()
        await self._bus.subscribe(
            SIGNALS_NORMALIZED, durable=MARKS_DURABLE, handler=self.engine.on_signal
        )
        await self._bus.subscribe(
            DECISIONS_META, durable=DECISIONS_DURABLE, handler=self.engine.on_decision
        )
        await self._bus.subscribe(
            CONTROL_ACTIONS, durable=CONTROL_DURABLE, handler=self.engine.on_control
        )

    async def _reconcile_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            for reconciler in self.reconcilers.values():
                await reconciler.reconcile("periodic")

    async def _last_signals(self) -> list[MarketSignal]:
        latest: dict[Symbol, MarketSignal] = {}
        for envelope in await self._bus.history(SIGNALS_NORMALIZED, tail=MARK_TAIL):
            signal: MarketSignal = envelope.payload
            known = latest.get(signal.symbol)
            if known is None or signal.timestamp >= known.timestamp:
                latest[signal.symbol] = signal
        return list(latest.values())

    async def stop(self) -> None:
        """Stops reconciling, closes the adapters and, if this service opened it, the bus."""
        if self._periodic is not None:
            self._periodic.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._periodic
        for adapter in self.engine.adapters.values():
            await adapter.close()
        if self._database is not None:
            await self._database.close()
        if self._owns_bus:
            await self._bus.close()


async def bootstrap(
    settings: AtpSettings,
    *,
    bus: Any = None,
    clock: Clock | None = None,
    config: BrokerServiceConfig | None = None,
    store: OrderStore | None = None,
    idempotency: IdempotencyStore | None = None,
    history: History | None = None,
    extra_adapters: dict[str, BrokerAdapter] | None = None,
) -> BrokerAdaptersService:
    """Builds the service; by default on the NATS at `settings.effective_nats_url`.

    Args:
        bus: a `Bus` that is also an `Rpc` (InMemoryBus or NatsBus); connected here if None.
        config: the service's configuration; defaults to a 100k paper account.
        store, idempotency: persistence; in memory by default (the venue is rebuilt from
            JetStream on start either way).
        history: where the order updates of earlier runs come from; by default everything
            the bus stores on executions.order_update (JetStream, or the in-memory log).
        extra_adapters: more adapters by name (Alpaca, IB), next to "paper".
    """
    config = config or BrokerServiceConfig()
    clock = clock or SystemClock()
    registry = new_registry()
    owns_bus = bus is None
    if bus is None:
        from atp.bus.nats import NatsBus

        bus = await NatsBus.connect(
            settings.effective_nats_url, client_name=NAME, metrics=BusMetrics(registry)
        )
    if history is None:
        history_bus = bus

        async def from_bus() -> list[OrderUpdate]:
            stored = await history_bus.history(EXECUTIONS_ORDER_UPDATE)
            return [envelope.payload for envelope in stored]

        history = from_bus
    database = None
    if settings.database_url and (store is None or idempotency is None):
        from atp.storage.database import Database
        from atp.storage.idempotency import SqlIdempotencyStore
        from atp.storage.orders import SqlOrderStore

        database = Database(settings.database_url)
        store = store or SqlOrderStore(database)
        idempotency = idempotency or SqlIdempotencyStore(database)
    paper = PaperAdapter(PaperVenue(config.paper, clock=clock))
    adapters: dict[str, BrokerAdapter] = {}
    if "paper" in config.adapters or config.default_adapter == "paper":
        adapters["paper"] = DryRunAdapter(paper, to_wire, clock=clock) if config.dry_run else paper
    if "alpaca" in config.adapters:
        alpaca = AlpacaAdapter(_alpaca_config(settings, config.alpaca), clock=clock)
        adapters["alpaca"] = (
            DryRunAdapter(alpaca, alpaca_request_body, clock=clock) if config.dry_run else alpaca
        )
    if "ib" in config.adapters:
        ib = IbAdapter(config.ib, clock=clock)
        adapters["ib"] = (
            DryRunAdapter(ib, ib_body_serializer(config.ib), clock=clock) if config.dry_run else ib
        )
    adapters.update(extra_adapters or {})
    engine = ExecutionEngine(
        adapters,
        default_adapter=config.default_adapter,
        bus=bus,
        rpc=bus,
        store=store or InMemoryOrderStore(),
        clock=clock,
        risk_timeout_seconds=config.risk_timeout_seconds,
    )
    reconcilers: dict[str, Reconciler] = {}
    for name, adapter in adapters.items():
        inner = adapter._inner if isinstance(adapter, DryRunAdapter) else adapter
        if isinstance(inner, Reconcilable):
            reconciler = Reconciler(
                inner,
                store=engine.store,
                publish=engine.publish_difference,
                clock=clock,
                unknown_grace_seconds=config.unknown_grace_seconds,
            )
            reconcilers[name] = reconciler
            hook = getattr(inner, "set_reconnect_listener", None)
            if hook is not None:
                hook(_reconcile_on(reconciler))

    async def readiness() -> dict[str, bool]:
        checks = {"nats": bool(getattr(bus, "is_connected", True))}
        if database is not None:
            checks["database"] = await database_answers(database)
        for name, adapter in adapters.items():
            checks[f"adapter:{name}"] = adapter.status().state is AdapterState.READY
        return checks

    app = create_app(
        service=NAME,
        registry=registry,
        readiness=readiness,
        routers=[orders_router],
        state={"execution": engine, "idempotency": idempotency or InMemoryIdempotencyStore()},
        api_token=settings.api_token_value,
        description="Paper, Alpaca and Interactive Brokers adapters: orders, positions, account.",
    )
    return BrokerAdaptersService(
        app=app,
        port=settings.broker_port,
        engine=engine,
        paper=paper,
        bus=bus,
        owns_bus=owns_bus,
        history=history,
        reconcilers=reconcilers,
        interval_seconds=config.reconcile_interval_seconds,
        database=database,
    )


def _reconcile_on(reconciler: Reconciler) -> Callable[[str], Awaitable[None]]:
    async def run(trigger: str) -> None:
        await reconciler.reconcile(trigger)

    return run


def _alpaca_config(settings: AtpSettings, options: AlpacaOptions) -> AlpacaConfig:
    if settings.alpaca_api_key is None or settings.alpaca_secret_key is None:
        raise ConfigurationError("alpaca adapter: set ATP_ALPACA_API_KEY and ATP_ALPACA_SECRET_KEY")
    return AlpacaConfig(
        api_key=settings.alpaca_api_key,
        secret_key=settings.alpaca_secret_key,
        paper=options.paper,
        url_override=options.url_override,
        stream_url_override=options.stream_url_override,
        request_timeout_seconds=options.request_timeout_seconds,
    )
