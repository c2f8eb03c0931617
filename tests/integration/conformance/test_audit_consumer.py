"""The audit service on a real nats-server: every event delivered twice, and redelivered after
the service died between its commit and its ack, is one audit entry and one set of rows; then
`atp audit trace` prints the order's whole story and `atp audit verify` catches a hand edit."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from sqlalchemy import text
from tests.integration.storage.events import story

from atp.services.audit import bootstrap
from atp.services.embedded_nats import EmbeddedNats
from atp.services.settings import AtpSettings
from atp.storage.database import Database

from .crash import DyingBus, connect, eventually, twice

ATP = Path(sys.executable).with_name("atp")
TABLES = ("audit_entries", "processed_events", "orders", "order_events", "fills", "decisions")


async def _counts(url: str) -> dict[str, int]:
    database = Database(url)
    try:
        async with database.session() as session:
            return {
                table: int(await session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
                for table in TABLES
            }
    finally:
        await database.close()


async def _atp(url: str, *args: str) -> tuple[int, str]:
    env = {**os.environ, "ATP_DATABASE_URL": url}
    process = await asyncio.create_subprocess_exec(
        str(ATP), "audit", *args, env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode()


async def test_audit_twice_and_after_a_crash_then_trace_and_verify_from_the_cli(
    fresh_nats_server: EmbeddedNats, database_url: str, tmp_path: Path
) -> None:
    the_story = story("AAPL", 0)
    events = the_story.all
    settings = AtpSettings(database_url=database_url, var_dir=tmp_path, audit_port=0)
    first = DyingBus(await connect(fresh_nats_server.url, "audit-1"), {the_story.decision.event_id})
    audit = await bootstrap(settings, bus=first)
    await audit.start()
    publisher = await connect(fresh_nats_server.url, "publisher")
    try:
        for event in events:
            await twice(publisher, event)
        await asyncio.wait_for(first.died.wait(), 30)
        await first.kill()
        await audit.stop()

        second = await connect(fresh_nats_server.url, "audit-2")
        restarted = await bootstrap(settings, bus=second)
        await restarted.start()
        try:

            async def all_recorded() -> bool:
                return (await _counts(database_url))["audit_entries"] >= len(events)

            await eventually(all_recorded, what="every event recorded")
            # One more round trip: anything still in flight lands before counting.
            await twice(publisher, events[-1])
            await eventually(all_recorded, what="the last event again")
            counts = await _counts(database_url)
            verify = await restarted.trail.verify()
        finally:
            await restarted.stop()
            await second.close()
    finally:
        await publisher.close()

    assert counts == {
        "audit_entries": len(events),
        "processed_events": len(events),
        "orders": 1,
        "order_events": 3,
        "fills": 2,
        "decisions": 1,
    }
    assert verify.ok and verify.entries_checked == len(events)

    code, trace = await _atp(database_url, "trace", the_story.order_id)
    assert code == 0
    stages = [line.split("]")[0].strip(" [") for line in trace.splitlines() if "[" in line]
    assert stages.count("signal") == 1 and stages.count("intent") == 3
    assert stages.count("decision") == 1 and stages.count("fill") == 2
    assert "agent sma-1 voted buy 10" in trace and "passed position_cap" in trace

    code, ok = await _atp(database_url, "verify")
    assert (code, ok.split(":")[0]) == (0, "ok")

    database = Database(database_url)
    try:
        async with database.session() as session:
            await session.execute(
                text("UPDATE audit_entries SET content = replace(content, '181.40', '171.40')")
            )
    finally:
        await database.close()
    code, broken = await _atp(database_url, "verify")
    assert code == 1
    # Redelivery after the crash decides where each event sits in the chain; the edited one is
    # the only event carrying 181.40 (the last fill), and verify names it.
    assert broken.startswith("BROKEN at entry") and "(changed)" in broken
    assert the_story.updates[-1].event_id in broken
