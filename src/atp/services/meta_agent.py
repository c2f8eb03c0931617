"""The meta-agent service (port 8003): combines agents' intents by vote, behind the risk engine.

Flow: `signals.normalized` (durable "meta-agent-signals") opens windows, marks prices and feeds
scoring; `decisions.order_intent` (durable "meta-agent-intents") fills the windows; a tick loop
closes windows that timed out. Every closed window is published on `decisions.meta`, holds
included (they explain why nothing happened), with the last intent as cause; the risk
violations of a denied decision go to `risk.violations`. The risk engine (`RiskComponent`) runs
in this process: it answers `rpc.risk.check` for manual orders and serves `/risk`.

Decisions are put in an outbox before they are published, so a failed publish is retried (by
the next delivery or tick) and never lost, while the window it came from stays decided once.
Consecutive events in the outbox go out pipelined (`publish_many`) when the bus offers it.

On start, before any intent is consumed, the operator's changes (strategy, parameters,
weights, enabled flags) are rebuilt by replaying the `control.actions` this service published
(`Bus.history`, a one-shot read that leaves no consumer behind); the settings only give the state
before the first change. Then the agents' scores and standings, the newest decisions (kept in
memory for `GET /decisions`), the newest risk violations and the windows already decided are
restored from the streams (`meta_restore.py`). `/readyz` says ready once all of it, the risk
engine's restore included, is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from fastapi import FastAPI
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from atp.api.app import create_app
from atp.api.routers.meta import meta_router
from atp.bus.subjects import CONTROL_ACTIONS, DECISIONS_ORDER_INTENT, SIGNALS_NORMALIZED
from atp.core.clock import Clock, SystemClock
from atp.core.errors import AtpError
from atp.core.events import ControlAction, Envelope, MetaDecision, envelope_for
from atp.core.ids import AgentId
from atp.core.proposals import RiskGate
from atp.meta.commands import MetaCommand
from atp.meta.config import (
    AgentConfig,
    MetaAgentConfig,
    ScoringConfig,
    VotingConfig,
    VotingStrategyName,
    WindowConfig,
)
from atp.meta.coordinator import AgentReport, DecisionResult, MetaCoordinator
from atp.meta.restore import restore
from atp.meta.window import Admission
from atp.risk.config import RiskEngineConfig
from atp.services.meta_metrics import MetaMetrics
from atp.services.meta_outbox import DecisionOutbox
from atp.services.meta_restore import PastRun, read_past_run, restore_past_run
from atp.services.risk_wiring import RiskComponent
from atp.services.settings import AtpSettings
from atp.telemetry.metrics import BusMetrics, new_registry

log = logging.getLogger(__name__)

NAME = "meta-agent"
SIGNALS_DURABLE = "meta-agent-signals"
INTENTS_DURABLE = "meta-agent-intents"

ControlHistory = Callable[[], Awaitable[list[ControlAction]]]
"""Returns the meta-agent's recorded control actions, oldest first."""


class MetaAgentSettings(BaseSettings):
    """How `atp serve meta-agent` votes, from `ATP_META_*` (read once, at bootstrap).

    Example: `ATP_META_STRATEGY=weighted ATP_META_THRESHOLD=0.55
    ATP_META_WEIGHTS='{"momentum": 2, "sma_crossover": 1}'`. Changes made later through the
    control plane win over these after a restart (they are replayed from `control.actions`).
    """

    model_config = SettingsConfigDict(env_prefix="ATP_META_", frozen=True, extra="forbid")

    strategy: VotingStrategyName = Field(
        default="majority",
        description="Voting strategy: majority, weighted, unanimous or confidence_weighted.",
    )
    threshold: float = Field(
        default=0.6, ge=0.0, le=1.0, description="Share a side must reach (weighted kinds)."
    )
    quorum: int = Field(default=1, ge=1, le=1000, description="Counted voters a decision needs.")
    adaptive_weights: bool = Field(
        default=False, description="Scale weights by each agent's decayed hit rate."
    )
    window_timeout_seconds: float = Field(
        default=2.0, gt=0.0, le=3600.0, description="A window closes this long after opening."
    )
    max_missed_windows: int = Field(
        default=3, ge=1, description="Missed windows in a row before an agent is not waited for."
    )
    agents: list[str] = Field(
        default_factory=list,
        description="Agents known (and waited for) from the first window, as a JSON list. "
        "Others join with `default_weight` on their first intent.",
    )
    weights: dict[str, float] = Field(
        default_factory=dict,
        description='Weights by agent, as JSON ({"momentum": 2.0}); these agents are known too.',
    )
    disabled: list[str] = Field(
        default_factory=list, description="Agents whose intents are ignored, as a JSON list."
    )
    default_weight: float = Field(
        default=1.0, ge=0.0, le=1e6, description="Weight of an agent not in `weights`."
    )
    lot_size: Decimal = Field(
        default=Decimal(1), gt=0, description="Combined quantities are rounded down to lots."
    )
    horizon_bars: int = Field(
        default=5, ge=1, le=10_000, description="Bars after which an intent is scored."
    )
    restore: bool = Field(
        default=True,
        description="Restore earlier runs on start: control.actions, then scores, decisions "
        "and violations from the streams.",
    )
    recent_decisions: int = Field(
        default=1000, ge=1, le=100_000, description="Decisions kept for GET /decisions."
    )

    def to_config(self) -> MetaAgentConfig:
        """The core's configuration these settings describe."""
        names = sorted({*self.agents, *self.weights, *self.disabled})
        return MetaAgentConfig(
            voting=VotingConfig(
                strategy=self.strategy,
                threshold=self.threshold,
                quorum=self.quorum,
                adaptive_weights=self.adaptive_weights,
            ),
            window=WindowConfig(
                timeout_seconds=self.window_timeout_seconds,
                max_missed_windows=self.max_missed_windows,
            ),
            scoring=ScoringConfig(horizon_bars=self.horizon_bars),
            agents={
                name: AgentConfig(
                    weight=self.weights.get(name, self.default_weight),
                    enabled=name not in self.disabled,
                )
                for name in names
            },
            default_weight=self.default_weight,
            lot_size=self.lot_size,
        )


