"""The audit consumer's effect: one transaction per event, exactly once per event id.

In that one transaction the recorder claims the event in `processed_events`, appends it to the
audit chain and writes its relational rows. A redelivered event finds its claim and changes
nothing; a crash before the commit leaves nothing behind, so the redelivery does it all once.
"""

from __future__ import annotations

from typing import Any

from atp.bus.codec import envelope_to_dict
from atp.core.clock import Clock
from atp.core.events import Envelope
from atp.storage.audit_chain import AuditEntry
from atp.storage.audit_trail import append_entry
from atp.storage.database import Database
from atp.storage.processed import claim_event
from atp.storage.records import record_event_in

AUDIT_CONSUMER = "audit"


class AuditRecorder:
    """Records every event it is handed into the audit chain and the relational tables."""

    def __init__(self, database: Database, clock: Clock, *, consumer: str = AUDIT_CONSUMER):
        self._database = database
        self._clock = clock
        self.consumer = consumer

    async def on_event(self, envelope: Envelope[Any]) -> AuditEntry | None:
        """Records `envelope` once; returns its new audit entry, or None if already recorded."""
        now = self._clock.now()
        async with self._database.session() as session:
            if not await claim_event(
                session, consumer=self.consumer, event_id=envelope.event_id, processed_at=now
            ):
                return None
            entry = await append_entry(session, envelope_to_dict(envelope), recorded_at=now)
            await record_event_in(session, envelope)
            return entry
