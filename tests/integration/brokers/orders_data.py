"""Bars and decisions for the broker integration tests."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.support import daily_bar, meta_decision

from atp.core.events import MarketSignal, MetaDecision

T0 = datetime(2024, 3, 1, 21, tzinfo=UTC)


def signal_for(day: int, close: str = "50.25", symbol: str = "KILL") -> MarketSignal:
    return daily_bar(symbol, day, close, start=T0, volume="10000000")


def decision(n: int, symbol: str = "KILL", quantity: str = "2") -> MetaDecision:
    return meta_decision(
        f"kill-decision-{n}",
        symbol,
        signal_id=f"{symbol}-0",
        quantity=quantity,
        reference_price="50.25",
        decided_at=T0,
    )
