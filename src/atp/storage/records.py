"""The relational records of the bus's events: decisions and votes, violations, runs, actions.

`record_event_in` writes the rows one event implies, idempotently (insert-if-absent on each
natural key), inside the caller's transaction. Order updates go to the order store's tables.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from atp.bus.codec import to_wire
from atp.core.events import (
    BacktestResult,
    ControlAction,
    Envelope,
    MetaDecision,
    OrderUpdate,
    RiskViolation,
)
from atp.storage.audit_chain import canonical_json, scrub
from atp.storage.database import Database
from atp.storage.models import (
    BacktestRunRow,
    ControlActionRow,
    DecisionRow,
    RiskViolationRow,
    VoteRow,
)
from atp.storage.orders import save_update_in
from atp.storage.upsert import insert_if_absent


async def record_event_in(session: AsyncSession, envelope: Envelope[Any]) -> None:
    """Writes the rows `envelope` implies; events without a table (signals, intents) add none."""
    payload = envelope.payload
    if isinstance(payload, MetaDecision):
        await _decision(session, payload)
    elif isinstance(payload, RiskViolation):
        await _violation(session, payload)
    elif isinstance(payload, OrderUpdate):
        await save_update_in(session, payload)
    elif isinstance(payload, BacktestResult):
        await _backtest(session, payload)
    elif isinstance(payload, ControlAction):
        await _control_action(session, payload)


async def _decision(session: AsyncSession, decision: MetaDecision) -> None:
    inserted = await insert_if_absent(
        session,
        DecisionRow,
        {
            "decision_id": decision.decision_id,
            "symbol": decision.symbol,
            "signal_id": decision.signal_id,
            "action": decision.action.value,
            "quantity": decision.quantity,
            "order_type": decision.order_type.value,
            "limit_price": decision.limit_price,
            "reference_price": decision.reference_price,
            "voting_strategy": decision.voting_strategy,
            "parameters": canonical_json(scrub(to_wire(decision.parameters))),
            "tally": canonical_json(to_wire(decision.tally)),
            "threshold": decision.threshold,
            "quorum": decision.quorum,
            "explanation": decision.explanation,
            "risk_checks": canonical_json(to_wire(decision.risk_checks)),
            "approved": decision.approved,
            "trading_state": decision.trading_state.value,
            "client_order_id": decision.client_order_id,
            "decided_at": decision.decided_at,
        },
    )
    if not inserted:
        return
    # The decision row was new, so its votes are too: the primary key guards the rest.
    for vote in decision.votes:
        await insert_if_absent(
            session,
            VoteRow,
            {
                "decision_id": decision.decision_id,
                "agent_id": vote.agent_id,
                "vote": vote.vote,
                "quantity": vote.quantity,
                "confidence": vote.confidence,
                "weight": vote.weight,
                "intent_id": vote.intent_id,
                "reason": vote.reason,
            },
        )


async def _violation(session: AsyncSession, violation: RiskViolation) -> None:
    await insert_if_absent(
        session,
        RiskViolationRow,
        {
            "violation_id": violation.violation_id,
            "rule": violation.rule,
            "message": violation.message,
            "symbol": violation.symbol,
            "agent_id": violation.agent_id,
            "decision_id": violation.decision_id,
            "client_order_id": violation.client_order_id,
            "limit": violation.limit,
            "observed": violation.observed,
            "action_taken": violation.action_taken,
            "trading_state": violation.trading_state.value,
            "occurred_at": violation.occurred_at,
        },
    )


async def _backtest(session: AsyncSession, result: BacktestResult) -> None:
    await insert_if_absent(
        session,
        BacktestRunRow,
        {
            "run_id": result.run_id,
            "status": result.status,
            "symbols": canonical_json(list(result.symbols)),
            "strategies": canonical_json(list(result.strategies)),
            "voting_strategy": result.voting_strategy,
            "start_date": result.start_date,
            "end_date": result.end_date,
            "initial_balance": result.initial_balance,
            "final_equity": result.final_equity,
            "metrics": canonical_json(to_wire(result.metrics)),
            "num_trades": result.num_trades,
            "seed": result.seed,
            "error": result.error,
            "started_at": result.started_at,
            "finished_at": result.finished_at,
        },
    )


async def _control_action(session: AsyncSession, action: ControlAction) -> None:
    await insert_if_absent(
        session,
        ControlActionRow,
        {
            "action_id": action.action_id,
            "service": action.service,
            "action": action.action,
            "parameters": canonical_json(scrub(to_wire(action.parameters))),
            "actor": action.actor,
            "occurred_at": action.occurred_at,
        },
    )


class Records:
    """Reads the relational records (decisions with votes, violations, runs, actions)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def decision(self, decision_id: str) -> tuple[DecisionRow, list[VoteRow]] | None:
        """A decision and its votes (ordered by agent), or None."""
        async with self._database.session() as session:
            row = await session.get(DecisionRow, decision_id)
            if row is None:
                return None
            votes = (
                await session.scalars(
                    select(VoteRow)
                    .where(VoteRow.decision_id == decision_id)
                    .order_by(VoteRow.agent_id)
                )
            ).all()
            return row, list(votes)

    async def violations(self, *, symbol: str | None = None) -> list[RiskViolationRow]:
        """Risk violations, oldest first, optionally for one symbol."""
        statement = select(RiskViolationRow).order_by(
            RiskViolationRow.occurred_at, RiskViolationRow.violation_id
        )
        if symbol is not None:
            statement = statement.where(RiskViolationRow.symbol == symbol)
        async with self._database.session() as session:
            return list((await session.scalars(statement)).all())

    async def backtest_run(self, run_id: str) -> BacktestRunRow | None:
        """One backtest run's stored results, or None."""
        async with self._database.session() as session:
            return await session.get(BacktestRunRow, run_id)

    async def control_actions(self) -> list[ControlActionRow]:
        """Every recorded control-plane action, oldest first."""
        statement = select(ControlActionRow).order_by(
            ControlActionRow.occurred_at, ControlActionRow.action_id
        )
        async with self._database.session() as session:
            return list((await session.scalars(statement)).all())
