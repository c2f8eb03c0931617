"""The audit chain on SQLite and PostgreSQL: verifies, and catches hand edits, deletes, swaps."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text

from atp.core.clock import SystemClock
from atp.core.events import Envelope
from atp.storage.audit_trail import AuditQuery, AuditTrail
from atp.storage.audit_verify import verify_chain
from atp.storage.database import Database
from atp.storage.recorder import AuditRecorder

from .events import control_action, story, violation


async def _record(database: Database, events: list[Envelope[Any]]) -> AuditTrail:
    recorder = AuditRecorder(database, SystemClock())
    for event in events:
        await recorder.on_event(event)
    return AuditTrail(database)


async def _sql(database: Database, *statements: str) -> None:
    async with database.session() as session:
        for statement in statements:
            await session.execute(text(statement))


async def test_untouched_chain_verifies(database: Database) -> None:
    events = [*story().all, violation(), control_action()]
    trail = await _record(database, events)

    report = await trail.verify()

    assert report.ok, report.problem
    assert report.entries_checked == len(events) == report.head_sequence


async def test_row_edited_by_hand_is_named_as_changed(database: Database) -> None:
    trail = await _record(database, story().all)

    await _sql(
        database,
        "UPDATE audit_entries SET content = replace(content, '181.25', '191.25') "
        "WHERE sequence = 1",
    )
    report = await trail.verify()

    assert not report.ok
    assert report.problem is not None
    assert (report.problem.sequence, report.problem.kind) == (1, "changed")


async def test_edited_reference_column_is_caught(database: Database) -> None:
    trail = await _record(database, story().all)

    await _sql(database, "UPDATE audit_entries SET symbol = 'MSFT' WHERE sequence = 3")
    report = await trail.verify()

    assert report.problem is not None
    assert (report.problem.sequence, report.problem.kind) == (3, "changed")


async def test_deleted_row_is_named_as_removed(database: Database) -> None:
    trail = await _record(database, story().all)

    await _sql(database, "DELETE FROM audit_entries WHERE sequence = 4")
    report = await trail.verify()

    assert report.problem is not None
    assert (report.problem.sequence, report.problem.kind) == (4, "removed")


async def test_deleted_last_row_is_named_as_removed(database: Database) -> None:
    events = story().all
    trail = await _record(database, events)

    await _sql(database, f"DELETE FROM audit_entries WHERE sequence = {len(events)}")
    report = await trail.verify()

    assert report.problem is not None
    assert (report.problem.sequence, report.problem.kind) == (len(events), "removed")


async def test_two_swapped_rows_are_named_as_reordered(database: Database) -> None:
    trail = await _record(database, story().all)

    await _sql(
        database,
        "UPDATE audit_entries SET sequence = -1 WHERE sequence = 2",
        "UPDATE audit_entries SET sequence = 2 WHERE sequence = 3",
        "UPDATE audit_entries SET sequence = 3 WHERE sequence = -1",
    )
    report = await trail.verify()

    assert report.problem is not None
    assert (report.problem.sequence, report.problem.kind) == (2, "reordered")


async def test_a_redelivered_event_adds_no_entry_and_no_row(database: Database) -> None:
    the_story = story()
    await _record(database, the_story.all)
    trail = await _record(database, the_story.all)

    entries = await trail.query(AuditQuery(limit=1000))
    async with database.session() as session:
        fills = await session.scalar(text("SELECT count(*) FROM fills"))
        decisions = await session.scalar(text("SELECT count(*) FROM decisions"))
        votes = await session.scalar(text("SELECT count(*) FROM decision_votes"))

    assert len(entries) == len(the_story.all)
    assert (fills, decisions, votes) == (2, 1, 3)
    assert (await trail.verify()).ok


async def test_concurrent_appenders_never_fork_the_chain(database: Database) -> None:
    other = Database(database.url)
    try:
        stories = [story(symbol, day) for symbol in ("AAPL", "MSFT") for day in range(3)]
        recorders = [AuditRecorder(db, SystemClock()) for db in (database, other)]
        await asyncio.gather(
            *(
                recorders[i % 2].on_event(event)
                for i, event in enumerate(e for s in stories for e in s.all)
            )
        )
        report = await AuditTrail(database).verify()
    finally:
        await other.close()

    assert report.ok, report.problem
    assert report.entries_checked == sum(len(s.all) for s in stories)


async def test_query_by_type_symbol_agent_order_and_time(database: Database) -> None:
    aapl, msft = story("AAPL", 0), story("MSFT", 1)
    trail = await _record(database, aapl.all + msft.all + [violation("MSFT")])

    by_type = await trail.query(AuditQuery(kind="decisions.meta"))
    by_symbol = await trail.query(AuditQuery(symbol="MSFT"))
    by_agent = await trail.query(AuditQuery(agent="sma-1", symbol="AAPL"))
    by_order = await trail.query(AuditQuery(order=aapl.order_id))
    by_time = await trail.query(AuditQuery(since=msft.signal.event_time))

    assert [e.symbol for e in by_type] == ["AAPL", "MSFT"]
    assert {e.symbol for e in by_symbol} == {"MSFT"} and len(by_symbol) == len(msft.all) + 1
    # The agent's own intent and the decision it voted in.
    assert [e.kind for e in by_agent] == ["decisions.order_intent", "decisions.meta"]
    assert [e.kind for e in by_order] == ["executions.order_update"] * 3
    assert all(e.event_time >= msft.signal.event_time for e in by_time)
    assert {e.event_id for e in by_time} >= {e.event_id for e in msft.all}


async def test_secrets_never_reach_the_trail(database: Database) -> None:
    trail = await _record(database, [story().decision, control_action()])

    rows: list[str] = []
    async with database.session() as session:
        for table in ("audit_entries", "decisions", "control_actions"):
            rows += [str(row) for row in (await session.execute(text(f"SELECT * FROM {table}")))]
    dump = " ".join(rows)

    assert "s3cret-token" not in dump
    assert "top-secret-value" not in dump
    assert "sha256:" in dump
    assert (await trail.verify()).ok


async def test_verify_in_small_batches_names_an_edit_beyond_the_first_batch(
    database: Database,
) -> None:
    await _record(database, story("AAPL", 0).all + story("MSFT", 1).all)

    await _sql(database, "UPDATE audit_entries SET source = 'forged' WHERE sequence = 14")
    report = await verify_chain(database, batch_size=3)

    assert report.problem is not None
    assert (report.problem.sequence, report.problem.kind) == (14, "changed")
    assert report.entries_checked == 13


async def test_entries_appended_while_verifying_are_not_taken_for_tampering(
    database: Database,
) -> None:
    await _record(database, story("AAPL", 0).all)
    later = [e for day in range(1, 4) for e in story("MSFT", day).all]
    recorder = AuditRecorder(database, SystemClock())

    async def append_later() -> None:
        for event in later:
            await recorder.on_event(event)

    reports = await asyncio.gather(
        verify_chain(database, batch_size=2), append_later(), verify_chain(database, batch_size=1)
    )

    assert reports[0] is not None and reports[0].ok, reports[0].problem
    assert reports[2] is not None and reports[2].ok, reports[2].problem
    final = await verify_chain(database, batch_size=5)
    assert final.ok and final.entries_checked == len(story().all) + len(later)


async def test_a_row_added_past_the_head_is_caught(database: Database) -> None:
    events = story().all
    await _record(database, events)

    await _sql(
        database,
        "INSERT INTO audit_entries (sequence, recorded_at, event_time, kind, source, event_id, "
        "correlation_id, causation_id, symbol, agent_id, order_ref, decision_id, content, "
        "prev_hash, hash) SELECT sequence + 1, recorded_at, event_time, kind, source, "
        "'forged-event', correlation_id, causation_id, symbol, agent_id, order_ref, "
        # A forged hash that differs from the copied one in its first character, whatever it is.
        "decision_id, content, hash, "
        "CASE WHEN substr(hash, 1, 1) = 'f' THEN 'e' ELSE 'f' END || substr(hash, 2) "
        "FROM audit_entries "
        f"WHERE sequence = {len(events)}",
    )
    report = await verify_chain(database)

    assert report.problem is not None
    assert (report.problem.sequence, report.problem.kind) == (len(events) + 1, "changed")
