"""The NATS JetStream bus: the `Bus` and `Rpc` ports on nats-py.

Events are stored in one stream per subject family (`subjects.STREAMS`) with `Nats-Msg-Id` set
to the event id, so a republished event is stored once. Consumers are durable pull consumers
with explicit acks, bounded redelivery and a bound on in-flight messages. Request/reply runs on
core NATS under `rpc.`, outside every stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import api

from atp.bus import codec
from atp.bus.dead_letter import DeadLetter
from atp.bus.nats_consumer import Subscription
from atp.bus.nats_streams import (
    checked_rpc_subject,
    checked_stream,
    consumer_config,
    consumer_name,
    ensure_consumer,
    ensure_streams,
)
from atp.bus.subjects import dead_letter_subject
from atp.core.clock import Clock, SystemClock
from atp.core.errors import Conflict, VenueUnavailable
from atp.core.events import Envelope
from atp.core.ports import EventHandler, RequestHandler
from atp.telemetry.metrics import BusMetrics

log = logging.getLogger(__name__)

MSG_ID_HEADER = "Nats-Msg-Id"

_RECONNECT_WAIT = 0.5
"""Seconds between two connection attempts to one server."""

_READER_INACTIVE_SECONDS = 10.0
"""The server removes a history reader left by a crashed process after this long."""


class NatsBus:
    """Publishes to JetStream, runs durable consumers, and serves request/reply on core NATS."""

    def __init__(
        self,
        client: Client,
        *,
        connection_log: _ConnectionLog,
        metrics: BusMetrics,
        clock: Clock,
        max_deliver: int,
        ack_wait: float,
        max_ack_pending: int,
        publish_timeout: float,
        publish_attempts: int,
        fetch_batch: int,
        fetch_timeout: float,
        redelivery_delay: float,
    ) -> None:
        """Wraps a connected client; use `NatsBus.connect` rather than this."""
        self._nc = client
        self._connection_log = connection_log
        self._js = client.jetstream()
        self._metrics = metrics
        self._clock = clock
        self._max_deliver = max_deliver
        self._ack_wait = ack_wait
        self._max_ack_pending = max_ack_pending
        self._publish_timeout = publish_timeout
        self._publish_attempts = publish_attempts
        self._fetch_batch = fetch_batch
        self._fetch_timeout = fetch_timeout
        self._redelivery_delay = redelivery_delay
        self._subscriptions: dict[str, Subscription] = {}
        self._responders: list[Any] = []
        self._closed = False

    @classmethod
    async def connect(
        cls,
        servers: str,
        *,
        client_name: str,
        metrics: BusMetrics,
        clock: Clock | None = None,
        max_deliver: int = 5,
        ack_wait: float = 30.0,
        max_ack_pending: int = 1000,
        replicas: int | None = None,
        publish_timeout: float = 5.0,
        publish_attempts: int = 3,
        fetch_batch: int = 100,
        fetch_timeout: float = 1.0,
        redelivery_delay: float = 0.1,
        connect_timeout: float = 5.0,
        ping_interval: float = 1.0,
        max_outstanding_pings: int = 2,
    ) -> NatsBus:
        """Connects to NATS and makes sure every ATP stream exists.

        Args:
            servers: one NATS URL, or a comma-separated list for a cluster.
            client_name: the name the server shows for this connection (the service's name).
            metrics: where publishes, deliveries and dead letters are counted.
            clock: stamps dead letters; the wall clock by default.
            max_deliver: deliveries of one event to one consumer before it is dead-lettered.
            ack_wait: seconds a delivered, unacknowledged event waits before redelivery.
            max_ack_pending: events in flight per consumer: the backpressure bound.
            replicas: stream replicas; by default 3 when three or more servers are named, else 1.
            publish_timeout: seconds to wait for JetStream to acknowledge one publish attempt.
            publish_attempts: attempts (same message id) before a publish raises VenueUnavailable.
            fetch_batch: events pulled per fetch.
            fetch_timeout: seconds one idle fetch waits for events (bounds stale pull requests).
            redelivery_delay: seconds before an event whose handler raised comes back.
            connect_timeout: seconds to wait for the first connection.
            ping_interval: seconds between client pings. With `max_outstanding_pings` it bounds
                how long a dead or partitioned server goes unnoticed (about 2.5 s by default);
                a process that blocks its event loop for longer than that gets reconnected.
            max_outstanding_pings: unanswered pings before the connection counts as stale.

        Raises:
            VenueUnavailable: no server answered.
        """
        urls = [url.strip() for url in servers.split(",") if url.strip()]
        connection_log = _ConnectionLog(client_name)
        # nats-py applies the reconnect bound to the first connection too: unbounded, a wrong
        # URL would hang the service at start. So the first connection gets about
        # connect_timeout worth of attempts per server, and only then is the bound lifted.
        first_attempts = max(1, round(connect_timeout / _RECONNECT_WAIT))
        try:
            client = await nats.connect(
                servers=urls,
                name=client_name,
                ping_interval=ping_interval,
                max_outstanding_pings=max_outstanding_pings,
                max_reconnect_attempts=first_attempts,
                reconnect_time_wait=_RECONNECT_WAIT,
                connect_timeout=connect_timeout,
                allow_reconnect=True,
                error_cb=connection_log.on_error,
                disconnected_cb=connection_log.on_disconnected,
                reconnected_cb=connection_log.on_reconnected,
            )
        except (TimeoutError, OSError, nats.errors.Error) as exc:
            raise VenueUnavailable(f"cannot connect to NATS at {servers}: {exc!r}") from exc
        # Once connected, never give up reconnecting (FIELD-NOTES: outages and failovers pass).
        client.options["max_reconnect_attempts"] = -1
        bus = cls(
            client,
            connection_log=connection_log,
            metrics=metrics,
            clock=clock or SystemClock(),
            max_deliver=max_deliver,
            ack_wait=ack_wait,
            max_ack_pending=max_ack_pending,
            publish_timeout=publish_timeout,
            publish_attempts=publish_attempts,
            fetch_batch=fetch_batch,
            fetch_timeout=fetch_timeout,
            redelivery_delay=redelivery_delay,
        )
        try:
            await ensure_streams(bus._js, replicas=replicas or (3 if len(urls) >= 3 else 1))
        except (TimeoutError, nats.errors.Error) as exc:
            await client.close()
            raise VenueUnavailable(f"JetStream at {servers} is not usable: {exc!r}") from exc
        return bus

    @property
    def metrics(self) -> BusMetrics:
        """The counters this bus updates."""
        return self._metrics

    @property
    def is_connected(self) -> bool:
        """True while the connection to NATS is up (for `/readyz`)."""
        return bool(self._nc.is_connected)

    async def publish(self, envelope: Envelope[Any]) -> None:
        """Stores the event (once per event id) and returns when JetStream acknowledged it.

        Raises:
            VenueUnavailable: no acknowledgement after every attempt. The outcome is unknown:
                the event may be stored; republishing it later is safe.
        """
        data = codec.encode(envelope)
        duplicate = await self._store(envelope.type, data, message_id=envelope.event_id)
        counter = self._metrics.duplicates if duplicate else self._metrics.published
        counter.labels(envelope.type).inc()

    async def publish_many(self, envelopes: Sequence[Envelope[Any]], *, window: int = 256) -> None:
        """Stores many events with up to `window` publishes in flight; returns when all are stored.

        About ten times the rate of one awaited `publish` after another. Events are validated
        before any is sent, and stored in the given order unless one needed a retry.

        Raises:
            VenueUnavailable: some event got no acknowledgement after every attempt (the others
                are stored; republishing them all is safe).
        """
        encoded = [(e.type, e.event_id, codec.encode(e)) for e in envelopes]
        for start in range(0, len(encoded), window):
            await self._store_window(encoded[start : start + window])

    async def publish_raw(self, subject: str, data: bytes, *, message_id: str) -> bool:
        """Stores raw bytes on `subject` unvalidated (foreign publishers, contract tests).

        Returns True if JetStream already held `message_id` (a duplicate).
        """
        return await self._store(subject, data, message_id=message_id)

    async def subscribe(
        self,
        subject: str,
        *,
        durable: str,
        handler: EventHandler,
        replay: bool = True,
    ) -> None:
        """Delivers every event on `subject` to `handler`, resuming where `durable` stopped.

        Raises:
            InvalidInput: a wildcard or unknown subject, or a durable name with dots or spaces.
            Conflict: this bus already runs `durable` on `subject`.
        """
        stream = checked_stream(subject)
        name = consumer_name(subject, durable)
        if name in self._subscriptions:
            raise Conflict(f"durable {durable!r} already subscribed to {subject} on this bus")
        config = consumer_config(
            subject,
            name,
            replay=replay,
            ack_wait=self._ack_wait,
            max_ack_pending=self._max_ack_pending,
        )
        try:
            await ensure_consumer(self._js, stream, config)
            pull = await self._js.pull_subscribe_bind(durable=name, stream=stream)
        except (TimeoutError, nats.errors.Error) as exc:
            raise VenueUnavailable(f"cannot create consumer {name} on {stream}: {exc!r}") from exc
        subscription = Subscription(
            pull,
            subject=subject,
            durable=durable,
            handler=handler,
            metrics=self._metrics,
            clock=self._clock,
            dead_letter=self._store_dead_letter,
            max_deliver=self._max_deliver,
            ack_wait=self._ack_wait,
            batch=self._fetch_batch,
            fetch_timeout=self._fetch_timeout,
            redelivery_delay=self._redelivery_delay,
        )
        self._subscriptions[name] = subscription
        subscription.start()

    async def request(self, subject: str, data: bytes, *, timeout: float) -> bytes:  # noqa: ASYNC109 (the Rpc port's signature)
        """Sends a request on core NATS and returns the reply.

        Raises:
            VenueUnavailable: no reply within `timeout`, or nobody serves `subject`.
        """
        checked_rpc_subject(subject)
        try:
            reply = await self._nc.request(subject, data, timeout=timeout)
        except nats.errors.NoRespondersError as exc:
            raise VenueUnavailable(f"nobody answers on {subject}") from exc
        except (TimeoutError, nats.errors.TimeoutError) as exc:
            raise VenueUnavailable(f"no answer on {subject} within {timeout:g}s") from exc
        except nats.errors.Error as exc:
            raise VenueUnavailable(f"request on {subject} failed: {exc!r}") from exc
        return bytes(reply.data)

    async def respond(self, subject: str, handler: RequestHandler) -> None:
        """Answers every request on `subject` with `handler`'s result.

        Responders share a queue group, so each request is answered by one instance. A handler
        that raises sends no answer: the caller times out and treats it as refused.
        """
        checked_rpc_subject(subject)

        async def on_request(message: Msg) -> None:
            try:
                answer = await handler(message.data)
            except Exception:
                log.exception("responder on %s failed; the request goes unanswered", subject)
                return
            await message.respond(answer)

        subscription = await self._nc.subscribe(subject, queue=subject, cb=on_request)
        # Once the server has the subscription, a request from any connection reaches it.
        await self._nc.flush()
        self._responders.append(subscription)

    async def history(
        self, subject: str, *, tail: int | None = None, wait: float = 5.0
    ) -> list[Envelope[Any]]:
        """Every event stored on `subject` when the call began, oldest first; nothing is left.

        An ephemeral ordered consumer (in memory on the server, gone when unsubscribed) reads
        until the stream's last sequence at the start of the call, or until the server says no
        matching event is pending: that is the caught-up point. Events stored later are not
        waited for. Undecodable events are skipped with a warning.

        Args:
            subject: a concrete event subject.
            tail: read only among the newest `tail` messages of the subject's stream.
            wait: seconds to wait for each next event before the read counts as stalled.

        Raises:
            VenueUnavailable: NATS did not answer, or the read stalled before it caught up.
        """
        stream = checked_stream(subject)
        try:
            info = await self._js.stream_info(stream, subjects_filter=subject)
        except (TimeoutError, nats.errors.Error) as exc:
            raise VenueUnavailable(f"cannot read stream {stream}: {exc!r}") from exc
        last = info.state.last_seq
        if not (info.state.subjects or {}).get(subject) or (tail is not None and tail <= 0):
            return []
        start = info.state.first_seq if tail is None else max(info.state.first_seq, last - tail + 1)
        config = api.ConsumerConfig(
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=start,
            inactive_threshold=_READER_INACTIVE_SECONDS,
        )
        events: list[Envelope[Any]] = []
        try:
            subscription = await self._js.subscribe(
                subject, stream=stream, config=config, ordered_consumer=True
            )
        except (TimeoutError, nats.errors.Error) as exc:
            raise VenueUnavailable(f"cannot read {subject}: {exc!r}") from exc
        received = 0
        try:
            while True:
                try:
                    message = await subscription.next_msg(timeout=wait)
                except (TimeoutError, nats.errors.TimeoutError) as exc:
                    if received == 0 and tail is not None:
                        # Nothing of this subject among the stream's newest `tail` messages.
                        return events
                    raise VenueUnavailable(
                        f"reading {subject} stalled after {received} events"
                    ) from exc
                received += 1
                try:
                    events.append(codec.decode(message.data, expected_subject=subject))
                except codec.WireError as exc:
                    log.warning("history of %s: skipping an undecodable event: %s", subject,
                                exc.reason)  # fmt: skip
                metadata = message.metadata
                if metadata.sequence.stream >= last or not metadata.num_pending:
                    return events
        except nats.errors.Error as exc:
            raise VenueUnavailable(f"reading {subject} failed: {exc!r}") from exc
        finally:
            await self._drop_reader(stream, subscription)

    async def _drop_reader(self, stream: str, subscription: Any) -> None:
        # Unsubscribing leaves the server to reap the consumer later; delete it now, so a
        # restart that reads history leaves nothing behind (the inactivity bound is a backstop).
        with contextlib.suppress(TimeoutError, nats.errors.Error):
            info = await subscription.consumer_info()
            await subscription.unsubscribe()
            await self._js.delete_consumer(stream, info.name)

    async def dead_letters(self, subject: str, *, wait: float = 1.0) -> list[DeadLetter]:
        """Every dead letter stored for `subject` so far, oldest first (for tests and operators).

        Args:
            subject: the original subject (not the `dlq.` one).
            wait: seconds to wait for each stored letter to arrive.
        """
        target = dead_letter_subject(subject)
        stream = checked_stream(target)
        info = await self._js.stream_info(stream, subjects_filter=target)
        if not (info.state.subjects or {}).get(target):
            return []
        subscription = await self._js.subscribe(target, stream=stream, ordered_consumer=True)
        letters: list[DeadLetter] = []
        try:
            while True:
                message = await subscription.next_msg(timeout=wait)
                letters.append(DeadLetter.from_bytes(message.data))
                if not message.metadata.num_pending:
                    return letters
        finally:
            await subscription.unsubscribe()

    async def close(self) -> None:
        """Stops every fetch loop after its current event, drains and closes the connection."""
        if self._closed:
            return
        self._closed = True
        self._connection_log.closing = True
        await asyncio.gather(*(s.stop() for s in self._subscriptions.values()))
        self._subscriptions.clear()
        try:
            await self._nc.drain()
        except (TimeoutError, nats.errors.Error) as exc:
            log.warning("draining the NATS connection failed: %r", exc)
            await self._nc.close()

    async def _store(self, subject: str, data: bytes, *, message_id: str) -> bool:
        headers = {MSG_ID_HEADER: message_id}
        last_error: Exception | None = None
        for attempt in range(1, self._publish_attempts + 1):
            try:
                ack = await self._js.publish(
                    subject, data, timeout=self._publish_timeout, headers=headers
                )
            except (
                TimeoutError,
                nats.errors.TimeoutError,
                nats.js.errors.NoStreamResponseError,
            ) as exc:
                # Unknown outcome: the event may be stored. The same message id makes the
                # retry safe, JetStream answers a stored id as a duplicate.
                last_error = exc
                log.warning(
                    "publish %s to %s: attempt %d got %r", message_id, subject, attempt, exc
                )
                await asyncio.sleep(min(0.1 * attempt, 1.0))
                continue
            except nats.errors.Error as exc:
                raise VenueUnavailable(f"publish to {subject} failed: {exc!r}") from exc
            return bool(ack.duplicate)
        raise VenueUnavailable(
            f"publish {message_id} to {subject}: no acknowledgement after "
            f"{self._publish_attempts} attempts ({last_error!r}); it may be stored"
        )

    async def _store_window(self, chunk: Sequence[tuple[str, str, bytes]]) -> None:
        try:
            futures = [
                await self._js.publish_async(subject, data, headers={MSG_ID_HEADER: event_id})
                for subject, event_id, data in chunk
            ]
        except nats.errors.Error as exc:
            raise VenueUnavailable(f"publish failed: {exc!r}") from exc
        done, pending = await asyncio.wait(futures, timeout=self._publish_timeout)
        for future in pending:
            future.cancel()
        for (subject, event_id, data), future in zip(chunk, futures, strict=True):
            if future in done and future.exception() is None:
                duplicate = bool(future.result().duplicate)
            else:
                # No answer in time, or an error: the outcome is unknown, retry by message id.
                duplicate = await self._store(subject, data, message_id=event_id)
            counter = self._metrics.duplicates if duplicate else self._metrics.published
            counter.labels(subject).inc()

    async def _store_dead_letter(self, letter: DeadLetter, message_id: str) -> None:
        await self._store(dead_letter_subject(letter.subject), letter.to_bytes(),
                          message_id=message_id)  # fmt: skip


class _ConnectionLog:
    """Logs the connection's ups and downs, but not the disconnect that `close()` causes."""

    def __init__(self, client_name: str) -> None:
        self.client_name = client_name
        self.closing = False

    async def on_error(self, exc: Exception) -> None:
        log.warning("NATS (%s): %r", self.client_name, exc)

    async def on_disconnected(self) -> None:
        if not self.closing:
            log.warning("NATS (%s): disconnected; reconnecting", self.client_name)

    async def on_reconnected(self) -> None:
        log.info("NATS (%s): reconnected", self.client_name)
