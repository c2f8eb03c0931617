"""An in-memory bus behind the same port as NATS, for unit tests and in-process runs.

It keeps the NATS bus's promises: an event id is stored once, delivery is at least once per
durable consumer, a handler that raises gets the event again up to `max_deliver` times and then
the event is dead-lettered. Events are delivered in publish order; an event published by a
handler is queued behind the current one, so runs are deterministic.
"""

from __future__ import annotations

import logging
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from atp.bus import codec
from atp.bus.dead_letter import HANDLER_FAILED, INVALID, DeadLetter
from atp.core.clock import Clock, SystemClock
from atp.core.errors import VenueUnavailable
from atp.core.events import Envelope
from atp.core.ports import EventHandler, RequestHandler
from atp.telemetry.metrics import BusMetrics, new_registry

log = logging.getLogger(__name__)


@dataclass
class _Consumer:
    subject: str
    durable: str
    handler: EventHandler
    position: int = 0


@dataclass
class _Log:
    events: list[Envelope[Any]] = field(default_factory=list)


class InMemoryBus:
    """A deterministic, single-process implementation of the `Bus` port."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        metrics: BusMetrics | None = None,
        round_trip: bool = True,
        max_deliver: int = 3,
        dedupe_window: int = 100_000,
        retain: bool = True,
    ) -> None:
        """Creates the bus.

        Args:
            round_trip: encode and decode every event through the wire codec, so schemas are
                enforced exactly as on NATS. Backtests switch it off for speed.
            max_deliver: deliveries of one event to one consumer before it is dead-lettered.
            dedupe_window: how many recent event ids are remembered to drop republished ones.
            retain: keep every event so that late subscribers can replay history.
        """
        self._clock = clock or SystemClock()
        self._metrics = metrics or BusMetrics(new_registry())
        self._round_trip = round_trip
        self._max_deliver = max_deliver
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._dedupe_window = dedupe_window
        self._retain = retain
        self._logs: dict[str, _Log] = {}
        self._consumers: dict[tuple[str, str], _Consumer] = {}
        self._queue: deque[tuple[_Consumer, Envelope[Any], bytes | None]] = deque()
        self._dispatching = False
        self.dead_letters: list[DeadLetter] = []
        self._responders: dict[str, RequestHandler] = {}

    async def publish(self, envelope: Envelope[Any]) -> None:
        """Stores the event once per event id and delivers it to every consumer of its subject."""
        if envelope.event_id in self._seen:
            self._metrics.duplicates.labels(envelope.type).inc()
            return
        self._seen[envelope.event_id] = None
        if len(self._seen) > self._dedupe_window:
            self._seen.popitem(last=False)
        raw = codec.encode(envelope) if self._round_trip else None
        self._metrics.published.labels(envelope.type).inc()
        subject_log = self._logs.setdefault(envelope.type, _Log())
        if self._retain:
            subject_log.events.append(envelope)
        for consumer in self._consumers.values():
            if consumer.subject == envelope.type:
                self._queue.append((consumer, envelope, raw))
        await self._drain()

    async def publish_raw(self, subject: str, data: bytes) -> None:
        """Delivers raw bytes as if a foreign publisher sent them (for contract tests)."""
        for consumer in self._consumers.values():
            if consumer.subject == subject:
                try:
                    envelope = codec.decode(data, expected_subject=subject)
                except codec.WireError as exc:
                    self._dead_letter(consumer, INVALID, exc.reason, data, 1)
                    continue
                self._queue.append((consumer, envelope, data))
        await self._drain()

    async def subscribe(
        self, subject: str, *, durable: str, handler: EventHandler, replay: bool = True
    ) -> None:
        """Registers a consumer; with `replay` it first receives the retained history."""
        key = (subject, durable)
        existing = self._consumers.get(key)
        consumer = _Consumer(subject, durable, handler)
        if existing is not None:
            consumer.position = existing.position
        self._consumers[key] = consumer
        history = self._logs.get(subject, _Log()).events
        if replay:
            for envelope in history[consumer.position :]:
                self._queue.append((consumer, envelope, None))
        await self._drain()

    async def history(self, subject: str, *, tail: int | None = None) -> list[Envelope[Any]]:
        """Every retained event on `subject`, oldest first (its newest `tail` with `tail`)."""
        events = self._logs.get(subject, _Log()).events
        if tail is None:
            return list(events)
        return list(events[-tail:]) if tail > 0 else []

    async def request(self, subject: str, data: bytes, *, timeout: float) -> bytes:  # noqa: ASYNC109
        """Calls the responder of `subject` directly; no responder is an unavailable venue."""
        handler = self._responders.get(subject)
        if handler is None:
            raise VenueUnavailable(f"no responder on {subject}")
        return await handler(data)

    async def respond(self, subject: str, handler: RequestHandler) -> None:
        """Registers the one responder of `subject`."""
        self._responders[subject] = handler

    async def close(self) -> None:
        """Nothing to release; pending deliveries were already made."""
        await self._drain()

    async def _drain(self) -> None:
        if self._dispatching:
            return
        self._dispatching = True
        try:
            while self._queue:
                consumer, envelope, raw = self._queue.popleft()
                await self._deliver(consumer, envelope, raw)
        finally:
            self._dispatching = False

    async def _deliver(
        self, consumer: _Consumer, envelope: Envelope[Any], raw: bytes | None
    ) -> None:
        if raw is not None and self._round_trip:
            envelope = codec.decode(raw, expected_subject=consumer.subject)
        for attempt in range(1, self._max_deliver + 1):
            try:
                with self._metrics.handle_seconds.labels(consumer.subject).time():
                    await consumer.handler(envelope)
            except Exception as exc:
                self._metrics.handler_errors.labels(consumer.subject).inc()
                log.warning(
                    "handler %s failed on %s (attempt %d): %s",
                    consumer.durable,
                    envelope.event_id,
                    attempt,
                    exc,
                )
                if attempt == self._max_deliver:
                    data = raw if raw is not None else codec.encode(envelope)
                    self._dead_letter(consumer, HANDLER_FAILED, repr(exc), data, attempt)
                continue
            self._metrics.consumed.labels(consumer.subject).inc()
            break
        consumer.position += 1

    def _dead_letter(
        self, consumer: _Consumer, kind: str, reason: str, data: bytes, deliveries: int
    ) -> None:
        self._metrics.dead_letters.labels(consumer.subject, kind).inc()
        self.dead_letters.append(
            DeadLetter(
                subject=consumer.subject,
                consumer=consumer.durable,
                reason_kind=kind,
                reason=reason,
                data=data,
                deliveries=deliveries,
                failed_at=self._clock.now(),
            )
        )
