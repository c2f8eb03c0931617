"""The relational schema: one table per record kind, plus the audit chain and consumer state.

The Alembic migrations in `atp.storage.migrations` create exactly these tables; a test compares
the migrated database with this metadata so the two never drift.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from atp.storage.types import ExactDecimal, UtcDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with stable constraint names (so migrations can name them)."""

    metadata = MetaData(naming_convention=NAMING)


class OrderRow(Base):
    """An order's latest state (its latest `executions.order_update`)."""

    __tablename__ = "orders"

    venue: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_order_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(120), index=True)
    symbol: Mapped[str] = mapped_column(String(40), index=True)
    side: Mapped[str] = mapped_column(String(8))
    order_type: Mapped[str] = mapped_column(String(16))
    time_in_force: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal())
    filled_quantity: Mapped[Decimal] = mapped_column(ExactDecimal())
    average_fill_price: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    limit_price: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    stop_price: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    status: Mapped[str] = mapped_column(String(20), index=True)
    previous_status: Mapped[str | None] = mapped_column(String(20))
    decision_id: Mapped[str | None] = mapped_column(String(80), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    fill_id: Mapped[str | None] = mapped_column(String(120))
    sequence: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class OrderEventRow(Base):
    """One state change of one order (every update, not only the latest)."""

    __tablename__ = "order_events"
    __table_args__ = (UniqueConstraint("venue", "client_order_id", "sequence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    venue: Mapped[str] = mapped_column(String(40))
    client_order_id: Mapped[str] = mapped_column(String(80), index=True)
    sequence: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))
    previous_status: Mapped[str | None] = mapped_column(String(20))
    filled_quantity: Mapped[Decimal] = mapped_column(ExactDecimal())
    fill_id: Mapped[str | None] = mapped_column(String(120))
    reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class FillRow(Base):
    """One execution; the fill id is unique so a fill is booked once."""

    __tablename__ = "fills"

    fill_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    venue: Mapped[str] = mapped_column(String(40))
    client_order_id: Mapped[str] = mapped_column(String(80), index=True)
    order_id: Mapped[str] = mapped_column(String(120))
    symbol: Mapped[str] = mapped_column(String(40), index=True)
    side: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal())
    price: Mapped[Decimal] = mapped_column(ExactDecimal())
    commission: Mapped[Decimal] = mapped_column(ExactDecimal())
    filled_at: Mapped[datetime] = mapped_column(UtcDateTime())


class PositionRow(Base):
    """The position per venue and symbol, booked from fills at average cost."""

    __tablename__ = "positions"

    venue: Mapped[str] = mapped_column(String(40), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(40), primary_key=True)
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal())
    average_cost: Mapped[Decimal] = mapped_column(ExactDecimal())
    realized_pnl: Mapped[Decimal] = mapped_column(ExactDecimal())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class DecisionRow(Base):
    """A coordinated decision (`decisions.meta`) with its tally and risk checks."""

    __tablename__ = "decisions"

    decision_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(40), index=True)
    signal_id: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal())
    order_type: Mapped[str] = mapped_column(String(16))
    limit_price: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    reference_price: Mapped[Decimal] = mapped_column(ExactDecimal())
    voting_strategy: Mapped[str] = mapped_column(String(40))
    parameters: Mapped[str] = mapped_column(Text)
    tally: Mapped[str] = mapped_column(Text)
    threshold: Mapped[float] = mapped_column(Float)
    quorum: Mapped[int] = mapped_column(Integer)
    explanation: Mapped[str] = mapped_column(Text)
    risk_checks: Mapped[str] = mapped_column(Text)
    approved: Mapped[bool] = mapped_column(Boolean)
    trading_state: Mapped[str] = mapped_column(String(16))
    client_order_id: Mapped[str | None] = mapped_column(String(80), index=True)
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class VoteRow(Base):
    """One agent's vote in one decision."""

    __tablename__ = "decision_votes"

    decision_id: Mapped[str] = mapped_column(
        String(80), ForeignKey("decisions.decision_id"), primary_key=True
    )
    agent_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    vote: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal())
    confidence: Mapped[float] = mapped_column(Float)
    weight: Mapped[float] = mapped_column(Float)
    intent_id: Mapped[str | None] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(Text)


class RiskViolationRow(Base):
    """A risk rule refused or tripped something (`risk.violations`)."""

    __tablename__ = "risk_violations"

    violation_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    rule: Mapped[str] = mapped_column(String(60), index=True)
    message: Mapped[str] = mapped_column(Text)
    symbol: Mapped[str | None] = mapped_column(String(40), index=True)
    agent_id: Mapped[str | None] = mapped_column(String(80))
    decision_id: Mapped[str | None] = mapped_column(String(80))
    client_order_id: Mapped[str | None] = mapped_column(String(80))
    limit: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    observed: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    action_taken: Mapped[str] = mapped_column(String(60))
    trading_state: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class BacktestRunRow(Base):
    """A finished backtest run and its results (`backtest.results`)."""

    __tablename__ = "backtest_runs"

    run_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    symbols: Mapped[str] = mapped_column(Text)
    strategies: Mapped[str] = mapped_column(Text)
    voting_strategy: Mapped[str] = mapped_column(String(40))
    start_date: Mapped[datetime | None] = mapped_column(UtcDateTime())
    end_date: Mapped[datetime | None] = mapped_column(UtcDateTime())
    initial_balance: Mapped[Decimal] = mapped_column(ExactDecimal())
    final_equity: Mapped[Decimal] = mapped_column(ExactDecimal())
    metrics: Mapped[str] = mapped_column(Text)
    num_trades: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class ControlActionRow(Base):
    """An operator action on a control plane (`control.actions`), secrets scrubbed."""

    __tablename__ = "control_actions"

    action_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    service: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(60), index=True)
    parameters: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(120))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class IdempotencyKeyRow(Base):
    """The first answer given to one `Idempotency-Key`."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ProcessedEventRow(Base):
    """That `consumer` has applied the effect of `event_id` (written with the effect)."""

    __tablename__ = "processed_events"

    consumer: Mapped[str] = mapped_column(String(80), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AuditEntryRow(Base):
    """One link of the hash chain: an event or control action, as recorded."""

    __tablename__ = "audit_entries"

    sequence: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    event_time: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    kind: Mapped[str] = mapped_column(String(60), index=True)
    source: Mapped[str] = mapped_column(String(60))
    event_id: Mapped[str] = mapped_column(String(80), unique=True)
    correlation_id: Mapped[str | None] = mapped_column(String(80), index=True)
    causation_id: Mapped[str | None] = mapped_column(String(80))
    symbol: Mapped[str | None] = mapped_column(String(40), index=True)
    agent_id: Mapped[str | None] = mapped_column(String(80))
    order_ref: Mapped[str | None] = mapped_column(String(80), index=True)
    decision_id: Mapped[str | None] = mapped_column(String(80), index=True)
    content: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditRefRow(Base):
    """A query reference of an entry that can have many (every voting agent of a decision)."""

    __tablename__ = "audit_refs"
    __table_args__ = (Index("ix_audit_refs_kind_value", "kind", "value"),)

    sequence: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(120), primary_key=True)


class AuditHeadRow(Base):
    """The chain's head: last sequence and hash. Its one row is the append lock."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    sequence: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
