"""The audit trail on the database: append (serialised, once per event), query and verify.

Appends take the lock on the chain's head row first (a row lock on PostgreSQL, the database
write lock on SQLite), so two writers can never both extend the same head: the chain never
forks, whichever process or task appends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from atp.core.clock import ensure_utc
from atp.core.errors import InvariantViolation
from atp.storage.audit_chain import (
    AuditEntry,
    canonical_json,
    entry_hash,
    hashed_fields,
    refs_of,
    scrub,
)
from atp.storage.audit_verify import ChainProblem, VerifyReport, verify_chain
from atp.storage.database import Database
from atp.storage.models import AuditEntryRow, AuditHeadRow, AuditRefRow

__all__ = ["MAX_PAGE", "AuditQuery", "AuditTrail", "ChainProblem", "VerifyReport", "append_entry"]

MAX_PAGE = 1000


def _entry(row: AuditEntryRow) -> AuditEntry:
    return AuditEntry(
        sequence=row.sequence,
        recorded_at=row.recorded_at,
        event_time=row.event_time,
        kind=row.kind,
        source=row.source,
        event_id=row.event_id,
        correlation_id=row.correlation_id,
        causation_id=row.causation_id,
        symbol=row.symbol,
        agent_id=row.agent_id,
        order_ref=row.order_ref,
        decision_id=row.decision_id,
        content=row.content,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


async def append_entry(
    session: AsyncSession, document: Mapping[str, Any], *, recorded_at: datetime
) -> AuditEntry | None:
    """Appends the wire-form envelope `document` to the chain inside `session`'s transaction.

    Returns the new entry, or None when an entry for the same event id exists already (a
    redelivered or republished event adds nothing). Secrets are scrubbed before anything is
    stored or hashed.
    """
    # Taking the head's lock before reading anything is what serialises appenders.
    locked = await session.execute(
        update(AuditHeadRow).where(AuditHeadRow.id == 1).values(sequence=AuditHeadRow.sequence)
    )
    if getattr(locked, "rowcount", 1) != 1:
        raise InvariantViolation("audit_head has no row: the database was not migrated")
    event_id = str(document["event_id"])
    if await session.scalar(select(exists().where(AuditEntryRow.event_id == event_id))):
        return None
    head = (await session.execute(select(AuditHeadRow).where(AuditHeadRow.id == 1))).scalar_one()
    clean = scrub(dict(document))
    payload = clean.get("payload") if isinstance(clean.get("payload"), Mapping) else {}
    refs = refs_of(payload)
    entry_fields = AuditEntry(
        sequence=head.sequence + 1,
        recorded_at=ensure_utc(recorded_at),
        event_time=ensure_utc(datetime.fromisoformat(str(clean["event_time"]))),
        kind=str(clean["type"]),
        source=str(clean.get("source", "")),
        event_id=event_id,
        correlation_id=clean.get("correlation_id"),
        causation_id=clean.get("causation_id"),
        symbol=refs.symbol,
        agent_id=refs.agent_id,
        order_ref=refs.order_ref,
        decision_id=refs.decision_id,
        content=canonical_json(clean),
        prev_hash=head.hash,
        hash="",
    )
    digest = entry_hash(head.hash, hashed_fields(entry_fields))
    values = hashed_fields(entry_fields) | {
        "recorded_at": entry_fields.recorded_at,
        "event_time": entry_fields.event_time,
        "prev_hash": head.hash,
        "hash": digest,
    }
    session.add(AuditEntryRow(**values))
    session.add_all(
        AuditRefRow(sequence=entry_fields.sequence, kind=kind, value=value)
        for kind, value in refs.pairs()
    )
    head.sequence = entry_fields.sequence
    head.hash = digest
    await session.flush()
    return _entry_from_values(values)


def _entry_from_values(values: Mapping[str, Any]) -> AuditEntry:
    return AuditEntry(**{k: values[k] for k in AuditEntry.__dataclass_fields__})


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters of an audit query; every given filter must match. Times are event times."""

    since: datetime | None = None
    until: datetime | None = None
    kind: str | None = None
    symbol: str | None = None
    agent: str | None = None
    order: str | None = None
    correlation_id: str | None = None
    decision_id: str | None = None
    after_sequence: int = 0
    limit: int = 100


def _ref(kind: str, value: str) -> Any:
    return exists().where(
        AuditRefRow.sequence == AuditEntryRow.sequence,
        AuditRefRow.kind == kind,
        AuditRefRow.value == value,
    )


def _statement(query: AuditQuery) -> Select[AuditEntryRow]:
    statement = select(AuditEntryRow).where(AuditEntryRow.sequence > query.after_sequence)
    if query.since is not None:
        statement = statement.where(AuditEntryRow.event_time >= ensure_utc(query.since))
    if query.until is not None:
        statement = statement.where(AuditEntryRow.event_time < ensure_utc(query.until))
    if query.kind is not None:
        statement = statement.where(AuditEntryRow.kind == query.kind)
    if query.symbol is not None:
        statement = statement.where(_ref("symbol", query.symbol))
    if query.agent is not None:
        statement = statement.where(_ref("agent", query.agent))
    if query.order is not None:
        statement = statement.where(_ref("order", query.order))
    if query.correlation_id is not None:
        statement = statement.where(AuditEntryRow.correlation_id == query.correlation_id)
    if query.decision_id is not None:
        statement = statement.where(AuditEntryRow.decision_id == query.decision_id)
    limit = max(1, min(query.limit, MAX_PAGE))
    return statement.order_by(AuditEntryRow.sequence).limit(limit)


class AuditTrail:
    """Reads and verifies the audit chain of one database."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def query(self, query: AuditQuery) -> list[AuditEntry]:
        """Entries matching `query`, in chain order, at most `query.limit` (max 1000)."""
        async with self._database.session() as session:
            rows = (await session.scalars(_statement(query))).all()
            return [_entry(row) for row in rows]

    async def by_event_id(self, event_id: str) -> AuditEntry | None:
        """The entry recorded for `event_id`, if any."""
        async with self._database.session() as session:
            row = await session.scalar(
                select(AuditEntryRow).where(AuditEntryRow.event_id == event_id)
            )
            return _entry(row) if row is not None else None

    async def verify(self) -> VerifyReport:
        """Walks the chain from its start and names the first entry that does not hold.

        Streams the chain in batches, each its own short transaction (see `audit_verify`).
        """
        return await verify_chain(self._database)
