"""The audit service on a bus: records what flows, answers /audit over HTTP and the CLI."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from atp.bus.memory import InMemoryBus
from atp.services.audit import AuditService, bootstrap
from atp.services.cli_audit import register, run_command
from atp.services.settings import AtpSettings

from .events import Story, story, violation


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="atp")
    register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


async def _run(settings: AtpSettings, *argv: str) -> int:
    args = _parse(*argv)
    return await run_command(args.audit_run, args, settings)


@dataclass
class Running:
    """The audit service after a story flowed through its bus."""

    service: AuditService
    settings: AtpSettings
    story: Story


@pytest.fixture
async def running(database_url: str, tmp_path: Path) -> Running:
    settings = AtpSettings(database_url=database_url, var_dir=tmp_path, audit_port=0)
    bus = InMemoryBus()
    audit = await bootstrap(settings, bus=bus)
    await audit.start()
    the_story = story("AAPL", 0)
    for event in [*the_story.all, violation()]:
        await bus.publish(event)
    return Running(audit, settings, the_story)


async def test_http_entries_verify_and_trace(running: Running) -> None:
    service, the_story = running.service, running.story
    transport = httpx.ASGITransport(app=service.app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://audit") as client:
            entries = (await client.get("/audit/entries", params={"type": "decisions.meta"})).json()
            by_agent = (await client.get("/audit/entries", params={"agent": "meanrev-1"})).json()
            verify = (await client.get("/audit/verify")).json()
            trace = (await client.get(f"/audit/trace/{the_story.client_order_id}")).json()
            missing = await client.get("/audit/trace/no-such-order")
            unknown_type = await client.get("/audit/entries", params={"type": "nope"})
            ready = await client.get("/readyz")
    finally:
        await service.stop()

    assert [e["decision_id"] for e in entries["entries"]] == [
        the_story.decision.payload.decision_id
    ]
    assert [e["kind"] for e in by_agent["entries"]] == ["decisions.order_intent", "decisions.meta"]
    assert verify["ok"] and verify["entries_checked"] == len(the_story.all) + 1
    stages = [s["stage"] for s in trace["steps"]]
    assert stages == (
        ["signal"]
        + ["intent"] * 3
        + ["vote"] * 3
        + ["tally"]
        + ["risk_check"] * 2
        + ["decision"]
        + ["order_update", "order_update", "fill", "order_update", "fill"]
    )
    assert "close 181.25" in trace["steps"][0]["summary"]
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    # An event type the audit never records is a mistake to report, not an empty page.
    assert unknown_type.status_code == 422
    error = unknown_type.json()
    assert error["code"] == "invalid_input"
    assert error["details"][0]["location"] == ["query", "type"]
    assert "'nope'" in error["message"] and "decisions.meta" in error["message"]
    assert ready.status_code == 200


async def test_cli_verify_catches_a_hand_edit_and_trace_prints_the_story(
    running: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    service, settings, the_story = running.service, running.settings, running.story
    try:
        assert await _run(settings, "audit", "verify") == 0
        assert await _run(settings, "audit", "trace", the_story.order_id) == 0
        trace_text = capsys.readouterr().out
        assert (
            await _run(settings, "audit", "query", "--symbol", "AAPL", "--type", "risk.violations")
            == 0
        )
        query_text = capsys.readouterr().out
        async with service.database.session() as session:
            await session.execute(
                text(
                    "UPDATE audit_entries SET content = replace(content, 'buy', 'sell') "
                    "WHERE kind = 'decisions.meta'"
                )
            )
        code = await _run(settings, "audit", "verify")
        verify_text = capsys.readouterr().out
    finally:
        await service.stop()

    assert "[signal]" in trace_text and "[fill]" in trace_text
    assert "agent sma-1 voted buy 10" in trace_text
    assert "passed position_cap" in trace_text
    assert len(query_text.strip().splitlines()) == 1 and "risk.violations" in query_text
    assert code == 1
    assert "BROKEN at entry 5 (changed)" in verify_text
