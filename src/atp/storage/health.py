"""Whether a database answers, for the services' readiness checks."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text

from atp.storage.database import Database

log = logging.getLogger(__name__)

PING_TIMEOUT_SECONDS = 2.0


async def database_answers(database: Database, *, timeout: float = PING_TIMEOUT_SECONDS) -> bool:  # noqa: ASYNC109
    """True if `database` runs a `SELECT 1` within `timeout` seconds; never raises."""
    try:
        async with asyncio.timeout(timeout), database.session() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:
        log.warning("database %s does not answer: %r", database.engine.url.render_as_string(), exc)
        return False
    return True
