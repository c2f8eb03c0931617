"""Hand-made bars for strategy and host tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from atp.core.events import MarketSignal
from atp.core.ids import Symbol, signal_id_for

START = datetime(2024, 1, 2, 5, tzinfo=UTC)


def bar(close: float | str, index: int, symbol: str = "AAA") -> MarketSignal:
    """A daily bar `index` days after START whose open/high/low/close are all `close`."""
    timestamp = START + timedelta(days=index)
    price = Decimal(str(close))
    return MarketSignal(
        signal_id=signal_id_for(Symbol(symbol), "1d", timestamp.isoformat()),
        symbol=Symbol(symbol),
        timeframe="1d",
        timestamp=timestamp,
        open=price,
        high=price,
        low=price,
        close=price,
        volume=Decimal(1000),
        feed="test",
    )


def series(closes: list[float], symbol: str = "AAA") -> list[MarketSignal]:
    """Bars with the given closes on consecutive days."""
    return [bar(close, i, symbol) for i, close in enumerate(closes)]
