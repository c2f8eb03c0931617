"""The idempotency conformance harness: every consumer, every delivery pattern, one effect.

A consumer under test is described by a `Consumer`: its handler (what the bus calls) and a
function that counts its effects (rows, entries, orders at the broker). The harness delivers
each event twice, and again after a crash, and checks that the effects equal one delivery's.
Other areas can describe their consumers the same way and reuse these checks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from atp.core.events import Envelope

Handler = Callable[[Envelope[Any]], Awaitable[object]]
EffectCounter = Callable[[], Awaitable[Mapping[str, int]]]


@dataclass(frozen=True)
class Consumer:
    """A consumer under test: how to hand it an event and how to count what it did."""

    name: str
    handler: Handler
    effects: EffectCounter


async def deliver_once(consumer: Consumer, events: Sequence[Envelope[Any]]) -> Mapping[str, int]:
    """Delivers each event once and returns the effects: the expectation for every pattern."""
    for event in events:
        await consumer.handler(event)
    return await consumer.effects()


async def deliver_twice(consumer: Consumer, events: Sequence[Envelope[Any]]) -> Mapping[str, int]:
    """Delivers each event twice in a row (a lost ack), then the whole stream again (a replay)."""
    for event in events:
        await consumer.handler(event)
        await consumer.handler(event)
    for event in events:
        await consumer.handler(event)
    return await consumer.effects()


async def redeliver_after_crash(
    consumer: Consumer,
    events: Sequence[Envelope[Any]],
    *,
    crash_after: int,
    restart: Callable[[], Awaitable[Consumer]],
) -> Mapping[str, int]:
    """Handles `crash_after` events, crashes before acking the last one, restarts, redelivers.

    `restart` drops the consumer as a crash would (its connections closed, its memory lost) and
    builds a new one on the same durable state. The bus then redelivers every event it has no
    ack for, the unacked one included, and the stream goes on.
    """
    for event in events[:crash_after]:
        await consumer.handler(event)
    restarted = await restart()
    for event in events[max(0, crash_after - 1) :]:
        await restarted.handler(event)
    return await restarted.effects()
