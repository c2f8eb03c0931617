"""`SqlIdempotencyStore`: the first answer to each `Idempotency-Key`, kept for ever."""

from __future__ import annotations

from sqlalchemy import select

from atp.brokers.ports import StoredResponse
from atp.core.errors import InvariantViolation
from atp.storage.database import Database
from atp.storage.models import IdempotencyKeyRow
from atp.storage.upsert import insert_if_absent


def _response(row: IdempotencyKeyRow) -> StoredResponse:
    return StoredResponse(
        key=row.key,
        request_fingerprint=row.request_fingerprint,
        status_code=row.status_code,
        body=row.body,
        created_at=row.created_at,
    )


class SqlIdempotencyStore:
    """An `IdempotencyStore` (see `atp.brokers.ports`) on the platform database."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def get(self, key: str) -> StoredResponse | None:
        """The answer stored under `key`, or None."""
        async with self._database.session() as session:
            row = await session.scalar(
                select(IdempotencyKeyRow).where(IdempotencyKeyRow.key == key)
            )
            return _response(row) if row is not None else None

    async def put_if_absent(self, response: StoredResponse) -> StoredResponse:
        """Stores `response` unless its key is taken; returns whichever answer is stored.

        Atomic across processes: the key is the primary key and the insert does nothing on a
        conflict, so of two concurrent callers one inserts and both read back its answer.
        """
        async with self._database.session() as session:
            await insert_if_absent(
                session,
                IdempotencyKeyRow,
                {
                    "key": response.key,
                    "request_fingerprint": response.request_fingerprint,
                    "status_code": response.status_code,
                    "body": response.body,
                    "created_at": response.created_at,
                },
            )
        stored = await self.get(response.key)
        if stored is None:
            raise InvariantViolation(f"idempotency key {response.key!r} vanished after insert")
        return stored
