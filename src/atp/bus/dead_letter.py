"""Dead-letter records: a message we could not handle, kept with the reason why."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that failed decoding, validation or its handler, and why."""

    subject: str
    consumer: str
    reason_kind: str
    reason: str
    data: bytes
    deliveries: int
    failed_at: datetime

    def to_bytes(self) -> bytes:
        """The JSON record published on `dlq.<subject>`."""
        try:
            text, encoding = self.data.decode(), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(self.data).decode(), "base64"
        record = {
            "subject": self.subject,
            "consumer": self.consumer,
            "reason_kind": self.reason_kind,
            "reason": self.reason,
            "deliveries": self.deliveries,
            "failed_at": self.failed_at.isoformat(),
            "data": text,
            "data_encoding": encoding,
        }
        return json.dumps(record, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> DeadLetter:
        """Parses a record published by `to_bytes`."""
        record = json.loads(raw)
        data = (
            base64.b64decode(record["data"])
            if record["data_encoding"] == "base64"
            else record["data"].encode()
        )
        return cls(
            subject=record["subject"],
            consumer=record["consumer"],
            reason_kind=record["reason_kind"],
            reason=record["reason"],
            data=data,
            deliveries=record["deliveries"],
            failed_at=datetime.fromisoformat(record["failed_at"]),
        )


INVALID = "invalid"
HANDLER_FAILED = "handler_failed"
