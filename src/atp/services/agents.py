"""The agents service: hosts the strategies and answers every bar with their order intents.

Composition root:

    signals.normalized (durable "agents") -> AgentHost.on_signal -> decisions.order_intent

Each intent is published with the signal's envelope as its cause (same correlation id). The
agents come from `ATP_AGENTS_AGENTS` (a JSON list of `AgentConfig`), by default one agent per
built-in strategy with parameters for daily bars. A strategy that raises is quarantined by the
host; the fault is logged, counted in `atp_agents_strategy_errors_total` and shown in
`GET /agents`. Strategy state lives in memory: after a restart the strategies warm up again on
the bars that follow.

The operator's enable and disable are published on `control.actions` before the caller gets its
answer (a change that could not be published is undone and the call fails). On start, before the
first bar is consumed, the service reads back the actions it published (`Bus.history`, a one-shot
read) and re-applies them in order, so an agent disabled before a restart stays disabled; the
configuration only gives the state before the first change (`ATP_AGENTS_RESTORE=false` starts
from the configuration alone).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from prometheus_client import Counter, Gauge
from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from atp.agents.host import AgentConfig, AgentHost, AgentStatus
from atp.api.app import create_app
from atp.api.auth import actor_of, require_token
from atp.bus.subjects import CONTROL_ACTIONS, SIGNALS_NORMALIZED
from atp.core.clock import Clock, SystemClock
from atp.core.errors import AtpError
from atp.core.events import ControlAction, Envelope, MarketSignal, envelope_for
from atp.core.ids import AgentId, derive_id
from atp.services.settings import AtpSettings
from atp.telemetry.metrics import BusMetrics, new_registry

log = logging.getLogger(__name__)

NAME = "agents"
SOURCE = "agents"
DURABLE = "agents"
ENABLE_AGENT = "enable_agent"
DISABLE_AGENT = "disable_agent"


def default_agents() -> list[AgentConfig]:
    """One agent per built-in strategy, with parameters for daily bars."""
    return [
        AgentConfig(
            agent_id="momentum", strategy="momentum", params={"lookback": 20, "threshold": 0.05}
        ),
        AgentConfig(
            agent_id="mean_reversion",
            strategy="mean_reversion",
            params={"window": 20, "entry_z": 1.5},
        ),
        AgentConfig(
            agent_id="sma_crossover",
            strategy="sma_crossover",
            params={"fast": 10, "slow": 30, "long_only": True},
        ),
    ]


class AgentsSettings(BaseSettings):
    """Which agents run (`ATP_AGENTS_AGENTS`, a JSON list of agent configs)."""

    model_config = SettingsConfigDict(env_prefix="ATP_AGENTS_", frozen=True, extra="forbid")

    agents: list[AgentConfig] = Field(
        default_factory=default_agents, description="The hosted agents, in answer order."
    )
    restore: bool = Field(
        default=True,
        description="Re-apply the enables and disables this service published on "
        "control.actions before the first bar.",
    )


class AgentStatusModel(BaseModel):
    """One agent as `GET /agents` shows it."""

    model_config = ConfigDict(extra="forbid")

    agent_id: str
    strategy: str
    status: str
    enabled: bool
    quarantined: bool
    quarantine_reason: str | None
    signals_seen: int
    intents: dict[str, int]
    errors: int

    @classmethod
    def of(cls, status: AgentStatus) -> AgentStatusModel:
        """The HTTP view of a host status."""
        label = "quarantined" if status.quarantined else "enabled" if status.enabled else "disabled"
        return cls(
            agent_id=status.agent_id,
            strategy=status.strategy,
            status=label,
            enabled=status.enabled,
            quarantined=status.quarantined,
            quarantine_reason=status.quarantine_reason,
            signals_seen=status.signals_seen,
            intents=status.intents,
            errors=status.errors,
        )


class AgentsService:
    """The running agents: host, consumer, metrics and HTTP app."""

    name = NAME

    def __init__(
        self,
        *,
        settings: AtpSettings,
        host: AgentHost,
        bus: Any,
        owns_bus: bool,
        clock: Clock,
        registry: Any,
        restore: bool = True,
    ) -> None:
        self.host = host
        self.port = settings.agents_port
        self._bus = bus
        self._owns_bus = owns_bus
        self._clock = clock
        self._restore = restore
        self._started = False
        self.restored = 0
        self.intents = Counter(
            "atp_agents_intents_total",
            "Order intents published, by agent and action.",
            ["agent", "action"],
            registry=registry,
        )
        self.strategy_errors = Counter(
            "atp_agents_strategy_errors_total",
            "Strategy faults (each quarantines its agent).",
            ["agent"],
            registry=registry,
        )
        self.quarantined = Gauge(
            "atp_agents_quarantined", "Agents quarantined now.", registry=registry
        )
        self.app: FastAPI = create_app(
            service=NAME,
            registry=registry,
            readiness=self._readiness,
            routers=[router],
            state={"agents": self},
            api_token=settings.api_token_value,
            description="Hosts the strategies; answers every bar with one intent per agent.",
        )

    async def start(self) -> None:
        """Re-applies the recorded enables and disables, then consumes `signals.normalized`.

        Raises:
            VenueUnavailable: the recorded actions could not be read (nothing is consumed).
        """
        if self._restore:
            self.restored = self.apply_controls(await self._bus.history(CONTROL_ACTIONS))
            log.info("restored %d enable/disable actions", self.restored)
        await self._bus.subscribe(SIGNALS_NORMALIZED, durable=DURABLE, handler=self.on_signal)
        self._started = True

    def apply_controls(self, envelopes: list[Envelope[Any]]) -> int:
        """Re-applies this service's recorded enables and disables, oldest first; returns how many.

        Other services' actions are not ours; an action naming an agent no longer configured is
        logged and skipped.
        """
        applied = 0
        for envelope in envelopes:
            action: ControlAction = envelope.payload
            if action.service != NAME or action.action not in (ENABLE_AGENT, DISABLE_AGENT):
                continue
            agent_id = AgentId(str(action.parameters.get("agent_id", "")))
            try:
                if action.action == ENABLE_AGENT:
                    self.host.enable(agent_id)
                else:
                    self.host.disable(agent_id)
            except AtpError as exc:
                log.warning("control action %s not restored: %s", action.action_id, exc)
                continue
            applied += 1
        return applied

    async def stop(self) -> None:
        """Calls the strategies' stop hooks and closes the bus if this service opened it."""
        self.host.stop()
        if self._owns_bus:
            await self._bus.close()

    async def on_signal(self, envelope: Envelope[Any]) -> None:
        """Feeds one bar to the host and publishes every intent it answers with."""
        signal: MarketSignal = envelope.payload
        intents = self.host.on_signal(signal)
        for fault in self.host.drain_faults():
            self.strategy_errors.labels(fault.agent_id).inc()
        self.quarantined.set(self.host.quarantined_count)
        for intent in intents:
            await self._bus.publish(
                envelope_for(intent, source=SOURCE, event_time=self._clock.now(), cause=envelope)
            )
            self.intents.labels(intent.agent_id, intent.action.value).inc()

    async def set_enabled(self, agent_id: AgentId, enabled: bool, actor: str) -> AgentStatus:
        """Enables or disables an agent and publishes the change (undone if that fails).

        Raises:
            NotFound: no such agent. Conflict: enabling a quarantined agent.
            AtpError: the change could not be published; the agent is as it was.
        """
        was_enabled = self.host.status(agent_id).enabled
        status = self.host.enable(agent_id) if enabled else self.host.disable(agent_id)
        try:
            await self.record_control(ENABLE_AGENT if enabled else DISABLE_AGENT, agent_id, actor)
        except BaseException:
            # Unrecorded, the change would not survive a restart: the caller gets the error and
            # the agent keeps its state. (A quarantine meanwhile leaves it disabled either way.)
            with contextlib.suppress(AtpError):
                (self.host.enable if was_enabled else self.host.disable)(agent_id)
            raise
        return status

    async def record_control(self, action: str, agent_id: str, actor: str) -> None:
        """Publishes the operator's action on `control.actions` (audit trail and restarts)."""
        now = self._clock.now()
        control = ControlAction(
            action_id=derive_id("control", NAME, action, agent_id, now.isoformat()),
            service=NAME,
            action=action,
            parameters={"agent_id": agent_id},
            actor=actor,
            occurred_at=now,
        )
        await self._bus.publish(envelope_for(control, source=SOURCE, event_time=now))

    async def _readiness(self) -> dict[str, bool]:
        return {"nats": bool(getattr(self._bus, "is_connected", True)), "started": self._started}


