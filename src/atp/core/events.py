"""The event contracts: one payload type per NATS subject, and the envelope they travel in.

These frozen dataclasses are the Python side of the JSON Schemas in `schemas/`; a test checks
that both agree field by field. Money, prices and quantities are Decimal; times are aware UTC.
Every payload names its `natural_key`: the event id is derived from it, so republishing the
same fact yields the same id and JetStream stores it once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Generic, TypeVar

from atp.core.enums import Action, OrderStatus, OrderType, Side, TimeInForce, TradingState
from atp.core.frozen import quick_init
from atp.core.ids import (
    AgentId,
    ClientOrderId,
    DecisionId,
    EventId,
    FillId,
    IntentId,
    OrderId,
    RunId,
    SignalId,
    Symbol,
    derive_id,
)

SCHEMA_VERSION = 1


@quick_init
@dataclass(frozen=True, slots=True)
class MarketSignal:
    """`signals.normalized`: one normalized OHLCV bar for one symbol."""

    SUBJECT: ClassVar[str] = "signals.normalized"

    signal_id: SignalId
    symbol: Symbol
    timeframe: str
    timestamp: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    feed: str

    @property
    def natural_key(self) -> str:
        """The signal id: one bar, one event."""
        return self.signal_id


@quick_init
@dataclass(frozen=True, slots=True)
class OrderIntent:
    """`decisions.order_intent`: what one agent wants done in answer to one signal."""

    SUBJECT: ClassVar[str] = "decisions.order_intent"

    intent_id: IntentId
    agent_id: AgentId
    strategy: str
    symbol: Symbol
    signal_id: SignalId
    action: Action
    quantity: Decimal
    confidence: float
    reference_price: Decimal
    order_type: OrderType
    limit_price: Decimal | None
    reason: str
    decided_at: datetime

    @property
    def natural_key(self) -> str:
        """The intent id (derived from agent and signal)."""
        return self.intent_id


@quick_init
@dataclass(frozen=True, slots=True)
class Vote:
    """One agent's part in a coordinated decision."""

    agent_id: AgentId
    vote: str
    quantity: Decimal
    confidence: float
    weight: float
    intent_id: IntentId | None
    reason: str


@quick_init
@dataclass(frozen=True, slots=True)
class Tally:
    """The summed vote per side of a decision (weights for weighted strategies, counts else)."""

    buy: float
    sell: float
    hold: float
    abstain: float
    voters: int


@quick_init
@dataclass(frozen=True, slots=True)
class RiskCheck:
    """The outcome of one risk rule for one decision or order."""

    rule: str
    passed: bool
    message: str
    limit: Decimal | None
    observed: Decimal | None


@quick_init
@dataclass(frozen=True, slots=True)
class MetaDecision:
    """`decisions.meta`: the coordinated decision for one symbol and signal, and why."""

    SUBJECT: ClassVar[str] = "decisions.meta"

    decision_id: DecisionId
    symbol: Symbol
    signal_id: SignalId
    action: Action
    quantity: Decimal
    order_type: OrderType
    limit_price: Decimal | None
    reference_price: Decimal
    voting_strategy: str
    parameters: Mapping[str, Any]
    votes: tuple[Vote, ...]
    tally: Tally
    threshold: float
    quorum: int
    explanation: str
    risk_checks: tuple[RiskCheck, ...]
    approved: bool
    trading_state: TradingState
    client_order_id: ClientOrderId | None
    decided_at: datetime

    @property
    def natural_key(self) -> str:
        """The decision id (one per symbol and signal)."""
        return self.decision_id


@quick_init
@dataclass(frozen=True, slots=True)
class RiskViolation:
    """`risk.violations`: a rule refused something, or tripped; the message says what."""

    SUBJECT: ClassVar[str] = "risk.violations"

    violation_id: str
    rule: str
    message: str
    symbol: Symbol | None
    agent_id: AgentId | None
    decision_id: DecisionId | None
    client_order_id: ClientOrderId | None
    limit: Decimal | None
    observed: Decimal | None
    action_taken: str
    trading_state: TradingState
    occurred_at: datetime

    @property
    def natural_key(self) -> str:
        """The violation id."""
        return self.violation_id


