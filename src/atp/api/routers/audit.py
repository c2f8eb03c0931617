"""HTTP routes of the audit trail: query entries, verify the chain, trace one order.

The routes read `request.app.state.audit_trail` (an `AuditTrail`); they never write. A filter
by an event type the audit trail never records is a 422 naming the known ones, not an empty page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from atp.bus.subjects import PAYLOAD_BY_SUBJECT
from atp.core.clock import ensure_utc
from atp.storage.audit_chain import AuditEntry
from atp.storage.audit_trail import MAX_PAGE, AuditQuery, AuditTrail, VerifyReport
from atp.storage.trace import OrderTrace, trace_order

router = APIRouter(prefix="/audit", tags=["audit"])

EVENT_TYPES: tuple[str, ...] = tuple(sorted(PAYLOAD_BY_SUBJECT))
"""The event types (subjects) the audit service records, so the ones `type` may name."""


class AuditEntryModel(BaseModel):
    """One entry of the hash chain, with the recorded event (secrets scrubbed)."""

    sequence: int
    recorded_at: datetime
    event_time: datetime
    kind: str = Field(description="The event type (subject) or control action.")
    source: str
    event_id: str
    correlation_id: str | None
    causation_id: str | None
    symbol: str | None
    agent_id: str | None
    order_ref: str | None
    decision_id: str | None
    event: dict[str, Any] = Field(description="The recorded envelope and payload.")
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryModel:
        """The model of a stored entry."""
        return cls(
            sequence=entry.sequence,
            recorded_at=entry.recorded_at,
            event_time=entry.event_time,
            kind=entry.kind,
            source=entry.source,
            event_id=entry.event_id,
            correlation_id=entry.correlation_id,
            causation_id=entry.causation_id,
            symbol=entry.symbol,
            agent_id=entry.agent_id,
            order_ref=entry.order_ref,
            decision_id=entry.decision_id,
            event=entry.document,
            prev_hash=entry.prev_hash,
            hash=entry.hash,
        )


class AuditPage(BaseModel):
    """A page of entries; pass `next_after` as `after` for the next page."""

    entries: list[AuditEntryModel]
    next_after: int | None


class ChainProblemModel(BaseModel):
    """Where the chain breaks and how."""

    sequence: int
    kind: str = Field(description="changed, removed or reordered")
    message: str


class VerifyModel(BaseModel):
    """The answer of a chain verification."""

    ok: bool
    entries_checked: int
    head_sequence: int
    head_hash: str
    problem: ChainProblemModel | None

    @classmethod
    def of(cls, report: VerifyReport) -> VerifyModel:
        """The model of a verification report."""
        problem = report.problem
        return cls(
            ok=report.ok,
            entries_checked=report.entries_checked,
            head_sequence=report.head_sequence,
            head_hash=report.head_hash,
            problem=(
                ChainProblemModel(
                    sequence=problem.sequence, kind=problem.kind, message=problem.message
                )
                if problem is not None
                else None
            ),
        )


class TraceStepModel(BaseModel):
    """One link of an order's causal chain."""

    stage: str = Field(
        description="signal, intent, vote, tally, risk_check, decision, violation, "
        "order_update or fill"
    )
    event_id: str
    sequence: int
    event_time: datetime
    summary: str
    detail: dict[str, Any]


class TraceModel(BaseModel):
    """The causal chain of one order, from the market signal to its last fill."""

    order_ref: str
    client_order_ids: list[str]
    steps: list[TraceStepModel]
    text: str

    @classmethod
    def of(cls, trace: OrderTrace) -> TraceModel:
        """The model of a trace."""
        return cls(
            order_ref=trace.order_ref,
            client_order_ids=list(trace.client_order_ids),
            steps=[
                TraceStepModel(
                    stage=s.stage,
                    event_id=s.event_id,
                    sequence=s.sequence,
                    event_time=s.event_time,
                    summary=s.summary,
                    detail=s.detail,
                )
                for s in trace.steps
            ],
            text=trace.render(),
        )


def _trail(request: Request) -> AuditTrail:
    trail: AuditTrail = request.app.state.audit_trail
    return trail


@router.get("/entries", response_model=AuditPage)
async def list_entries(
    request: Request,
    since: Annotated[
        datetime | None, Query(description="Event time from (inclusive, RFC 3339).")
    ] = None,
    until: Annotated[datetime | None, Query(description="Event time until (exclusive).")] = None,
    type: Annotated[
        str | None,
        Query(
            description="Event type, e.g. decisions.meta.",
            json_schema_extra={"enum": list(EVENT_TYPES)},
        ),
    ] = None,
    symbol: str | None = None,
    agent: str | None = None,
    order: Annotated[str | None, Query(description="Client order id or venue order id.")] = None,
    after: Annotated[int, Query(ge=0, description="Only entries after this sequence.")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> AuditPage:
    """Audit entries matching every given filter, in chain order."""
    if type is not None and type not in EVENT_TYPES:
        known = ", ".join(EVENT_TYPES)
        raise RequestValidationError(
            [
                {
                    "loc": ("query", "type"),
                    "msg": f"unknown event type {type!r}; expected one of {known}",
                    "type": "enum",
                }
            ]
        )
    entries = await _trail(request).query(
        AuditQuery(
            since=ensure_utc(since, field="since") if since else None,
            until=ensure_utc(until, field="until") if until else None,
            kind=type,
            symbol=symbol,
            agent=agent,
            order=order,
            after_sequence=after,
            limit=limit,
        )
    )
    next_after = entries[-1].sequence if len(entries) == limit else None
    return AuditPage(entries=[AuditEntryModel.of(e) for e in entries], next_after=next_after)


@router.get("/verify", response_model=VerifyModel)
async def verify(request: Request) -> VerifyModel:
    """Walks the whole chain; names the first entry that was changed, removed or reordered."""
    return VerifyModel.of(await _trail(request).verify())


@router.get("/trace/{order_ref}", response_model=TraceModel)
async def trace(request: Request, order_ref: str) -> TraceModel:
    """The causal chain of one order (by client order id or venue order id)."""
    return TraceModel.of(await trace_order(_trail(request), order_ref))
