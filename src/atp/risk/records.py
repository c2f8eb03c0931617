"""Builders of the events the risk engine emits: violations, state changes, control records.

Ids are derived from what the event is about, so a redelivered cause yields the same event.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from atp.core.enums import TradingState
from atp.core.events import ControlAction, RiskCheck, RiskViolation, TradingStateChanged
from atp.core.ids import derive_id
from atp.core.proposals import OrderProposal
from atp.risk import rules
from atp.risk.context import money

SERVICE = "risk"
ENGINE_ACTOR = "risk-engine"  # the actor of changes the engine makes on its own
RESTORING = "risk_restoring"

RESTORING_CHECK = RiskCheck(
    rule=RESTORING,
    passed=False,
    message="risk engine is rebuilding its state after a start; nothing passes yet",
    limit=None,
    observed=None,
)


def order_violation(
    proposal: OrderProposal, check: RiskCheck, state: TradingState, now: datetime
) -> RiskViolation:
    """The violation a failed check of `proposal` publishes (id: proposal and rule)."""
    return RiskViolation(
        violation_id=derive_id("violation", proposal.proposal_id, check.rule),
        rule=check.rule,
        message=check.message,
        symbol=proposal.symbol,
        agent_id=proposal.agent_id,
        decision_id=proposal.decision_id,
        client_order_id=proposal.client_order_id,
        limit=check.limit,
        observed=check.observed,
        action_taken="order_refused",
        trading_state=state,
        occurred_at=now,
    )


def loss_violation(
    *,
    trading_day: date,
    day_start_pnl: Decimal,
    day_pnl: Decimal,
    limit: Decimal,
    action: TradingState,
    state: TradingState,
    now: datetime,
) -> RiskViolation:
    """The violation published when the day's loss reaches its limit (once per day start)."""
    return RiskViolation(
        violation_id=derive_id(
            "violation", rules.DAILY_LOSS, trading_day.isoformat(), format(day_start_pnl, "f")
        ),
        rule=rules.DAILY_LOSS,
        message=f"daily loss {money(-day_pnl)} reached limit {money(limit)}: trading "
        f"moves to {action.value}",
        symbol=None,
        agent_id=None,
        decision_id=None,
        client_order_id=None,
        limit=-limit,
        observed=day_pnl,
        action_taken=action.value,
        trading_state=state,
        occurred_at=now,
    )


def state_change(
    *,
    previous: TradingState,
    state: TradingState,
    kill_switch: bool,
    loss_breached: bool,
    reason: str,
    rule: str | None,
    actor: str,
    trading_day: date,
    sequence: int,
    now: datetime,
) -> TradingStateChanged:
    """A `risk.state` event."""
    return TradingStateChanged(
        change_id=derive_id("risk-state", now.isoformat(), str(sequence), reason),
        previous_state=previous,
        state=state,
        kill_switch=kill_switch,
        loss_breached=loss_breached,
        reason=reason,
        rule=rule,
        actor=actor,
        trading_day=trading_day.isoformat(),
        changed_at=now,
    )


def control_record(
    action: str, parameters: dict[str, Any], *, actor: str, sequence: int, now: datetime
) -> ControlAction:
    """A `control.actions` record of a change the risk engine made or was told to make."""
    return ControlAction(
        action_id=derive_id("risk-control", action, now.isoformat(), str(sequence)),
        service=SERVICE,
        action=action,
        parameters=parameters,
        actor=actor,
        occurred_at=now,
    )