@quick_init
@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of (part of) an order."""

    fill_id: FillId
    quantity: Decimal
    price: Decimal
    commission: Decimal
    filled_at: datetime


@quick_init
@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """`executions.order_update`: an order changed state at a venue, maybe with a fill."""

    SUBJECT: ClassVar[str] = "executions.order_update"

    order_id: OrderId
    client_order_id: ClientOrderId
    venue: str
    symbol: Symbol
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    quantity: Decimal
    filled_quantity: Decimal
    average_fill_price: Decimal | None
    limit_price: Decimal | None
    stop_price: Decimal | None
    status: OrderStatus
    previous_status: OrderStatus | None
    fill: Fill | None
    decision_id: DecisionId | None
    reason: str | None
    sequence: int
    updated_at: datetime

    @property
    def natural_key(self) -> str:
        """The order and its update sequence number."""
        return f"{self.venue}:{self.client_order_id}:{self.sequence}"


@quick_init
@dataclass(frozen=True, slots=True)
class BacktestResult:
    """`backtest.results`: a finished (or failed) backtest run and its metrics."""

    SUBJECT: ClassVar[str] = "backtest.results"

    run_id: RunId
    status: str
    symbols: tuple[Symbol, ...]
    strategies: tuple[str, ...]
    voting_strategy: str
    start_date: datetime | None
    end_date: datetime | None
    initial_balance: Decimal
    final_equity: Decimal
    metrics: Mapping[str, float | None]
    num_trades: int
    seed: int
    error: str | None
    started_at: datetime
    finished_at: datetime

    @property
    def natural_key(self) -> str:
        """The run id."""
        return self.run_id


@quick_init
@dataclass(frozen=True, slots=True)
class ControlAction:
    """`control.actions`: an operator changed something through a control plane."""

    SUBJECT: ClassVar[str] = "control.actions"

    action_id: str
    service: str
    action: str
    parameters: Mapping[str, Any]
    actor: str
    occurred_at: datetime

    @property
    def natural_key(self) -> str:
        """The action id."""
        return self.action_id


@quick_init
@dataclass(frozen=True, slots=True)
class TradingStateChanged:
    """`risk.state`: the risk engine's trading state changed, or the kill switch flipped.

    Replayed on restart to restore the state: `kill_switch` and `loss_breached` say why the
    engine is not ACTIVE, and `trading_day` (exchange calendar date) scopes the loss latch.
    """

    SUBJECT: ClassVar[str] = "risk.state"

    change_id: str
    previous_state: TradingState
    state: TradingState
    kill_switch: bool
    loss_breached: bool
    reason: str
    rule: str | None
    actor: str
    trading_day: str
    changed_at: datetime

    @property
    def natural_key(self) -> str:
        """The change id."""
        return self.change_id


@quick_init
@dataclass(frozen=True, slots=True)
class ReconciliationDifference:
    """`executions.reconciliation`: our view of a venue and the venue's own disagreed.

    `kind` is one of `order_status`, `missing_fill`, `missing_at_venue`, `unknown_locally`,
    `position`; `action` says what was done about it (`settled`, `booked`, `adopted`,
    `rejected`, `reported`).
    """

    SUBJECT: ClassVar[str] = "executions.reconciliation"

    difference_id: str
    reconciliation_id: str
    venue: str
    trigger: str
    kind: str
    client_order_id: ClientOrderId | None
    symbol: Symbol | None
    local_value: str | None
    venue_value: str | None
    action: str
    detected_at: datetime

    @property
    def natural_key(self) -> str:
        """The difference id."""
        return self.difference_id


Payload = (
    MarketSignal
    | OrderIntent
    | MetaDecision
    | RiskViolation
    | OrderUpdate
    | ReconciliationDifference
    | BacktestResult
    | ControlAction
    | TradingStateChanged
)
PAYLOAD_TYPES: tuple[type[Any], ...] = (
    MarketSignal,
    OrderIntent,
    MetaDecision,
    RiskViolation,
    OrderUpdate,
    BacktestResult,
    ControlAction,
    TradingStateChanged,
)

P = TypeVar("P")


@quick_init
@dataclass(frozen=True, slots=True)
class Envelope(Generic[P]):
    """The one envelope every event travels in.

    `correlation_id` ties together everything one market signal set off; `causation_id` names
    the event this one directly answers.
    """

    event_id: EventId
    type: str
    schema_version: int
    event_time: datetime
    source: str
    correlation_id: str
    causation_id: str | None
    payload: P = field()


def envelope_for(
    payload: Any,
    *,
    source: str,
    event_time: datetime,
    cause: Envelope[Any] | None = None,
) -> Envelope[Any]:
    """Wraps `payload` in an envelope whose id derives from the payload's natural key.

    The correlation id is inherited from `cause`, or starts here when there is none.
    """
    subject: str = payload.SUBJECT
    event_id = EventId(derive_id("event", subject, payload.natural_key))
    return Envelope(
        event_id=event_id,
        type=subject,
        schema_version=SCHEMA_VERSION,
        event_time=event_time,
        source=source,
        correlation_id=cause.correlation_id if cause is not None else event_id,
        causation_id=cause.event_id if cause is not None else None,
        payload=payload,
    )
