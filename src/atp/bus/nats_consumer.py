"""One durable subscription on JetStream: a fetch loop that decodes, handles, acks or retries.

A batch is handled in order, one message at a time, so a handler sees one subject's events in
stream order. A message that cannot be decoded, or whose handler keeps failing until the
redelivery bound, is dead-lettered and acked: it never blocks the consumer, and it is never
dropped without a record. If the dead letter itself cannot be stored, the message is not acked:
it comes back later and its dead-lettering is tried again (the handler is not called again).

The redelivery bound is counted here, not by the server (whose bound is lifted): a server that
stops delivering at its bound would leave a message whose dead letter failed with no way back.
While a handler runs, the messages in hand are kept alive (`in_progress`) so that a slow handler
does not make the server hand the same message to another instance of the service.
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

DEAD_LETTER_RETRY_SECONDS = 1.0
"""How long a message whose dead letter could not be stored waits before it comes back."""

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
        ack_wait: float,
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
        self._keep_alive_interval = ack_wait / 3
        self._batch = batch
        self._fetch_timeout = fetch_timeout
        # A full batch first: a consumer that starts behind takes its backlog in batches.
        self._next_batch = batch
        self._redelivery_delay = redelivery_delay
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._keep_alive_task: asyncio.Task[None] | None = None
        # The fetched messages not yet settled, oldest first.
        self._in_hand: list[Msg] = []
        # Dead letters that could not be stored yet, by stream sequence: (kind, reason, deliveries).
        self._unstored: dict[int, tuple[str, str, int]] = {}

    def start(self) -> None:
        """Starts the fetch loop and the keep-alive loop as tasks."""
        name = f"bus:{self.durable}:{self.subject}"
        self._task = asyncio.create_task(self._run(), name=name)
        self._keep_alive_task = asyncio.create_task(self._keep_alive(), name=f"{name}:alive")

    async def stop(self) -> None:
        """Finishes the message in hand, hands the rest of the batch back, ends the loops."""
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self._keep_alive_task is not None:
            self._keep_alive_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keep_alive_task
            self._keep_alive_task = None
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
            self._in_hand = list(messages)
            while self._in_hand:
                if self._stopping.is_set():
                    await self._hand_back(self._in_hand)
                    break
                try:
                    await self._process(self._in_hand[0])
                except Exception as exc:
                    # An ack or nak that could not reach the server: the server redelivers
                    # after ack_wait, and handlers are idempotent.
                    log.warning("settling a message on %s failed: %r", self.subject, exc)
                finally:
                    self._in_hand.pop(0)
            self._in_hand = []

    async def _fetch(self) -> list[Msg]:
        # nats-py's fetch, once it has to wait, holds the first message until the whole batch
        # arrives or the timeout passes. So ask for exactly what the server says is pending
        # (served at once), and for one message when nothing is: a trickle is handled as it
        # comes, a backlog in batches.
        fetch = asyncio.ensure_future(
            self._pull.fetch(self._next_batch, timeout=self._fetch_timeout)
        )
        stopping = asyncio.ensure_future(self._stopping.wait())
        done, _ = await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if fetch in done:
            stopping.cancel()
            try:
                messages: list[Msg] = fetch.result()
            except (TimeoutError, nats.errors.TimeoutError):
                self._next_batch = 1
                return []
            pending = messages[-1].metadata.num_pending if messages else 0
            self._next_batch = max(1, min(self._batch, pending or 0))
            return messages
        fetch.cancel()
        with contextlib.suppress(BaseException):
            await fetch
        return []

    async def _process(self, message: Msg) -> None:
        deliveries = message.metadata.num_delivered or 1
        unstored = self._unstored.get(message.metadata.sequence.stream)
        if unstored is not None:
            await self._dead_letter_or_retry(message, *unstored)
            return
        if deliveries > self._max_deliver:
            # Its handler ran out of deliveries elsewhere (a crashed or restarted instance).
            reason = f"delivered {deliveries - 1} times without being acknowledged"
            await self._dead_letter_or_retry(message, HANDLER_FAILED, reason, deliveries - 1)
            return
        try:
            envelope = codec.decode(message.data, expected_subject=self.subject)
        except codec.WireError as exc:
            log.warning("invalid message on %s dead-lettered: %s", self.subject, exc.reason)
            await self._dead_letter_or_retry(message, INVALID, exc.reason, deliveries)
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
                await self._dead_letter_or_retry(message, HANDLER_FAILED, repr(exc), deliveries)
            else:
                await message.nak(delay=self._redelivery_delay)
            return
        await message.ack()
        self._metrics.consumed.labels(self.subject).inc()

    async def _dead_letter_or_retry(
        self, message: Msg, kind: str, reason: str, deliveries: int
    ) -> None:
        sequence = message.metadata.sequence.stream
        try:
            await self._send_dead_letter(message, kind, reason, deliveries)
        except Exception as exc:
            # Never ack what we could not record: the message comes back and we try again.
            log.error("dead letter for %s seq %d not stored: %r", self.subject, sequence, exc)
            self._unstored[sequence] = (kind, reason, deliveries)
            await message.nak(delay=DEAD_LETTER_RETRY_SECONDS)
            return
        self._unstored.pop(sequence, None)
        await message.ack()

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

    async def _keep_alive(self) -> None:
        # Tells the server every message in hand is still being worked on, so its ack_wait
        # restarts and no other instance receives it meanwhile.
        while True:
            await asyncio.sleep(self._keep_alive_interval)
            for message in list(self._in_hand):
                try:
                    await message.in_progress()
                except Exception as exc:
                    log.debug("in_progress on %s failed: %r", self.subject, exc)

    async def _hand_back(self, messages: list[Msg]) -> None:
        # Unprocessed messages go straight back to the stream instead of waiting for ack_wait.
        for message in messages:
            with contextlib.suppress(Exception):
                await message.nak()

    async def _sleep_unless_stopping(self, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
