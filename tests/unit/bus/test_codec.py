"""The codec refuses what breaks the contract, with a reason fit for a dead-letter record."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from atp.bus import codec
from atp.core.events import MarketSignal, envelope_for
from atp.core.ids import SignalId, Symbol


def _signal_bytes() -> bytes:
    signal = MarketSignal(
        signal_id=SignalId("s1"),
        symbol=Symbol("AAPL"),
        timeframe="1d",
        timestamp=datetime(2024, 1, 2, tzinfo=UTC),
        open=Decimal("187.15"),
        high=Decimal("188.44"),
        low=Decimal("183.89"),
        close=Decimal("185.64"),
        volume=Decimal("82488700"),
        feed="test",
    )
    return codec.encode(envelope_for(signal, source="test", event_time=signal.timestamp))


def _mutate(path: list[str], value: object) -> bytes:
    document = json.loads(_signal_bytes())
    node = document
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return json.dumps(document).encode()


def test_prices_cross_the_wire_exactly() -> None:
    decoded = codec.decode(_signal_bytes())
    assert decoded.payload.close == Decimal("185.64")
    assert b'"close":"185.64"' in _signal_bytes()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (_mutate(["type"], "signals.unknown"), "unknown event type"),
        (_mutate(["payload", "close"], 185.64), "payload/close"),
        (_mutate(["payload", "close"], "NaN"), "payload/close"),
        (_mutate(["payload", "timestamp"], "2024-01-02T00:00:00"), "payload/timestamp"),
        (_mutate(["event_time"], "yesterday"), "event_time"),
        (_mutate(["payload", "extra"], 1), "Additional properties"),
    ],
)
def test_bad_messages_are_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(codec.WireError) as caught:
        codec.decode(data)
    assert reason in caught.value.reason


def test_a_message_on_the_wrong_subject_is_refused() -> None:
    with pytest.raises(codec.WireError, match="arrived on subject"):
        codec.decode(_signal_bytes(), expected_subject="decisions.meta")
