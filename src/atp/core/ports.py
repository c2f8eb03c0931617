"""Ports: the Protocols the core and services depend on. Adapters implement them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from atp.core.events import Envelope

EventHandler = Callable[[Envelope[Any]], Awaitable[None]]


class Bus(Protocol):
    """Publishes events and delivers them to durable, at-least-once consumers.

    Delivery is at least once: a handler may see the same event twice and must be idempotent
    (the event id is the key). A handler that raises gets the event again, up to the bus's
    redelivery bound, after which the event is dead-lettered with the error as its reason.
    """

    async def publish(self, envelope: Envelope[Any]) -> None:
        """Stores the event durably (once per event id) and returns when it is stored."""
        ...

    async def subscribe(
        self,
        subject: str,
        *,
        durable: str,
        handler: EventHandler,
        replay: bool = True,
    ) -> None:
        """Delivers every event on `subject` to `handler`, resuming where `durable` stopped.

        With `replay=False` a new consumer starts at new events only.
        """
        ...

    async def history(self, subject: str, *, tail: int | None = None) -> list[Envelope[Any]]:
        """Every event stored on `subject` when the call began, oldest first; a one-shot read.

        It returns once it has read up to the last event stored at the start (the caught-up
        point) and leaves no consumer behind. With `tail`, only events among the newest `tail`
        stored in the subject's stream are read (for "the last price of each symbol").
        """
        ...

    async def close(self) -> None:
        """Drains in-flight deliveries and disconnects."""
        ...


RequestHandler = Callable[[bytes], Awaitable[bytes]]


class Rpc(Protocol):
    """Request/reply between services (core NATS, never stored): used for pre-trade checks."""

    async def request(self, subject: str, data: bytes, *, timeout: float) -> bytes:  # noqa: ASYNC109
        """Sends `data` and returns the reply; raises VenueUnavailable on timeout."""
        ...

    async def respond(self, subject: str, handler: RequestHandler) -> None:
        """Answers every request on `subject` with `handler`'s result."""
        ...
