"""The meta-agent service (port 8003): combines agents' intents by vote, behind the risk engine.

Flow: `signals.normalized` (durable "meta-agent-signals") opens windows, marks prices and feeds
scoring; `decisions.order_intent` (durable "meta-agent-intents") fills the windows; a tick loop
closes windows that timed out. Every closed window is published on `decisions.meta`, holds
included (they explain why nothing happened), with the last intent as cause; the risk
violations of a denied decision go to `risk.violations`. The risk engine (`RiskComponent`) runs
in this process: it answers `rpc.risk.check` for manual orders and serves `/risk`.

Decisions are put in an outbox before they are published, so a failed publish is retried (by
the next delivery or tick) and never lost, while the window it came from stays decided once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from atp.api.app import create_app
from atp.api.routers.meta import meta_router
from atp.bus.subjects import DECISIONS_ORDER_INTENT, SIGNALS_NORMALIZED
from atp.core.clock import Clock, SystemClock
from atp.core.errors import AtpError
from atp.core.events import ControlAction, Envelope, envelope_for
from atp.core.ids import AgentId
from atp.core.proposals import RiskGate, RiskVerdict
from atp.meta.commands import MetaCommand
from atp.meta.config import MetaAgentConfig, VotingConfig
from atp.meta.coordinator import AgentReport, DecisionResult, MetaCoordinator
from atp.meta.window import Admission
from atp.risk.config import RiskEngineConfig
from atp.services.risk_wiring import RiskComponent
from atp.services.settings import AtpSettings
from atp.telemetry.metrics import LATENCY_BUCKETS, BusMetrics, new_registry

log = logging.getLogger(__name__)

NAME = "meta-agent"
SIGNALS_DURABLE = "meta-agent-signals"
INTENTS_DURABLE = "meta-agent-intents"
WINDOW_BUCKETS = (*LATENCY_BUCKETS, 5.0, 10.0, 30.0)
RATIO_BUCKETS = (0.2, 0.34, 0.5, 0.67, 0.75, 0.9, 1.0)


class _ScoreCollector(Collector):
    """Per-agent score gauges, computed at scrape time so the decision path never pays."""

    def __init__(self, coordinator: MetaCoordinator) -> None:
        self._coordinator = coordinator

    def collect(self) -> Iterator[GaugeMetricFamily]:
        reports = self._coordinator.agents()
        gauges: list[tuple[str, str, Any]] = [
            (
                "atp_meta_agent_weight",
                "Effective weight the next window uses.",
                lambda r: r.effective_weight,
            ),
            (
                "atp_meta_agent_enabled",
                "1 if the agent's intents count.",
                lambda r: 1.0 if r.enabled else 0.0,
            ),
            ("atp_meta_agent_hit_rate", "Hits over scored intents.", lambda r: r.hit_rate),
            (
                "atp_meta_agent_pnl",
                "P&L of the agent's intents as if followed alone.",
                lambda r: float(r.pnl),
            ),
            ("atp_meta_agent_brier", "Brier score of the agent's confidence.", lambda r: r.brier),
            (
                "atp_meta_agent_swung",
                "Decisions whose action the agent's vote changed.",
                lambda r: r.swung,
            ),
            (
                "atp_meta_agent_skill",
                "Decayed hit rate behind adaptive weights.",
                lambda r: r.skill,
            ),
        ]
        for name, documentation, value_of in gauges:
            family = GaugeMetricFamily(name, documentation, labels=["agent"])
            for report in reports:
                value = value_of(report)
                if value is not None:
                    family.add_metric([report.agent_id], float(value))
            yield family


class MetaMetrics:
    """What the meta-agent measures: decisions, agreement, window latency, abstentions."""

    def __init__(self, registry: CollectorRegistry, coordinator: MetaCoordinator) -> None:
        self.decisions = Counter(
            "atp_meta_decisions_total",
            "Decisions, by voting strategy, action and whether risk approved them.",
            ["strategy", "action", "approved"],
            registry=registry,
        )
        self.agreement = Histogram(
            "atp_meta_agreement_ratio",
            "Share of voters on the most chosen side, per decision.",
            buckets=RATIO_BUCKETS,
            registry=registry,
        )
        self.window_seconds = Histogram(
            "atp_meta_window_seconds",
            "Time from a window opening to its decision, by how it closed.",
            ["closed_by"],
            buckets=WINDOW_BUCKETS,
            registry=registry,
        )
        self.abstentions = Counter(
            "atp_meta_abstentions_total",
            "Windows an enabled agent did not answer, by agent.",
            ["agent"],
            registry=registry,
        )
        self.intents = Counter(
            "atp_meta_intents_total",
            "Intents received, by what became of them (accepted, duplicate, late, disabled, "
            "invalid).",
            ["admission"],
            registry=registry,
        )
        self.open_windows = Gauge(
            "atp_meta_open_windows", "Decision windows waiting for answers.", registry=registry
        )
        self.open_windows.set_function(lambda: coordinator.open_windows)
        registry.register(_ScoreCollector(coordinator))

    def observe(self, result: DecisionResult) -> None:
        """Counts one decision."""
        decision = result.decision
        self.decisions.labels(
            decision.voting_strategy, decision.action.value, str(decision.approved).lower()
        ).inc()
        self.agreement.observe(result.agreement)
        self.window_seconds.labels(result.closed_by).observe(result.latency_seconds)
        for vote in decision.votes:
            if vote.vote == "abstain":
                self.abstentions.labels(vote.agent_id).inc()


class _RiskHandOff:
    """A verdict whose violations the risk component publishes (it also counts them)."""

    __slots__ = ("cause", "verdict")

    def __init__(self, verdict: RiskVerdict, cause: Envelope[Any]) -> None:
        self.verdict = verdict
        self.cause = cause


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
    ) -> None:
        self.coordinator = coordinator
        self.risk = risk
        self.port = port
        self._bus = bus
        self._owns_bus = owns_bus
        self._clock = clock
        self._metrics = metrics
        self._tick_seconds = tick_seconds
        self._outbox: deque[Envelope[Any] | _RiskHandOff] = deque()
        self._flushing = asyncio.Lock()
        self._ticker: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Starts the risk engine (restoring its state), the consumers and the tick loop."""
        if self.risk is not None:
            await self.risk.start(self._bus)
        await self._bus.subscribe(
            SIGNALS_NORMALIZED, durable=SIGNALS_DURABLE, handler=self.on_signal
        )
        await self._bus.subscribe(
            DECISIONS_ORDER_INTENT, durable=INTENTS_DURABLE, handler=self.on_intent
        )
        self._ticker = asyncio.create_task(self._tick_loop(), name="meta-agent:tick")

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
        self._accept(self.coordinator.on_signal(envelope.payload, cause=envelope))
        await self.flush()

    async def on_intent(self, envelope: Envelope[Any]) -> None:
        """An agent's intent: into its window; publishes the decision if the window closed."""
        admission, results = self.coordinator.on_intent(envelope.payload, cause=envelope)
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

    async def execute(self, command: MetaCommand, *, actor: str) -> ControlAction:
        """Applies a control command from the next window on and publishes it."""
        action = self.coordinator.execute(command, actor=actor)
        log.info("control %s by %s: %s", action.action, actor, dict(action.parameters))
        self._outbox.append(envelope_for(action, source=NAME, event_time=action.occurred_at))
        await self.flush()
        return action

    # Publishing ------------------------------------------------------------------------------

    def _accept(self, results: list[DecisionResult]) -> None:
        for result in results:
            self._metrics.observe(result)
            decision = result.decision
            envelope = envelope_for(
                decision, source=NAME, event_time=decision.decided_at, cause=result.cause
            )
            self._outbox.append(envelope)
            if self.risk is None:
                for violation in result.violations:
                    self._outbox.append(
                        envelope_for(
                            violation, source=NAME, event_time=violation.occurred_at, cause=envelope
                        )
                    )
            elif result.violations:
                verdict = RiskVerdict(
                    decision.approved,
                    decision.risk_checks,
                    result.violations,
                    decision.trading_state,
                )
                self._outbox.append(_RiskHandOff(verdict, envelope))

    async def flush(self) -> None:
        """Publishes the outbox in order; on failure keeps the rest and raises (redelivery)."""
        async with self._flushing:
            while self._outbox:
                item = self._outbox[0]
                if isinstance(item, _RiskHandOff):
                    assert self.risk is not None
                    await self.risk.publish_verdict(item.verdict, item.cause)
                else:
                    await self._bus.publish(item)
                self._outbox.popleft()

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
    risk_restore_quiet_seconds: float = 1.0,
    tick_seconds: float = 0.05,
) -> MetaAgentService:
    """Builds the meta-agent; by default on the NATS at `settings.effective_nats_url`.

    Args:
        bus: a `Bus` that is also an `Rpc` (InMemoryBus or NatsBus); connected here if None.
        clock: the wall clock by default.
        config: voting, windows, scoring and known agents; defaults to majority voting.
        gate: a risk gate to use instead of the in-process risk engine (tests, backtests);
            with one, no risk component runs (no `/risk`, no `rpc.risk.check`).
        risk_config: the risk engine's limits (its defaults otherwise).
        risk_restore_quiet_seconds: how long the risk engine's replay must be quiet at start.
        tick_seconds: how often timed-out windows are looked for.
    """
    config = config or MetaAgentConfig()
    clock = clock or SystemClock()
    registry = new_registry()
    owns_bus = bus is None
    if bus is None:
        from atp.bus.nats import NatsBus

        bus = await NatsBus.connect(
            settings.effective_nats_url, client_name=NAME, metrics=BusMetrics(registry)
        )
    risk: RiskComponent | None = None
    if gate is None:
        risk = RiskComponent(
            settings,
            clock=clock,
            registry=registry,
            config=risk_config,
            restore_quiet_seconds=risk_restore_quiet_seconds,
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
    )

    async def readiness() -> dict[str, bool]:
        return {"nats": bool(getattr(bus, "is_connected", True))}

    routers = [meta_router] if risk is None else [meta_router, risk.router]
    service.app = create_app(
        service=NAME,
        registry=registry,
        readiness=readiness,
        routers=routers,
        state={"meta_controls": service},
        api_token=settings.api_token_value,
        description="Combines the agents' intents by vote, explains every decision, and puts "
        "each trade to the risk engine.",
    )
    return service
