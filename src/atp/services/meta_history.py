"""A one-shot read of the control actions JetStream holds, for the meta-agent's restart.

The meta-agent rebuilds its operator changes (strategy, weights, enabled flags) from the
`control.actions` it published. A durable consumer would resume after its last ack and so never
deliver them again, and a fresh durable per start would pile up on the server. This read uses
an ephemeral pull consumer that is deleted when the read ends (and that the server drops by
itself after `inactive_threshold` if this process dies mid-read): nothing is left behind.
"""

from __future__ import annotations

import contextlib
import logging

import nats
import nats.errors
import nats.js.errors
from nats.js import api

from atp.bus import codec
from atp.bus.subjects import CONTROL_ACTIONS, stream_for
from atp.core.errors import VenueUnavailable
from atp.core.events import ControlAction

log = logging.getLogger(__name__)


async def read_control_actions(
    servers: str, *, service: str, batch: int = 500, timeout_seconds: float = 5.0
) -> list[ControlAction]:
    """Every stored `control.actions` event of `service`, oldest first.

    Raises:
        VenueUnavailable: NATS could not be reached or stopped answering mid-read.
    """
    urls = [url.strip() for url in servers.split(",") if url.strip()]
    try:
        client = await nats.connect(
            servers=urls,
            name=f"{service}-history",
            connect_timeout=timeout_seconds,
            allow_reconnect=False,
        )
    except (TimeoutError, OSError, nats.errors.Error) as exc:
        raise VenueUnavailable(f"cannot reach NATS at {servers} to restore: {exc!r}") from exc
    actions: list[ControlAction] = []
    try:
        js = client.jetstream()
        stream = stream_for(CONTROL_ACTIONS)
        try:
            info = await js.stream_info(stream, subjects_filter=CONTROL_ACTIONS)
        except nats.js.errors.NotFoundError:
            return []
        if not (info.state.subjects or {}).get(CONTROL_ACTIONS):
            return []
        config = api.ConsumerConfig(
            deliver_policy=api.DeliverPolicy.ALL,
            ack_policy=api.AckPolicy.NONE,
            inactive_threshold=30.0,
            filter_subject=CONTROL_ACTIONS,
        )
        pull = await js.pull_subscribe(CONTROL_ACTIONS, stream=stream, config=config)
        try:
            while True:
                messages = await pull.fetch(batch, timeout=timeout_seconds)
                for message in messages:
                    try:
                        action: ControlAction = codec.decode(
                            message.data, expected_subject=CONTROL_ACTIONS
                        ).payload
                    except codec.WireError as exc:
                        log.warning("skipping an undecodable control action: %s", exc.reason)
                        continue
                    if action.service == service:
                        actions.append(action)
                if not messages or messages[-1].metadata.num_pending == 0:
                    break
        finally:
            # The consumer would outlive the subscription until `inactive_threshold`: delete it.
            name = (await pull.consumer_info()).name
            await pull.unsubscribe()
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await js.delete_consumer(stream, name)
    except (TimeoutError, nats.errors.Error) as exc:
        raise VenueUnavailable(f"reading {CONTROL_ACTIONS} failed: {exc!r}") from exc
    finally:
        await client.close()
    log.info("read %d control actions of %s", len(actions), service)
    return actions
