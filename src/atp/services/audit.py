"""The `audit` service: records every bus event in the audit chain and the relational tables.

It consumes every subject with durable consumers and writes, per event and in one transaction,
the processed-event claim, the audit entry and the event's rows, so a redelivery changes
nothing. Its HTTP control plane (port 8007 by default) queries and verifies the chain and
traces orders. Its `/metrics` count entries recorded by type, their lag, the chain's head and
the chain's verifications (`atp.services.audit_metrics`).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from sqlalchemy import text

from atp.api.app import create_app
from atp.api.routers.audit import router as audit_router
from atp.bus.subjects import PAYLOAD_BY_SUBJECT
from atp.core.clock import Clock, SystemClock
from atp.core.events import Envelope
from atp.core.ports import Bus
from atp.services.audit_metrics import AuditMetrics, MeteredAuditTrail
from atp.services.settings import AtpSettings
from atp.storage.audit_trail import AuditTrail
from atp.storage.database import Database, migrate
from atp.storage.recorder import AUDIT_CONSUMER, AuditRecorder
from atp.telemetry.metrics import BusMetrics, new_registry

log = logging.getLogger(__name__)


class AuditService:
    """The audit deployable: its consumers and its HTTP app."""

    name = "audit"

    def __init__(
        self,
        *,
        settings: AtpSettings,
        database: Database,
        recorder: AuditRecorder,
        trail: AuditTrail,
        bus: Bus | None,
        metrics: BusMetrics,
        audit_metrics: AuditMetrics,
        app: FastAPI,
    ) -> None:
        self.settings = settings
        self.database = database
        self.recorder = recorder
        self.trail = trail
        self.app = app
        self.port = settings.audit_port
        self._bus = bus
        self._owns_bus = bus is None
        self._metrics = metrics
        self._audit_metrics = audit_metrics

    async def start(self) -> None:
        """Migrates the database, connects the bus if none was given and subscribes."""
        await migrate(self.database.url)
        await self._audit_metrics.read_head(self.database)
        if self._bus is None:
            from atp.bus.nats import NatsBus

            self._bus = await NatsBus.connect(
                self.settings.effective_nats_url, client_name="audit", metrics=self._metrics
            )
        for subject in sorted(PAYLOAD_BY_SUBJECT):
            await self._bus.subscribe(subject, durable=AUDIT_CONSUMER, handler=self._on_event)

    async def _on_event(self, envelope: Envelope[Any]) -> None:
        entry = await self.recorder.on_event(envelope)
        self._audit_metrics.on_recorded(envelope, entry)

    async def stop(self) -> None:
        """Closes the bus (if this service opened it) and the database."""
        if self._owns_bus and self._bus is not None:
            await self._bus.close()
        await self.database.close()

    async def readiness(self) -> dict[str, bool]:
        """The database answers and the bus is connected."""
        try:
            async with self.database.session() as session:
                await session.execute(text("SELECT 1"))
            database_ok = True
        except Exception:
            log.warning("audit database is not reachable", exc_info=True)
            database_ok = False
        bus_ok = self._bus is not None and bool(getattr(self._bus, "is_connected", True))
        return {"database": database_ok, "bus": bus_ok}


async def bootstrap(
    settings: AtpSettings,
    *,
    bus: Bus | None = None,
    clock: Clock | None = None,
    database: Database | None = None,
) -> AuditService:
    """Builds the audit service on the configured database and NATS (or the ones given)."""
    registry = new_registry()
    metrics = BusMetrics(registry)
    audit_metrics = AuditMetrics(registry)
    database = database or Database(settings.effective_database_url)
    recorder = AuditRecorder(database, clock or SystemClock())
    trail = MeteredAuditTrail(database, audit_metrics)
    holder: dict[str, AuditService] = {}

    async def readiness() -> dict[str, bool]:
        return await holder["service"].readiness()

    app = create_app(
        service="audit",
        registry=registry,
        readiness=readiness,
        routers=[audit_router],
        state={"audit_trail": trail},
        api_token=settings.api_token_value,
        description="The tamper-evident audit trail: query, verify, trace an order.",
    )
    service = AuditService(
        settings=settings,
        database=database,
        recorder=recorder,
        trail=trail,
        bus=bus,
        metrics=metrics,
        audit_metrics=audit_metrics,
        app=app,
    )
    holder["service"] = service
    return service