class MetaAgentService:
    """The running meta-agent: coordinator, risk component, consumers, tick loop and app."""

    name = NAME
    app: FastAPI

    def __init__(
        self,
        *,
        coordinator: MetaCoordinator,
        risk: RiskComponent | None,
        bus: Any,
        owns_bus: bool,
        clock: Clock,
        metrics: MetaMetrics,
        port: int,
        tick_seconds: float,
        history: ControlHistory | None = None,
        recent_decisions: int = 1000,
        restore_past: bool = False,
        remember_decided: int = 200_000,
    ) -> None:
        self.coordinator = coordinator
        self.risk = risk
        self.port = port
        self._bus = bus
        self._owns_bus = owns_bus
        self._clock = clock
        self._metrics = metrics
        self._tick_seconds = tick_seconds
        self._outbox = DecisionOutbox(bus, risk, source=NAME)
        self._ticker: asyncio.Task[None] | None = None
        self._history = history
        self._recent: deque[MetaDecision] = deque(maxlen=recent_decisions)
        self.restored = 0
        self._restore_past = restore_past
        self._remember_decided = remember_decided
        self._past = PastRun()
        self._ready = False

    async def start(self) -> None:
        """Restores risk state, operator changes and scores, then starts consumers and ticks."""
        if self.risk is not None:
            await self.risk.start(self._bus)
        if self._history is not None:
            # Before the first intent: the first window must already use the restored state.
            self.restored = restore(self.coordinator, await self._history())
            log.info("restored %d control actions: strategy %s", self.restored, self.strategy())
        if self._restore_past:
            self._past = await read_past_run(self._bus, violations=self.risk is not None)
            restore_past_run(
                self._past,
                self.coordinator,
                recent=self._recent,
                violations=self.risk.engine.violations if self.risk is not None else None,
                remember_decided=self._remember_decided,
            )
        await self._bus.subscribe(
            SIGNALS_NORMALIZED, durable=SIGNALS_DURABLE, handler=self.on_signal
        )
        await self._bus.subscribe(
            DECISIONS_ORDER_INTENT, durable=INTENTS_DURABLE, handler=self.on_intent
        )
        self._ticker = asyncio.create_task(self._tick_loop(), name="meta-agent:tick")
        self._ready = True

    async def readiness(self) -> dict[str, bool]:
        """NATS connected, earlier runs restored, and the risk engine's restore done."""
        risk_ready = self.risk is None or (self._ready and not self.risk.engine.restoring)
        return {
            "nats": bool(getattr(self._bus, "is_connected", True)),
            "restored": self._ready,
            "risk": risk_ready,
        }

    async def stop(self) -> None:
        """Stops the tick loop, publishes what is left, stops the risk engine and the bus."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        with contextlib.suppress(AtpError):
            await self.flush()
        if self.risk is not None:
            await self.risk.stop()
        if self._owns_bus:
            await self._bus.close()

    # Consumers -------------------------------------------------------------------------------

    async def on_signal(self, envelope: Envelope[Any]) -> None:
        """A bar: marks prices, feeds scoring, opens its window."""
        signal = envelope.payload
        if self._past.decided(signal.symbol, signal.signal_id):
            # Decided before the restart: the bar still counts for scoring (once), no window.
            self.coordinator.scorer.on_bar(signal.symbol, signal.signal_id, signal.close)
            return
        self._accept(self.coordinator.on_signal(signal, cause=envelope))
        await self.flush()

    async def on_intent(self, envelope: Envelope[Any]) -> None:
        """An agent's intent: into its window; publishes the decision if the window closed."""
        intent = envelope.payload
        if self._past.decided(intent.symbol, intent.signal_id):
            # Redelivered after a restart: its window was decided (and its decision stored).
            self._metrics.intents.labels(Admission.LATE.value).inc()
            return
        admission, results = self.coordinator.on_intent(intent, cause=envelope)
        self._metrics.intents.labels(admission.value).inc()
        if admission is Admission.INVALID:
            log.warning(
                "intent %s breaks the contract; counted as abstention", envelope.payload.intent_id
            )
        self._accept(results)
        await self.flush()

    async def tick(self) -> None:
        """Closes the windows that timed out and publishes their decisions."""
        self._accept(self.coordinator.tick())
        await self.flush()

    # Control plane ---------------------------------------------------------------------------

    def agents(self) -> list[AgentReport]:
        """Every known agent with standing and score."""
        return self.coordinator.agents()

    def agent(self, agent_id: AgentId) -> AgentReport:
        """One agent; NotFound if unknown."""
        return self.coordinator.agent(agent_id)

    def strategy(self) -> VotingConfig:
        """The strategy the next window will use."""
        return self.coordinator.voting

    def recent_decisions(self, limit: int, strategy: str | None = None) -> list[MetaDecision]:
        """The newest `limit` decisions (of `strategy` if given), newest first."""
        found: list[MetaDecision] = []
        for decision in reversed(self._recent):
            if strategy is None or decision.voting_strategy == strategy:
                found.append(decision)
                if len(found) == limit:
                    break
        return found

    async def execute(self, command: MetaCommand, *, actor: str) -> ControlAction:
        """Applies a control command from the next window on and publishes it."""
        action = self.coordinator.execute(command, actor=actor)
        log.info("control %s by %s: %s", action.action, actor, dict(action.parameters))
        self._outbox.add(envelope_for(action, source=NAME, event_time=action.occurred_at))
        await self.flush()
        return action

    # Publishing ------------------------------------------------------------------------------

    def _accept(self, results: list[DecisionResult]) -> None:
        for result in results:
            self._metrics.observe(result)
            self._recent.append(result.decision)
            self._outbox.add_result(result)

    async def flush(self) -> None:
        """Publishes the outbox in order; on failure keeps the rest and raises (redelivery)."""
        await self._outbox.flush()

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self._tick_seconds)
            try:
                await self.tick()
            except AtpError as exc:
                log.warning("meta-agent tick could not publish, will retry: %s", exc)
            except Exception:
                log.exception("meta-agent tick failed")


