"""The risk engine inside a service: restore, consume, serve `rpc.risk.check`, publish, measure.

The meta-agent builds one `RiskComponent`, calls `gate.check()` before every coordinated order,
hands each verdict to `publish_verdict()`, and mounts `router`. On `start(bus)` the component
rebuilds its state with one-shot reads of what JetStream holds (`Bus.history`: operator changes
on `control.actions`, fills on `executions.order_update`, the last price of each symbol on
`signals.normalized`, trading states on `risk.state`), each read up to the point the stream had
reached when it began, refusing every order until then, so a restart never re-opens trading
that was halted. Nothing is left on the server but the two fixed live consumers it reuses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import APIRouter
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from atp.api.routers.risk import risk_router
from atp.bus import risk_rpc
from atp.bus.codec import WireError
from atp.bus.subjects import (
    CONTROL_ACTIONS,
    EXECUTIONS_ORDER_UPDATE,
    RISK_STATE,
    RPC_RISK_CHECK,
    SIGNALS_NORMALIZED,
)
from atp.core.clock import Clock
from atp.core.enums import TradingState
from atp.core.errors import AtpError, VenueUnavailable
from atp.core.events import Envelope, MarketSignal, RiskViolation, envelope_for
from atp.core.ids import Symbol
from atp.core.proposals import RiskGate, RiskVerdict
from atp.risk.config import RiskEngineConfig
from atp.risk.engine import RiskEngine
from atp.risk.snapshot import RiskSnapshot, snapshot
from atp.services.settings import AtpSettings

log = logging.getLogger(__name__)

SOURCE = "meta-agent"
FILLS_DURABLE = "risk-fills"
MARKS_DURABLE = "risk-marks"


def latest_per_symbol(envelopes: Iterable[Envelope[Any]]) -> list[MarketSignal]:
    """The newest bar of each symbol among `envelopes`, oldest first."""
    latest: dict[Symbol, MarketSignal] = {}
    for envelope in envelopes:
        signal: MarketSignal = envelope.payload
        known = latest.get(signal.symbol)
        if known is None or signal.timestamp >= known.timestamp:
            latest[signal.symbol] = signal
    return sorted(latest.values(), key=lambda signal: (signal.timestamp, signal.symbol))


class _RiskCollector(Collector):
    """Computes the gauges at scrape time, so the hot path never pays for them."""

    def __init__(self, engine: RiskEngine) -> None:
        self._engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        picture = snapshot(self._engine, now_counts=self._engine.order_counts())
        state = GaugeMetricFamily(
            "atp_risk_trading_state", "1 for the current trading state.", labels=["state"]
        )
        for value in TradingState:
            state.add_metric([value.value], 1.0 if picture.trading_state is value else 0.0)
        yield state
        yield GaugeMetricFamily(
            "atp_risk_kill_switch", "1 while the kill switch is on.", value=picture.kill_switch
        )
        pnl = GaugeMetricFamily("atp_risk_pnl", "P&L in account currency.", labels=["kind"])
        for kind, amount in (
            ("day", picture.day_pnl),
            ("realized", picture.realized_pnl),
            ("unrealized", picture.unrealized_pnl),
        ):
            pnl.add_metric([kind], float(amount))
        yield pnl
        exposure = GaugeMetricFamily("atp_risk_exposure", "Exposure in money.", labels=["kind"])
        for kind, amount in (
            ("gross", picture.gross_exposure),
            ("net", picture.net_exposure),
            ("equity", picture.equity),
        ):
            exposure.add_metric([kind], float(amount))
        yield exposure
        usage = GaugeMetricFamily(
            "atp_risk_limit_utilisation",
            "Share of each limit in use (1 = at the limit), by rule and scope.",
            labels=["rule", "scope"],
        )
        for limit in picture.limits:
            if limit.utilisation is not None:
                usage.add_metric([limit.rule, limit.scope], float(limit.utilisation))
        yield usage


class RiskSettings(BaseSettings):
    """The risk engine's settings (`ATP_RISK_` prefix), read once by the component.

    `ATP_RISK_LIMITS` takes the whole `RiskEngineConfig` as JSON (fields left out keep their
    defaults); single fields can be set with `__` between levels, e.g.
    `ATP_RISK_LIMITS__DAILY_LOSS__MAX_LOSS=2500`.
    """

    model_config = SettingsConfigDict(
        env_prefix="ATP_RISK_", env_nested_delimiter="__", frozen=True, extra="forbid"
    )

    limits: RiskEngineConfig = Field(
        default_factory=RiskEngineConfig, description="Every limit of the risk engine at start."
    )
    mark_tail: int = Field(
        default=10_000,
        ge=1,
        le=10_000_000,
        description="Newest stored bars read at start for each symbol's last price.",
    )
    restore_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="How long the start keeps retrying an unreachable JetStream before failing.",
    )


class RiskComponent:
    """The risk engine with its bus consumers, its RPC responder, its API and its metrics."""

    def __init__(
        self,
        settings: AtpSettings,
        *,
        clock: Clock,
        registry: CollectorRegistry,
        config: RiskEngineConfig | None = None,
        risk_settings: RiskSettings | None = None,
        tick_seconds: float = 1.0,
    ) -> None:
        """Builds the component; nothing connects until `start`.

        Args:
            config: the limits; by default `risk_settings.limits`.
            risk_settings: read from the environment (`ATP_RISK_*`) when not given.
            tick_seconds: how often the day boundary is checked between events.
        """
        self._settings = settings
        self.risk_settings = risk_settings or RiskSettings()
        self._clock = clock
        self.engine = RiskEngine(config or self.risk_settings.limits, clock=clock)
        self.gate: RiskGate = self.engine
        self.router: APIRouter = risk_router(self)
        self._violations_total = Counter(
            "atp_risk_violations_total", "Risk violations, by rule.", ["rule"], registry=registry
        )
        registry.register(_RiskCollector(self.engine))
        self._tick_seconds = tick_seconds
        self._bus: Any = None
        self._unsent: list[Envelope[Any]] = []
        # Consumers (fills, marks) and the meta-agent flush concurrently: one at a time, so
        # events go out in order and none is popped by a flush that did not publish it.
        self._flush_lock = asyncio.Lock()
        self._held: list[Envelope[Any]] | None = None
        self._ticker: asyncio.Task[None] | None = None

    # Lifecycle -------------------------------------------------------------------------------

    async def start(self, bus: Any) -> None:
        """Rebuilds state from the bus, then consumes fills and marks and serves checks.

        `bus` implements the `Bus` and `Rpc` ports.

        Raises:
            VenueUnavailable: the stored history could not be read within
                `restore_timeout_seconds` (the gate stays closed).
        """
        self._bus = bus
        self.engine.begin_restore()
        # Live consumers first, under fixed names (a restart reuses them, nothing piles up on
        # the server); what they deliver while the history is read waits in `_held`, so fills
        # are booked in stream order (average cost depends on it) and none falls in between.
        self._held = []
        await bus.subscribe(
            EXECUTIONS_ORDER_UPDATE, durable=FILLS_DURABLE, handler=self._on_update, replay=False
        )
        await bus.subscribe(
            SIGNALS_NORMALIZED, durable=MARKS_DURABLE, handler=self._on_signal, replay=False
        )
        await self._restore(bus)
        held, self._held = self._held, None
        for envelope in held:
            await self._apply_live(envelope)
        self.engine.finish_restore()
        await self._flush()
        await bus.respond(RPC_RISK_CHECK, self.serve_check)
        self._ticker = asyncio.create_task(self._tick_loop(), name="risk:tick")
        log.info("risk engine ready: state %s", self.engine.state.value)

    async def stop(self) -> None:
        """Stops the day-boundary ticker and publishes what is still queued."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        await self._flush()

    async def _restore(self, bus: Any) -> None:
        engine = self.engine
        for envelope in await self._read(bus, CONTROL_ACTIONS):
            engine.restore_control(envelope.payload)
        for envelope in await self._read(bus, EXECUTIONS_ORDER_UPDATE):
            engine.on_order_update(envelope.payload)
        for signal in latest_per_symbol(
            await self._read(bus, SIGNALS_NORMALIZED, tail=self.risk_settings.mark_tail)
        ):
            engine.restore_mark(signal)
        for envelope in await self._read(bus, RISK_STATE):
            engine.restore_state(envelope.payload)

    async def _read(self, bus: Any, subject: str, *, tail: int | None = None) -> list[Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.risk_settings.restore_timeout_seconds
        delay = 0.2
        while True:
            try:
                events: list[Any] = await bus.history(subject, tail=tail)
                return events
            except VenueUnavailable as exc:
                if loop.time() + delay > deadline:
                    raise
                log.warning("risk restore: reading %s failed, retrying: %s", subject, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self._tick_seconds)
            self.engine.tick()
            await self._flush()

    # Consumers -------------------------------------------------------------------------------

    async def _on_update(self, envelope: Envelope[Any]) -> None:
        if self._held is not None:
            self._held.append(envelope)
            return
        await self._apply_live(envelope)

    async def _on_signal(self, envelope: Envelope[Any]) -> None:
        if self._held is not None:
            self._held.append(envelope)
            return
        await self._apply_live(envelope)

    async def _apply_live(self, envelope: Envelope[Any]) -> None:
        payload = envelope.payload
        if isinstance(payload, MarketSignal):
            self.engine.on_market_signal(payload)
        else:
            self.engine.on_order_update(payload)
        await self._flush(cause=envelope)

    # The gate over NATS ------------------------------------------------------------------------

    async def serve_check(self, data: bytes) -> bytes:
        """Answers one `rpc.risk.check` request; a bad request gets an error reply."""
        try:
            proposal = risk_rpc.decode_request(data)
        except WireError as exc:
            return risk_rpc.encode_error_reply("invalid_input", exc.reason)
        try:
            verdict = self.engine.check(proposal)
        except AtpError as exc:
            log.exception("risk check of %s failed", proposal.proposal_id)
            return risk_rpc.encode_error_reply(exc.code, str(exc))
        await self.publish_verdict(verdict, None)
        return risk_rpc.encode_reply(verdict)

    async def publish_verdict(self, verdict: RiskVerdict, cause: Envelope[Any] | None) -> None:
        """Publishes the verdict's violations on `risk.violations`, and any queued events."""
        for violation in verdict.violations:
            self._violations_total.labels(violation.rule).inc()
            self._queue(violation, cause)
        await self._flush(cause=cause)

    # Operator controls (the router calls these) ------------------------------------------------

    def state(self) -> RiskSnapshot:
        """The current picture of the engine."""
        return snapshot(self.engine, now_counts=self.engine.order_counts())

    def limits(self) -> RiskEngineConfig:
        """The limits in force."""
        return self.engine.config

    def recent_violations(self, limit: int) -> list[RiskViolation]:
        """The newest `limit` violations, newest first."""
        recent = list(self.engine.violations)[-limit:]
        recent.reverse()
        return recent

    async def set_limits(self, config: RiskEngineConfig, *, actor: str) -> None:
        """Replaces every limit and publishes the change."""
        self.engine.set_config(config, actor=actor)
        await self._flush()

    async def block(self, symbol: Symbol, *, actor: str) -> None:
        """Blocks new exposure in `symbol` and publishes it."""
        self.engine.block(symbol, actor=actor)
        await self._flush()

    async def unblock(self, symbol: Symbol, *, actor: str) -> None:
        """Lifts the block on `symbol` and publishes it."""
        self.engine.unblock(symbol, actor=actor)
        await self._flush()

    async def trip_kill_switch(self, reason: str, *, actor: str) -> None:
        """Halts all new orders and publishes the halt (and follow-up requests)."""
        self.engine.trip_kill_switch(reason, actor=actor)
        await self._flush()

    async def reset_kill_switch(self, *, actor: str) -> None:
        """Turns the kill switch off and publishes it."""
        self.engine.reset_kill_switch(actor=actor)
        await self._flush()

    async def reset_daily_pnl(self, *, actor: str) -> None:
        """Restarts the day's P&L from now and publishes it."""
        self.engine.reset_daily_pnl(actor=actor)
        await self._flush()

    # Publishing --------------------------------------------------------------------------------

    def _queue(self, payload: Any, cause: Envelope[Any] | None) -> None:
        event_time = getattr(payload, "occurred_at", None) or getattr(payload, "changed_at", None)
        self._unsent.append(
            envelope_for(
                payload, source=SOURCE, event_time=event_time or self._clock.now(), cause=cause
            )
        )

    async def _flush(self, cause: Envelope[Any] | None = None) -> None:
        for payload in self.engine.take_events():
            if isinstance(payload, RiskViolation):
                self._violations_total.labels(payload.rule).inc()
            self._queue(payload, cause)
        if self._bus is None:
            return
        async with self._flush_lock:
            while self._unsent:
                envelope = self._unsent[0]
                try:
                    await self._bus.publish(envelope)
                except AtpError as exc:
                    # Kept in order and retried on the next flush: a state change must not be
                    # lost.
                    log.warning("publishing %s failed, will retry: %s", envelope.type, exc)
                    return
                self._unsent.pop(0)
