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

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from atp.api.app import create_app
from atp.api.routers.orders import router as orders_router
from atp.brokers.base import AdapterState, BrokerAdapter
from atp.brokers.dry_run import DryRunAdapter
from atp.brokers.execution import ExecutionEngine
from atp.brokers.memory_store import InMemoryIdempotencyStore, InMemoryOrderStore
from atp.brokers.paper.adapter import PaperAdapter
from atp.brokers.paper.config import PaperVenueConfig
from atp.brokers.paper.venue import PaperVenue
from atp.brokers.ports import IdempotencyStore, OrderStore
from atp.brokers.replay import replay_order_updates
from atp.bus.codec import to_wire
from atp.bus.history import latest_signals
from atp.bus.subjects import DECISIONS_META, SIGNALS_NORMALIZED
from atp.core.clock import Clock, SystemClock
from atp.core.events import MarketSignal, OrderUpdate
from atp.core.ids import Symbol
from atp.services.settings import AtpSettings
from atp.telemetry.metrics import BusMetrics, new_registry

log = logging.getLogger(__name__)

NAME = "broker-adapters"
MARKS_DURABLE = "broker-marks"
DECISIONS_DURABLE = "broker-decisions"

History = Callable[[], Awaitable[list[OrderUpdate]]]
LatestSignals = Callable[[], Awaitable[dict[Symbol, MarketSignal]]]


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
        latest_signals: LatestSignals,
    ) -> None:
        self.app = app
        self.port = port
        self.engine = engine
        self.paper = paper
        self._bus = bus
        self._owns_bus = owns_bus
        self._history = history
        self._latest_signals = latest_signals

    async def start(self) -> None:
        """Rebuilds the paper venue from history, then consumes prices and decisions."""
        updates = await self._history()
        if updates:
            self.paper.paper.restore(updates)
            for update in updates:
                await self.engine.store.save_update(update)
                if update.fill is not None:
                    self.engine.last_prices[update.symbol] = update.fill.price
        for signal in (await self._latest_signals()).values():
            # The marks consumer resumes after its last ack: the bars before the restart are
            # not delivered again, but their last prices are today's market.
            self.paper.paper.remember(signal)
            self.engine.last_prices[signal.symbol] = signal.close
            log.info(
                "restored %d orders from %d updates",
                len(self.paper.paper.tracker.orders()),
                len(updates),
            )
        for adapter in self.engine.adapters.values():
            await adapter.connect()
        await self.paper.resume()
        await self._bus.subscribe(
            SIGNALS_NORMALIZED, durable=MARKS_DURABLE, handler=self.engine.on_signal
        )
        await self._bus.subscribe(
            DECISIONS_META, durable=DECISIONS_DURABLE, handler=self.engine.on_decision
        )

    async def stop(self) -> None:
        """Closes the adapters and, if this service opened it, the bus."""
        for adapter in self.engine.adapters.values():
            await adapter.close()
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
        history: where the order updates of earlier runs come from; JetStream by default when
            this function connects the bus, nothing otherwise.
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
            url = settings.effective_nats_url

            async def from_jetstream() -> list[OrderUpdate]:
                return await replay_order_updates(url)

            history = from_jetstream

        async def latest_from_jetstream() -> dict[Symbol, MarketSignal]:
            return await latest_signals(settings.effective_nats_url)

        marks: LatestSignals = latest_from_jetstream
    else:

        async def no_marks() -> dict[Symbol, MarketSignal]:
            return {}

        marks = no_marks
    if history is None:

        async def nothing() -> list[OrderUpdate]:
            return []

        history = nothing
    paper = PaperAdapter(PaperVenue(config.paper, clock=clock))
    adapters: dict[str, BrokerAdapter] = {
        "paper": DryRunAdapter(paper, to_wire, clock=clock) if config.dry_run else paper
    }
    adapters.update(extra_adapters or {})
    engine = ExecutionEngine(
        adapters,
        default_adapter="paper",
        bus=bus,
        rpc=bus,
        store=store or InMemoryOrderStore(),
        clock=clock,
        risk_timeout_seconds=config.risk_timeout_seconds,
    )

    async def readiness() -> dict[str, bool]:
        checks = {"nats": bool(getattr(bus, "is_connected", True))}
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
        latest_signals=marks,
    )
