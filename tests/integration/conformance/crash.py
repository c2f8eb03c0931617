"""Redelivery on a real nats-server: consumers that die between their effect and their ack.

`DyingBus` is a real `NatsBus` whose consumers, after handling one of the chosen events, hang:
the effect is done (committed, published, placed) but the ack never goes out, as when the
process is killed at that instant. `kill()` then ends the hung handler with an error (so the
consumer settles it with a nak, never an ack) and closes the connection; the server redelivers
the event to the next consumer on the same durable, in a new service instance.
`twice` stores an event a second time under another message id, so JetStream really delivers
it twice (its own de-duplication by event id would otherwise drop the copy).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tests.support import free_port

from atp.bus import codec
from atp.bus.nats import NatsBus
from atp.core.events import Envelope
from atp.services.embedded_nats import EmbeddedNats
from atp.telemetry.metrics import BusMetrics, new_registry

ACK_WAIT = 1.0


async def connect(url: str, name: str) -> NatsBus:
    """A NatsBus on `url` that redelivers an unacknowledged event after one second."""
    return await NatsBus.connect(
        url, client_name=name, metrics=BusMetrics(new_registry()), ack_wait=ACK_WAIT
    )


class DyingBus:
    """A NatsBus whose consumers die after the effect of the events in `die_after`."""

    def __init__(self, bus: NatsBus, die_after: set[str]) -> None:
        self.bus = bus
        self._die_after = set(die_after)
        self.died = asyncio.Event()
        self._killed = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.bus, name)

    async def subscribe(
        self,
        subject: str,
        *,
        durable: str,
        handler: Callable[[Envelope[Any]], Awaitable[None]],
        replay: bool = True,
    ) -> None:
        """Subscribes `handler`, made to hang (no ack) after handling a chosen event."""

        async def handle_then_maybe_die(envelope: Envelope[Any]) -> None:
            await handler(envelope)
            if envelope.event_id in self._die_after:
                self._die_after.discard(envelope.event_id)
                self.died.set()
                await self._killed.wait()
                raise ConnectionAbortedError("killed after the effect, before the ack")

        await self.bus.subscribe(
            subject, durable=durable, handler=handle_then_maybe_die, replay=replay
        )

    async def kill(self) -> None:
        """Ends the hung consumers without an ack and drops the connection."""
        self._killed.set()
        await self.bus.close()


async def twice(bus: NatsBus, envelope: Envelope[Any]) -> None:
    """Stores `envelope` twice on its subject, so every consumer gets it twice."""
    await bus.publish(envelope)
    await bus.publish_raw(
        envelope.type, codec.encode(envelope), message_id=f"{envelope.event_id}-again"
    )


async def eventually(
    probe: Callable[[], Awaitable[bool]], *, what: str, attempts: int = 300
) -> None:
    """Polls `probe` until it holds (the consumer caught up); fails naming `what` if never."""
    for _ in range(attempts):
        if await probe():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


def clean_server(store_dir: Path) -> EmbeddedNats:
    """A second nats-server of the test's own, for the reference run (each event once)."""
    return EmbeddedNats(store_dir, free_port())
