"""EmbeddedNats: the platform's own nats-server keeps its events across restarts, and never
stops a server it did not start."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from atp.bus.nats import NatsBus
from atp.core.errors import ConfigurationError
from atp.services.embedded_nats import EmbeddedNats, find_nats_server_binary, probe_nats
from atp.telemetry.metrics import BusMetrics, new_registry

from .events import SUBJECT, Collector, signal, unique_symbol


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[EmbeddedNats]:
    """A server of this test's own, so that restarting it disturbs no other test."""
    server = EmbeddedNats(tmp_path / "var" / "nats", _free_port())
    try:
        yield server
    finally:
        server.stop()


def test_binary_is_the_packaged_one_not_the_system_one() -> None:
    binary = find_nats_server_binary()

    assert binary.is_file()
    assert not str(binary).startswith(("/usr/sbin", "/usr/bin"))


async def test_restart_on_the_same_store_keeps_stored_events_and_consumer_position(
    own_server: EmbeddedNats, unique_durable: Callable[[str], str]
) -> None:
    own_server.start()
    symbol = unique_symbol()
    durable = unique_durable("restart")
    events = [signal(symbol, day) for day in range(4)]
    bus = await NatsBus.connect(
        own_server.url, client_name="before-restart", metrics=BusMetrics(new_registry())
    )
    try:
        for event in events[:3]:
            await bus.publish(event)
        first = Collector(symbol)
        await bus.subscribe(SUBJECT, durable=durable, handler=first)
        await first.wait_for(3)
    finally:
        await bus.close()

    own_server.stop()
    own_server.start()

    bus = await NatsBus.connect(
        own_server.url, client_name="after-restart", metrics=BusMetrics(new_registry())
    )
    try:
        # Publishing an already stored event again is recognised: the store survived.
        await bus.publish(events[0])
        await bus.publish(events[3])
        history = Collector(symbol)
        await bus.subscribe(SUBJECT, durable=unique_durable("history"), handler=history)
        resumed = Collector(symbol)
        await bus.subscribe(SUBJECT, durable=durable, handler=resumed)
        replayed = await history.wait_for(4)
        after_restart = await resumed.wait_for(1)
    finally:
        await bus.close()

    assert own_server.log_path.is_file()
    assert [e.event_id for e in replayed] == [e.event_id for e in events]
    assert [e.event_id for e in after_restart] == [events[3].event_id]
    assert first.event_ids == [e.event_id for e in events[:3]]


def test_a_server_already_on_the_port_is_reused_and_left_running(
    own_server: EmbeddedNats, tmp_path: Path
) -> None:
    own_server.start()
    port = int(own_server.url.rsplit(":", 1)[1])
    second = EmbeddedNats(tmp_path / "other" / "nats", port)

    second.start()
    second.stop()

    assert second.url == own_server.url
    assert probe_nats("127.0.0.1", port) is not None
    assert own_server.owns_process


def test_a_port_held_by_something_else_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        server = EmbeddedNats(tmp_path / "nats", port)

        with pytest.raises(ConfigurationError, match="not a NATS server"):
            # The listener never speaks, which a NATS server always does first.
            server.start()

    assert not server.owns_process
