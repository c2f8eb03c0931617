"""The trace of one order: the causal chain from the market bar to the last fill.

Built from the audit trail alone (the entries carry the full events): the order's updates and
its decision are found by the order reference, the agents' intents and the market signal by
the decision's correlation id (everything one signal sets off shares it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from atp.core.errors import NotFound
from atp.storage.audit_chain import AuditEntry
from atp.storage.audit_trail import MAX_PAGE, AuditQuery, AuditTrail

SIGNAL = "signals.normalized"
INTENT = "decisions.order_intent"
DECISION = "decisions.meta"
VIOLATION = "risk.violations"
ORDER_UPDATE = "executions.order_update"

_STAGE_ORDER = (
    "signal",
    "intent",
    "vote",
    "tally",
    "risk_check",
    "decision",
    "violation",
    "order_update",
    "fill",
)
# Steps read from one entry stay together: a decision's votes, tally and checks, an update's fill.
_GROUP = {"vote": "decision", "tally": "decision", "risk_check": "decision", "fill": "order_update"}


@dataclass(frozen=True, slots=True)
class TraceStep:
    """One link of an order's story."""

    stage: str
    event_id: str
    sequence: int
    event_time: datetime
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OrderTrace:
    """The causal chain behind one order, from signal to fills, in causal order."""

    order_ref: str
    client_order_ids: tuple[str, ...]
    steps: tuple[TraceStep, ...]

    def render(self) -> str:
        """The trace as indented text, one line per step, for the CLI."""
        lines = [f"order {self.order_ref} (client order ids: {', '.join(self.client_order_ids)})"]
        for step in self.steps:
            indent = "    " if step.stage in {"vote", "tally", "risk_check", "fill"} else "  "
            lines.append(f"{indent}[{step.stage}] {step.event_time.isoformat()} {step.summary}")
        return "\n".join(lines)


async def trace_order(trail: AuditTrail, order_ref: str) -> OrderTrace:
    """Builds the trace of the order whose client order id or venue order id is `order_ref`."""
    entries = {
        e.event_id: e for e in await trail.query(AuditQuery(order=order_ref, limit=MAX_PAGE))
    }
    if not entries:
        raise NotFound(f"no recorded order {order_ref!r} in the audit trail")
    decision_ids = {e.decision_id for e in entries.values() if e.decision_id}
    for decision_id in decision_ids:
        for entry in await trail.query(AuditQuery(decision_id=decision_id, limit=MAX_PAGE)):
            entries.setdefault(entry.event_id, entry)
    decisions = [e for e in entries.values() if e.kind == DECISION]
    for decision in decisions:
        for entry in await _causes(trail, decision):
            entries.setdefault(entry.event_id, entry)
    steps: list[TraceStep] = []
    for entry in entries.values():
        steps.extend(_steps(entry))
    steps.sort(key=_causal_order)
    client_ids = sorted(
        {
            str(e.document["payload"]["client_order_id"])
            for e in entries.values()
            if e.kind in {ORDER_UPDATE, DECISION} and e.document["payload"].get("client_order_id")
        }
    )
    return OrderTrace(order_ref, tuple(client_ids), tuple(steps))


def _causal_order(step: TraceStep) -> tuple[int, datetime, int, int, str]:
    group = _STAGE_ORDER.index(_GROUP.get(step.stage, step.stage))
    return (group, step.event_time, step.sequence, _STAGE_ORDER.index(step.stage), step.summary)


async def _causes(trail: AuditTrail, decision: AuditEntry) -> list[AuditEntry]:
    payload = decision.document["payload"]
    found: list[AuditEntry] = []
    correlation = decision.correlation_id
    if correlation:
        signal = await trail.by_event_id(correlation)
        if signal is not None and signal.kind == SIGNAL:
            found.append(signal)
        intent_ids = {v.get("intent_id") for v in payload.get("votes", ()) if v.get("intent_id")}
        intents = await trail.query(
            AuditQuery(correlation_id=correlation, kind=INTENT, limit=MAX_PAGE)
        )
        found.extend(
            i
            for i in intents
            if i.document["payload"].get("intent_id") in intent_ids
            or (not intent_ids and i.symbol == decision.symbol)
        )
    return found


def _step(entry: AuditEntry, stage: str, summary: str, detail: dict[str, Any]) -> TraceStep:
    return TraceStep(stage, entry.event_id, entry.sequence, entry.event_time, summary, detail)


def _steps(entry: AuditEntry) -> list[TraceStep]:
    p: dict[str, Any] = entry.document["payload"]
    if entry.kind == SIGNAL:
        return [
            _step(
                entry,
                "signal",
                f"{p['symbol']} {p['timeframe']} bar at {p['timestamp']}: open {p['open']} "
                f"high {p['high']} low {p['low']} close {p['close']} volume {p['volume']} "
                f"({p['feed']})",
                p,
            )
        ]
    if entry.kind == INTENT:
        return [
            _step(
                entry,
                "intent",
                f"agent {p['agent_id']} ({p['strategy']}) wants {p['action']} {p['quantity']} "
                f"{p['symbol']} at {p['reference_price']}, confidence {p['confidence']}: "
                f"{p['reason']}",
                p,
            )
        ]
    if entry.kind == DECISION:
        return _decision_steps(entry, p)
    if entry.kind == VIOLATION:
        return [_step(entry, "violation", f"{p['rule']}: {p['message']} -> {p['action_taken']}", p)]
    if entry.kind == ORDER_UPDATE:
        return _order_steps(entry, p)
    return []


def _decision_steps(entry: AuditEntry, p: dict[str, Any]) -> list[TraceStep]:
    steps = [
        _step(
            entry,
            "vote",
            f"agent {v['agent_id']} voted {v['vote']} {v['quantity']} (confidence "
            f"{v['confidence']}, weight {v['weight']}): {v['reason']}",
            v,
        )
        for v in p.get("votes", ())
    ]
    t = p["tally"]
    steps.append(
        _step(
            entry,
            "tally",
            f"{p['voting_strategy']}: buy {t['buy']} sell {t['sell']} hold {t['hold']} abstain "
            f"{t['abstain']} of {t['voters']} voters (threshold {p['threshold']}, quorum "
            f"{p['quorum']})",
            t,
        )
    )
    steps.extend(
        _step(
            entry,
            "risk_check",
            f"{'passed' if c['passed'] else 'FAILED'} {c['rule']}: {c['message']}",
            c,
        )
        for c in p.get("risk_checks", ())
    )
    verdict = "approved" if p["approved"] else "not approved"
    steps.append(
        _step(
            entry,
            "decision",
            f"{verdict}: {p['action']} {p['quantity']} {p['symbol']} {p['order_type']} "
            f"-> client order {p.get('client_order_id')}: {p['explanation']}",
            p,
        )
    )
    return steps


def _order_steps(entry: AuditEntry, p: dict[str, Any]) -> list[TraceStep]:
    steps = [
        _step(
            entry,
            "order_update",
            f"#{p['sequence']} {p['venue']} order {p['order_id']} {p['side']} {p['quantity']} "
            f"{p['symbol']}: {p.get('previous_status')} -> {p['status']}, filled "
            f"{p['filled_quantity']}" + (f" ({p['reason']})" if p.get("reason") else ""),
            p,
        )
    ]
    fill = p.get("fill")
    if fill:
        steps.append(
            _step(
                entry,
                "fill",
                f"fill {fill['fill_id']}: {fill['quantity']} @ {fill['price']}, commission "
                f"{fill['commission']}",
                fill,
            )
        )
    return steps
