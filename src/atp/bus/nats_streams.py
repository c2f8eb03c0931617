"""JetStream layout: the streams of `subjects.STREAMS`, consumer names and consumer settings."""

from __future__ import annotations

import logging
import re
from typing import Any

from nats.js import api
from nats.js.errors import BadRequestError, NotFoundError

from atp.bus.subjects import STREAMS, stream_for
from atp.core.errors import InvalidInput

log = logging.getLogger(__name__)

DUPLICATE_WINDOW_SECONDS = 120.0
"""How long JetStream remembers a `Nats-Msg-Id`: a republish within it is stored once."""

RPC_PREFIX = "rpc."

UNBOUNDED_DELIVERIES = -1

_DURABLE = re.compile(r"[A-Za-z0-9_-]+")


def stream_config(name: str, pattern: str, *, replicas: int) -> api.StreamConfig:
    """The configuration of one ATP stream: file storage, 2-minute duplicate window."""
    return api.StreamConfig(
        name=name,
        subjects=[pattern],
        storage=api.StorageType.FILE,
        retention=api.RetentionPolicy.LIMITS,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        num_replicas=replicas,
    )


async def ensure_streams(jsm: Any, *, replicas: int = 1) -> None:
    """Creates every stream of `STREAMS`, or updates one whose settings drifted; idempotent."""
    for name, pattern in STREAMS.items():
        wanted = stream_config(name, pattern, replicas=replicas)
        try:
            info = await jsm.stream_info(name)
        except NotFoundError:
            try:
                await jsm.add_stream(config=wanted)
                log.info("created stream %s for %s", name, pattern)
                continue
            except BadRequestError:
                # Another service created it between our look and our create.
                info = await jsm.stream_info(name)
        current = info.config
        if (
            current.subjects != wanted.subjects
            or current.duplicate_window != wanted.duplicate_window
            or (current.num_replicas or 1) != replicas
        ):
            # Storage cannot change in place; subjects, window and replicas can.
            wanted.storage = current.storage
            await jsm.update_stream(config=wanted)
            log.info("updated stream %s to %s", name, pattern)


def consumer_name(subject: str, durable: str) -> str:
    """The JetStream consumer name of `durable` on `subject`.

    Consumer names are unique per stream, and one stream holds a whole subject family, so the
    subject is part of the name: one service may use the same durable on two subjects.
    """
    if not _DURABLE.fullmatch(durable):
        raise InvalidInput(f"durable name: expected letters, digits, '-' or '_', found {durable!r}")
    return f"{durable}__{subject.replace('.', '_')}"


def checked_stream(subject: str) -> str:
    """The stream of a concrete event subject; wildcards and unknown families are refused."""
    if "*" in subject or ">" in subject:
        raise InvalidInput(f"subject: expected a concrete subject, found wildcard {subject!r}")
    try:
        return stream_for(subject)
    except KeyError as exc:
        raise InvalidInput(f"subject: no stream stores {subject!r}") from exc


def checked_rpc_subject(subject: str) -> str:
    """A request/reply subject; it must lie under `rpc.` so no stream ever captures it."""
    if not subject.startswith(RPC_PREFIX) or "*" in subject or ">" in subject:
        raise InvalidInput(f"rpc subject: expected a concrete 'rpc.' subject, found {subject!r}")
    return subject


def consumer_config(
    subject: str,
    name: str,
    *,
    replay: bool,
    ack_wait: float,
    max_ack_pending: int,
) -> api.ConsumerConfig:
    """A durable pull consumer with explicit acks and bounded in-flight work.

    The server's redelivery bound is lifted (-1): the subscription counts deliveries itself and
    dead-letters at its bound, and a message whose dead letter could not be stored yet must be
    able to come back.
    """
    return api.ConsumerConfig(
        name=name,
        durable_name=name,
        filter_subject=subject,
        deliver_policy=api.DeliverPolicy.ALL if replay else api.DeliverPolicy.NEW,
        ack_policy=api.AckPolicy.EXPLICIT,
        max_deliver=UNBOUNDED_DELIVERIES,
        ack_wait=ack_wait,
        max_ack_pending=max_ack_pending,
    )


async def ensure_consumer(jsm: Any, stream: str, config: api.ConsumerConfig) -> None:
    """Creates the durable consumer, or brings an existing one's limits up to date.

    An existing consumer keeps its position and its deliver policy: that is what durable means.
    """
    try:
        info = await jsm.consumer_info(stream, config.durable_name)
    except NotFoundError:
        await jsm.add_consumer(stream, config=config)
        return
    current = info.config
    if (current.max_deliver, current.ack_wait, current.max_ack_pending) != (
        config.max_deliver,
        config.ack_wait,
        config.max_ack_pending,
    ):
        config.deliver_policy = current.deliver_policy
        config.opt_start_seq = current.opt_start_seq
        config.opt_start_time = current.opt_start_time
        await jsm.add_consumer(stream, config=config)
