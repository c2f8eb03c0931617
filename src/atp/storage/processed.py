"""Processed events: the table that makes a consumer's effect happen once per event.

A consumer claims `(consumer, event_id)` in the same transaction as its effect. A redelivered
event finds the claim and does nothing; a crash before the commit leaves neither the claim nor
the effect, so the redelivery does the work once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from atp.storage.models import ProcessedEventRow
from atp.storage.upsert import insert_if_absent


async def claim_event(
    session: AsyncSession, *, consumer: str, event_id: str, processed_at: datetime
) -> bool:
    """Marks `event_id` processed by `consumer`; False if it already was (skip the effect)."""
    return await insert_if_absent(
        session,
        ProcessedEventRow,
        {"consumer": consumer, "event_id": event_id, "processed_at": processed_at},
    )


async def was_processed(session: AsyncSession, *, consumer: str, event_id: str) -> bool:
    """True if `consumer` has committed the effect of `event_id`."""
    found = await session.scalar(
        select(ProcessedEventRow.event_id).where(
            ProcessedEventRow.consumer == consumer, ProcessedEventRow.event_id == event_id
        )
    )
    return found is not None
