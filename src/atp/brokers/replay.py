"""Reads back every `executions.order_update` JetStream holds: how a restart rebuilds state.

The paper venue lives in the broker-adapters process, so its orders, fills and books would die
with it; but every change it made was published first. On start the service reads the whole
subject with an ephemeral pull consumer (nothing durable is left behind), decodes each event
with the codec, and hands the list to `PaperVenue.restore`. Reading stops when the consumer
reports nothing pending, so the result is complete as of the moment of the read.
"""

from __future__ import annotations

import logging

import nats
import nats.errors
import nats.js.errors
from nats.js import api

from atp.bus import codec
from atp.bus.subjects import EXECUTIONS_ORDER_UPDATE, stream_for
from atp.core.errors import VenueUnavailable
from atp.core.events import OrderUpdate

log = logging.getLogger(__name__)


async def replay_order_updates(
    servers: str, *, batch: int = 500, timeout_seconds: float = 5.0
) -> list[OrderUpdate]:
    """Every order update stored on JetStream at `servers`, in stream order.

    Raises:
        VenueUnavailable: NATS could not be reached or stopped answering mid-read.
    """
    urls = [url.strip() for url in servers.split(",") if url.strip()]
    try:
        client = await nats.connect(
            servers=urls,
            name="broker-adapters-replay",
            connect_timeout=timeout_seconds,
            allow_reconnect=False,
        )
    except (TimeoutError, OSError, nats.errors.Error) as exc:
        raise VenueUnavailable(f"cannot reach NATS at {servers} to replay: {exc!r}") from exc
    updates: list[OrderUpdate] = []
    try:
        js = client.jetstream()
        stream = stream_for(EXECUTIONS_ORDER_UPDATE)
        try:
            info = await js.stream_info(stream, subjects_filter=EXECUTIONS_ORDER_UPDATE)
        except nats.js.errors.NotFoundError:
            return []
        stored = (info.state.subjects or {}).get(EXECUTIONS_ORDER_UPDATE, 0)
        if stored == 0:
            return []
        config = api.ConsumerConfig(
            deliver_policy=api.DeliverPolicy.ALL,
            ack_policy=api.AckPolicy.EXPLICIT,
            inactive_threshold=30.0,
        )
        pull = await js.pull_subscribe(EXECUTIONS_ORDER_UPDATE, stream=stream, config=config)
        while True:
            messages = await pull.fetch(batch, timeout=timeout_seconds)
            for message in messages:
                await message.ack()
                try:
                    updates.append(codec.decode(message.data).payload)
                except codec.WireError as exc:
                    log.error("skipping an undecodable order update in replay: %s", exc.reason)
            if messages[-1].metadata.num_pending == 0:
                break
        await pull.unsubscribe()
    except (TimeoutError, nats.errors.Error) as exc:
        raise VenueUnavailable(f"replay of {EXECUTIONS_ORDER_UPDATE} failed: {exc!r}") from exc
    finally:
        await client.close()
    log.info("replayed %d order updates", len(updates))
    return updates
