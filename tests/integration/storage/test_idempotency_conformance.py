"""Conformance: the audit consumer and the order store have one effect per event, whatever
the delivery pattern: twice, replayed, or redelivered after a crash (in process or kill -9)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from atp.core.clock import SystemClock
from atp.core.events import Envelope
from atp.storage.audit_trail import AuditTrail
from atp.storage.database import Database, migrate
from atp.storage.orders import SqlOrderStore
from atp.storage.recorder import AuditRecorder

from .conformance import Consumer, deliver_once, deliver_twice, redeliver_after_crash
from .events import control_action, story, violation

TABLES = (
    "audit_entries",
    "audit_refs",
    "processed_events",
    "orders",
    "order_events",
    "fills",
    "positions",
    "decisions",
    "decision_votes",
    "risk_violations",
    "control_actions",
)
WRITER = Path(__file__).resolve().parent / "writer_process.py"


def _events() -> list[Envelope[Any]]:
    return story("AAPL", 0).all + story("MSFT", 1).all + [violation(), control_action()]


async def _counts(database: Database) -> Mapping[str, int]:
    counts: dict[str, int] = {}
    async with database.session() as session:
        for table in TABLES:
            counts[table] = int(await session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
    report = await AuditTrail(database).verify()
    counts["chain_ok"] = int(report.ok)
    return counts


def _audit_consumer(database: Database) -> Consumer:
    recorder = AuditRecorder(database, SystemClock())
    return Consumer("audit", recorder.on_event, lambda: _counts(database))


def _order_store_consumer(database: Database) -> Consumer:
    store = SqlOrderStore(database)

    async def handler(event: Envelope[Any]) -> object:
        return await store.save_update(event.payload)

    return Consumer("order-store", handler, lambda: _counts(database))


async def _fresh(url: str) -> Database:
    await migrate(url)
    return Database(url)


@pytest.fixture
def second_url(database_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A second empty database on the same backend, for the single-delivery expectation."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'expected.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


async def _expected(url: str, make: Any, events: list[Envelope[Any]]) -> Mapping[str, int]:
    database = await _fresh(url)
    try:
        return await deliver_once(make(database), events)
    finally:
        await database.close()


async def test_audit_consumer_twice_delivered_events_have_one_effect(
    database: Database, second_url: str
) -> None:
    events = _events()
    expected = await _expected(second_url, _audit_consumer, events)

    found = await deliver_twice(_audit_consumer(database), events)

    assert found == expected
    assert found["audit_entries"] == len(events) and found["chain_ok"] == 1


async def test_audit_consumer_redelivery_after_crash_has_one_effect(
    database: Database, second_url: str
) -> None:
    events = _events()
    expected = await _expected(second_url, _audit_consumer, events)

    async def restart() -> Consumer:
        await database.close()
        return _audit_consumer(Database(database.url))

    found = await redeliver_after_crash(
        _audit_consumer(database), events, crash_after=7, restart=restart
    )

    assert found == expected


async def test_order_store_redelivered_updates_book_each_fill_once(
    database: Database, second_url: str
) -> None:
    updates = [e for s in (story("AAPL", 0), story("MSFT", 1)) for e in s.updates]
    expected = await _expected(second_url, _order_store_consumer, updates)

    twice = await deliver_twice(_order_store_consumer(database), updates)

    assert twice == expected
    assert (twice["fills"], twice["orders"], twice["order_events"]) == (4, 2, 6)


async def _run_writer_until_killed(url: str, acks_before_kill: int) -> list[str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(WRITER), url, "0", "3", stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    acked: list[str] = []
    try:
        while len(acked) < acks_before_kill:
            line = (await process.stdout.readline()).decode().strip()
            assert line, "the writer exited before acknowledging"
            acked.append(line.removeprefix("acked "))
    finally:
        os.kill(process.pid, signal.SIGKILL)
        await process.wait()
    return acked


async def test_acknowledged_writes_survive_kill_9(database_url: str) -> None:
    acked = await _run_writer_until_killed(database_url, acks_before_kill=11)

    database = Database(database_url)
    try:
        trail = AuditTrail(database)
        kept = [await trail.by_event_id(event_id) for event_id in acked]
        report = await trail.verify()
    finally:
        await database.close()

    assert all(entry is not None for entry in kept)
    assert report.ok, report.problem


async def test_redelivery_after_kill_9_completes_with_one_effect(
    database_url: str, second_url: str
) -> None:
    events = [e for day in range(3) for e in story("AAPL", day).all]
    expected = await _expected(second_url, _audit_consumer, events)
    acked = await _run_writer_until_killed(database_url, acks_before_kill=8)

    # The bus redelivers from the first unacknowledged event (and maybe some acked ones).
    database = Database(database_url)
    try:
        consumer = _audit_consumer(database)
        for event in events[len(acked) - 2 :]:
            await consumer.handler(event)
        found = await consumer.effects()
    finally:
        await database.close()

    assert found == expected
