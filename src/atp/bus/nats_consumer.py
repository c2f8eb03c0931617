"""One durable subscription on JetStream: a fetch loop that decodes, handles, acks or retries.

A batch is handled in order, one message at a time, so a handler sees one subject's events in
stream order. A message that cannot be decoded, or whose handler keeps failing until the
redelivery bound, is dead-lettered and acked: it never blocks the consumer, and it is never
dropped without a record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import nats.errors
from nats.aio.msg import Msg

from atp.bus import codec
from atp.bus.dead_letter import HANDLER_FAILED, INVALID, DeadLetter
from atp.core.clock import Clock
from atp.core.ports import EventHandler
from atp.telemetry.metrics import BusMetrics

log = logging.getLogger(__name__)

DeadLetterSink = Callable[[DeadLetter, str], Awaitable[None]]
"""Stores a dead letter under a message id (so a retried dead-lettering is stored once)."""


class Subscription:
    """Pulls batches from one durable consumer and hands each event to one handler."""

    def __init__(
        self,
        pull: Any,
        *,
        subject: str,
        durable: str,
        handler: EventHandler,
        metrics: BusMetrics,
        clock: Clock,
        dead_letter: DeadLetterSink,
        max_deliver: int,
        batch: int,
        fetch_timeout: float,
        redelivery_delay: float,
    ) -> None:
        """Binds the loop to a pull subscription (`nats.js` PullSubscription)."""
        self.subject = subject
        self.durable = durable
        self._pull = pull
        self._handler = handler
        self._metrics = metrics
        self._clock = clock
        self._dead_letter = dead_letter
        self._max_deliver = max_deliver
        self._batch = batch
        self._fetch_timeout = fetch_timeout
        self._redelivery_delay = redelivery_delay
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Starts the fetch loop as a task."""
        self._task = asyncio.create_task(self._run(), name=f"bus:{self.durable}:{self.subject}")

    async def stop(self) -> None:
        """Finishes the message in hand, hands the rest of the batch back, ends the loop."""
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self._pull.unsubscribe()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                messages = await self._fetch()
            except asyncio.CancelledError:
                raise
            except nats.errors.ConnectionClosedError:
                log.info("subscription %s on %s: connection closed", self.durable, self.subject)
                return
            except Exception as exc:
                # A reconnect or a leader election; the server keeps our position.
                log.warning("fetch on %s by %s failed: %r", self.subject, self.durable, exc)
                await self._sleep_unless_stopping(0.5)
                continue
            for index, message in enumerate(messages):
                if self._stopping.is_set():
                    await self._hand_back(messages[index:])
                    break
                try:
                    await self._process(message)
                except Exception as exc:
                    # An ack or nak that could not reach the server: the server redelivers
                    # after ack_wait, and handlers are idempotent.
                    log.warning("settling a message on %s failed: %r", self.subject, exc)

    async def _fetch(self) -> list[Msg]:
        fetch = asyncio.ensure_future(self._pull.fetch(self._batch, timeout=self._fetch_timeout))
        stopping = asyncio.ensure_future(self._stopping.wait())
        done, _ = await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if fetch in done:
            stopping.cancel()
            try:
                messages: list[Msg] = fetch.result()
            except (TimeoutError, nats.errors.TimeoutError):
                return []
            return messages
        fetch.cancel()
        with contextlib.suppress(BaseException):
            await fetch
        return []

    async def _process(self, message: Msg) -> None:
        deliveries = message.metadata.num_delivered or 1
        try:
            envelope = codec.decode(message.data, expected_subject=self.subject)
        except codec.WireError as exc:
            log.warning("invalid message on %s dead-lettered: %s", self.subject, exc.reason)
            await self._send_dead_letter(message, INVALID, exc.reason, deliveries)
            await message.ack()
            return
        try:
            with self._metrics.handle_seconds.labels(self.subject).time():
                await self._handler(envelope)
        except Exception as exc:
            self._metrics.handler_errors.labels(self.subject).inc()
            log.warning(
                "handler %s failed on %s (delivery %d of %d): %r",
                self.durable, envelope.event_id, deliveries, self._max_deliver, exc,
            )  # fmt: skip
            if deliveries >= self._max_deliver:
                await self._send_dead_letter(message, HANDLER_FAILED, repr(exc), deliveries)
                await message.ack()
            else:
                await message.nak(delay=self._redelivery_delay)
            return
        await message.ack()
        self._metrics.consumed.labels(self.subject).inc()

    async def _send_dead_letter(
        self, message: Msg, kind: str, reason: str, deliveries: int
    ) -> None:
        letter = DeadLetter(
            subject=self.subject,
            consumer=self.durable,
            reason_kind=kind,
            reason=reason,
            data=bytes(message.data),
            deliveries=deliveries,
            failed_at=self._clock.now(),
        )
        # Keyed by stream position and consumer: if our ack is lost and the message comes
        # back, its dead letter is still stored once.
        position = f"{message.metadata.stream}-{message.metadata.sequence.stream}"
        message_id = f"dlq-{position}-{self.durable}"
        await self._dead_letter(letter, message_id)
        self._metrics.dead_letters.labels(self.subject, kind).inc()

    async def _hand_back(self, messages: list[Msg]) -> None:
        # Unprocessed messages go straight back to the stream instead of waiting for ack_wait.
        for message in messages:
            with contextlib.suppress(Exception):
                await message.nak()

    async def _sleep_unless_stopping(self, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