async def bootstrap(
    settings: AtpSettings,
    *,
    bus: Any = None,
    clock: Clock | None = None,
    config: MetaAgentConfig | None = None,
    gate: RiskGate | None = None,
    risk_config: RiskEngineConfig | None = None,
    tick_seconds: float = 0.05,
    meta_settings: MetaAgentSettings | None = None,
    history: ControlHistory | None = None,
) -> MetaAgentService:
    """Builds the meta-agent; by default on the NATS at `settings.effective_nats_url`.

    Args:
        bus: a `Bus` that is also an `Rpc` (InMemoryBus or NatsBus); connected here if None.
        clock: the wall clock by default.
        config: voting, windows, scoring and known agents; by default from `meta_settings`.
        gate: a risk gate to use instead of the in-process risk engine (tests, backtests);
            with one, no risk component runs (no `/risk`, no `rpc.risk.check`).
        risk_config: the risk engine's limits (its defaults otherwise).
        tick_seconds: how often timed-out windows are looked for.
        meta_settings: the `ATP_META_*` settings; read from the environment if None.
        history: where the control actions of earlier runs come from; by default the bus's
            one-shot `history` read of `control.actions` (unless `meta_settings.restore` is off).
    """
    meta_settings = meta_settings or MetaAgentSettings()
    config = config or meta_settings.to_config()
    clock = clock or SystemClock()
    registry = new_registry()
    owns_bus = bus is None
    if bus is None:
        from atp.bus.nats import NatsBus

        bus = await NatsBus.connect(
            settings.effective_nats_url, client_name=NAME, metrics=BusMetrics(registry)
        )
    if history is None and meta_settings.restore:
        history = _history_of(bus)
    risk: RiskComponent | None = None
    if gate is None:
        risk = RiskComponent(
            settings,
            clock=clock,
            registry=registry,
            config=risk_config,
        )
        gate = risk.gate
    coordinator = MetaCoordinator(config, clock=clock, gate=gate)
    metrics = MetaMetrics(registry, coordinator)
    service = MetaAgentService(
        coordinator=coordinator,
        risk=risk,
        bus=bus,
        owns_bus=owns_bus,
        clock=clock,
        metrics=metrics,
        port=settings.meta_agent_port,
        tick_seconds=tick_seconds,
        history=history,
        recent_decisions=meta_settings.recent_decisions,
        restore_past=meta_settings.restore,
        remember_decided=config.window.remember_closed,
    )
    routers = [meta_router] if risk is None else [meta_router, risk.router]
    service.app = create_app(
        service=NAME,
        registry=registry,
        readiness=service.readiness,
        routers=routers,
        state={"meta_controls": service},
        api_token=settings.api_token_value,
        description="Combines the agents' intents by vote, explains every decision, and puts "
        "each trade to the risk engine.",
    )
    return service


def _history_of(bus: Any) -> ControlHistory:
    """Reads this service's control actions back through the bus (`Bus.history`)."""

    async def from_bus() -> list[ControlAction]:
        envelopes = await bus.history(CONTROL_ACTIONS)
        return [e.payload for e in envelopes if e.payload.service == NAME]

    return from_bus
