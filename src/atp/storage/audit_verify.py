"""Verification of the audit chain: walk it from genesis and name the first entry that broke.

The walk reads the chain's head first and checks the entries up to it in batches, each batch in
its own short read transaction: a long chain never holds one transaction open for the whole
walk (which on PostgreSQL would hold back vacuum, and on SQLite checkpoints), and entries
appended while it runs are not mistaken for tampering. A last single statement compares the
current head with the highest stored sequence to catch rows added outside the head.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from atp.storage.audit_chain import GENESIS_HASH, AuditEntry
from atp.storage.database import Database
from atp.storage.models import AuditEntryRow, AuditHeadRow

VERIFY_BATCH = 2000

_COLUMNS = (
    AuditEntryRow.sequence,
    AuditEntryRow.recorded_at,
    AuditEntryRow.event_time,
    AuditEntryRow.kind,
    AuditEntryRow.source,
    AuditEntryRow.event_id,
    AuditEntryRow.correlation_id,
    AuditEntryRow.causation_id,
    AuditEntryRow.symbol,
    AuditEntryRow.agent_id,
    AuditEntryRow.order_ref,
    AuditEntryRow.decision_id,
    AuditEntryRow.content,
    AuditEntryRow.prev_hash,
    AuditEntryRow.hash,
)


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """The first place the chain does not hold: which entry, and how it was tampered with.

    `kind` is `changed` (its content no longer matches its hash), `removed` (it is missing) or
    `reordered` (it no longer follows the entry it was appended after).
    """

    sequence: int
    kind: str
    message: str


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The result of walking the whole chain (up to the head read when the walk began)."""

    ok: bool
    entries_checked: int
    head_sequence: int
    head_hash: str
    problem: ChainProblem | None


async def verify_chain(database: Database, *, batch_size: int = VERIFY_BATCH) -> VerifyReport:
    """Walks the chain of `database` from its start; names the first entry that does not hold."""
    async with database.session() as session:
        head = await session.execute(
            select(AuditHeadRow.sequence, AuditHeadRow.hash).where(AuditHeadRow.id == 1)
        )
        head_sequence, head_hash = head.one()
    expected, previous, checked, after = 1, GENESIS_HASH, 0, 0
    while after < head_sequence:
        async with database.session() as session:
            rows = (
                await session.execute(
                    select(*_COLUMNS)
                    .where(AuditEntryRow.sequence > after, AuditEntryRow.sequence <= head_sequence)
                    .order_by(AuditEntryRow.sequence)
                    .limit(batch_size)
                )
            ).all()
        if not rows:
            break
        for row in rows:
            entry = _entry(row._asdict())
            problem = await _check(database, entry, expected, previous)
            if problem is not None:
                return VerifyReport(False, checked, head_sequence, head_hash, problem)
            checked += 1
            expected, previous = entry.sequence + 1, entry.hash
        after = rows[-1].sequence
    problem = _check_head(head_sequence, head_hash, expected - 1, previous)
    if problem is None:
        problem = await _check_nothing_beyond_head(database)
    return VerifyReport(problem is None, checked, head_sequence, head_hash, problem)


def _entry(fields: Mapping[str, Any]) -> AuditEntry:
    # The selected columns are named as AuditEntry's fields.
    return AuditEntry(**fields)


async def _check(
    database: Database, entry: AuditEntry, expected: int, previous: str
) -> ChainProblem | None:
    if entry.sequence != expected:
        return ChainProblem(
            expected,
            "removed",
            f"entry {expected} is missing: the chain jumps from {expected - 1} to {entry.sequence}",
        )
    if entry.prev_hash != previous:
        async with database.session() as session:
            linked = await session.scalar(
                select(AuditEntryRow.sequence).where(AuditEntryRow.hash == entry.prev_hash)
            )
        if linked is not None:
            return ChainProblem(
                entry.sequence,
                "reordered",
                f"entry {entry.sequence} ({entry.kind} {entry.event_id}) was appended "
                f"after entry {linked}, but now follows entry {entry.sequence - 1}",
            )
        return ChainProblem(
            entry.sequence - 1,
            "changed",
            f"entry {entry.sequence - 1} was changed: its hash is no longer the one "
            f"entry {entry.sequence} was linked to",
        )
    if entry.computed_hash() != entry.hash:
        return ChainProblem(
            entry.sequence,
            "changed",
            f"entry {entry.sequence} ({entry.kind} {entry.event_id}) was changed: its "
            "content no longer matches its hash",
        )
    return None


def _check_head(
    head_sequence: int, head_hash: str, last_sequence: int, last_hash: str
) -> ChainProblem | None:
    if head_sequence > last_sequence:
        return ChainProblem(
            last_sequence + 1,
            "removed",
            f"entries {last_sequence + 1}..{head_sequence} are missing: the chain ends at "
            f"{last_sequence} but {head_sequence} were appended",
        )
    if head_hash != last_hash:
        return ChainProblem(
            last_sequence, "changed", f"entry {last_sequence} does not match the chain's head"
        )
    return None


async def _check_nothing_beyond_head(database: Database) -> ChainProblem | None:
    # One statement, so one snapshot on both databases: an append moves the head and adds its
    # entry in one transaction, so a legitimate append is never seen half done.
    last = select(func.max(AuditEntryRow.sequence)).scalar_subquery()
    async with database.session() as session:
        head_sequence, last_sequence = (
            await session.execute(select(AuditHeadRow.sequence, last).where(AuditHeadRow.id == 1))
        ).one()
    if last_sequence is not None and last_sequence > head_sequence:
        return ChainProblem(
            head_sequence + 1,
            "changed",
            f"entries {head_sequence + 1}..{last_sequence} were added outside the chain's head",
        )
    return None