router = APIRouter(tags=["agents"])


def _service(request: Request) -> AgentsService:
    service: AgentsService = request.app.state.agents
    return service


@router.get("/agents", response_model=list[AgentStatusModel])
async def list_agents(request: Request) -> list[AgentStatusModel]:
    """Every agent with its status, quarantine reason and intent counts."""
    return [AgentStatusModel.of(s) for s in _service(request).host.statuses()]


@router.get("/agents/{agent_id}", response_model=AgentStatusModel)
async def get_agent(request: Request, agent_id: str) -> AgentStatusModel:
    """One agent (404 if unknown)."""
    return AgentStatusModel.of(_service(request).host.status(AgentId(agent_id)))


@router.post(
    "/agents/{agent_id}/enable",
    response_model=AgentStatusModel,
    dependencies=[Depends(require_token)],
)
async def enable_agent(request: Request, agent_id: str) -> AgentStatusModel:
    """Lets the agent answer signals again (409 if it is quarantined)."""
    status = await _service(request).set_enabled(AgentId(agent_id), True, actor_of(request))
    return AgentStatusModel.of(status)


@router.post(
    "/agents/{agent_id}/disable",
    response_model=AgentStatusModel,
    dependencies=[Depends(require_token)],
)
async def disable_agent(request: Request, agent_id: str) -> AgentStatusModel:
    """Stops the agent answering signals."""
    status = await _service(request).set_enabled(AgentId(agent_id), False, actor_of(request))
    return AgentStatusModel.of(status)


async def bootstrap(
    settings: AtpSettings,
    *,
    bus: Any = None,
    clock: Clock | None = None,
    config: AgentsSettings | None = None,
    host: AgentHost | None = None,
) -> AgentsService:
    """Builds the service; by default on the NATS at `settings.effective_nats_url`.

    Args:
        bus: a `Bus`; a NatsBus is connected here if None (and closed on stop).
        config: the agents; read from `ATP_AGENTS_*` if None.
        host: a ready host (tests, custom strategies); built from `config` if None.
    """
    clock = clock or SystemClock()
    config = config or AgentsSettings()
    if host is None:
        host = AgentHost.from_configs(config.agents, clock)
    registry = new_registry()
    owns_bus = bus is None
    if bus is None:
        from atp.bus.nats import NatsBus

        bus = await NatsBus.connect(
            settings.effective_nats_url, client_name=NAME, metrics=BusMetrics(registry)
        )
    return AgentsService(
        settings=settings,
        host=host,
        bus=bus,
        owns_bus=owns_bus,
        clock=clock,
        registry=registry,
        restore=config.restore,
    )
