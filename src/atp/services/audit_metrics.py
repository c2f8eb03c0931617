"""The audit service's Prometheus metrics: entries recorded, lag, chain head, verifications.

Names follow `atp.telemetry.metrics`: `atp_audit_` prefix, seconds, `_total` on counters, and
labels of bounded cardinality only (an event type or a verification result, never an event id).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import select

from atp.core.events import Envelope
from atp.storage.audit_chain import AuditEntry
from atp.storage.audit_trail import AuditTrail, VerifyReport
from atp.storage.database import Database
from atp.storage.models import AuditHeadRow
from atp.telemetry.metrics import LAG_BUCKETS


class AuditMetrics:
    """What the audit service measures about the chain it keeps."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.recorded = Counter(
            "atp_audit_entries_recorded_total",
            "Events appended to the audit chain, by event type.",
            ["type"],
            registry=registry,
        )
        self.already_recorded = Counter(
            "atp_audit_events_already_recorded_total",
            "Events delivered again whose entry existed (nothing written), by event type.",
            ["type"],
            registry=registry,
        )
        self.lag = Histogram(
            "atp_audit_record_lag_seconds",
            "Time from an event's event_time to its entry in the chain.",
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self.head_sequence = Gauge(
            "atp_audit_head_sequence",
            "Sequence number of the last entry in the chain (read at start, then each append).",
            registry=registry,
        )
        self.last_recorded = Gauge(
            "atp_audit_last_recorded_timestamp_seconds",
            "Unix time of the last entry this service appended (0: none since its start).",
            registry=registry,
        )
        self.verifications = Counter(
            "atp_audit_chain_verifications_total",
            "Walks of the whole chain, by result: ok, or broken (an entry changed, removed or "
            "reordered).",
            ["result"],
            registry=registry,
        )
        for result in ("ok", "broken"):  # present at 0, so an alert on broken can fire at once
            self.verifications.labels(result)

    def on_recorded(self, envelope: Envelope[Any], entry: AuditEntry | None) -> None:
        """Counts the outcome of recording `envelope` (`entry` None: it was recorded before)."""
        if entry is None:
            self.already_recorded.labels(envelope.type).inc()
            return
        self.recorded.labels(entry.kind).inc()
        self.lag.observe(max(0.0, (entry.recorded_at - entry.event_time).total_seconds()))
        self.head_sequence.set(entry.sequence)
        self.last_recorded.set(entry.recorded_at.timestamp())

    def on_verified(self, report: VerifyReport) -> None:
        """Counts one verification of the chain."""
        self.verifications.labels("ok" if report.ok else "broken").inc()

    async def read_head(self, database: Database) -> None:
        """Sets the head's sequence from `database` (at start, before any append)."""
        async with database.session() as session:
            sequence = await session.scalar(
                select(AuditHeadRow.sequence).where(AuditHeadRow.id == 1)
            )
        self.head_sequence.set(sequence or 0)


class MeteredAuditTrail(AuditTrail):
    """The audit trail whose verifications are counted in `AuditMetrics`."""

    def __init__(self, database: Database, metrics: AuditMetrics) -> None:
        super().__init__(database)
        self._metrics = metrics

    async def verify(self) -> VerifyReport:
        """Walks the chain (see `AuditTrail.verify`) and counts the result."""
        report = await super().verify()
        self._metrics.on_verified(report)
        return report
