"""The audit service's /metrics: entries by type, their lag, the chain's head, verifications."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from atp.bus.memory import InMemoryBus
from atp.core.clock import SimulatedClock
from atp.services.audit import AuditService, bootstrap
from atp.services.settings import AtpSettings

from .events import T0, story, violation

NOW = T0 + timedelta(minutes=5)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _samples(page: str) -> Samples:
    """Every sample of a Prometheus text page, parsed as Prometheus parses it."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(page)
        for sample in family.samples
    }


def _by_label(samples: Samples, name: str, label: str) -> dict[str, float]:
    return {dict(labels)[label]: value for (n, labels), value in samples.items() if n == name}


async def _started(settings: AtpSettings, bus: InMemoryBus) -> AuditService:
    service = await bootstrap(settings, bus=bus, clock=SimulatedClock(NOW))
    await service.start()
    return service


async def test_audit_metrics_count_entries_lag_head_and_a_broken_chain(
    database_url: str, tmp_path: Path
) -> None:
    settings = AtpSettings(database_url=database_url, var_dir=tmp_path, audit_port=0)
    events = [*story("AAPL", 0).all, violation()]
    bus = InMemoryBus()
    service = await _started(settings, bus)
    try:
        for event in events:
            await bus.publish(event)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=service.app), base_url="http://audit"
        ) as client:
            sound = (await client.get("/audit/verify")).json()
            async with service.database.session() as session:
                await session.execute(
                    text("UPDATE audit_entries SET content = content || ' ' WHERE sequence = 3")
                )
            broken = (await client.get("/audit/verify")).json()
            first = _samples((await client.get("/metrics")).text)
    finally:
        await service.stop()

    # Restarted on the same database: the head is read back, and an event delivered again
    # (its acknowledgement lost) writes nothing and is counted as such.
    bus = InMemoryBus()
    again = await _started(settings, bus)
    try:
        await bus.publish(events[0])
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=again.app), base_url="http://audit"
        ) as client:
            second = _samples((await client.get("/metrics")).text)
    finally:
        await again.stop()

    assert sound["ok"] and not broken["ok"] and broken["problem"]["sequence"] == 3
    by_type = Counter(e.type for e in events)
    assert _by_label(first, "atp_audit_entries_recorded_total", "type") == by_type
    assert first[("atp_audit_head_sequence", ())] == len(events)
    assert first[("atp_audit_last_recorded_timestamp_seconds", ())] == NOW.timestamp()
    lags = [max(0.0, (NOW - e.event_time).total_seconds()) for e in events]
    assert first[("atp_audit_record_lag_seconds_count", ())] == len(events)
    assert first[("atp_audit_record_lag_seconds_sum", ())] == sum(lags)
    results = _by_label(first, "atp_audit_chain_verifications_total", "result")
    assert results == {"ok": 1, "broken": 1}

    assert second[("atp_audit_head_sequence", ())] == len(events)
    assert _by_label(second, "atp_audit_entries_recorded_total", "type") == {}
    assert _by_label(second, "atp_audit_events_already_recorded_total", "type") == {
        events[0].type: 1
    }
    assert second[("atp_audit_last_recorded_timestamp_seconds", ())] == 0
