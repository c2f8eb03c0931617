"""Aligns several bar series on one calendar: a time-ordered stream of per-timestamp batches.

The calendar is the union of the series' timestamps. A symbol with no bar at a timestamp (not
yet listed, a halt, a sparse minute file) is simply absent from that batch: nothing is filled
forward, so no bar is invented. Within a batch, bars follow the order the series were given,
so a replay is deterministic.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from atp.core.errors import InvalidInput
from atp.core.events import MarketSignal
from atp.core.frozen import quick_init
from atp.marketdata.catalog import BarSeries


@quick_init
@dataclass(frozen=True, slots=True)
class BarBatch:
    """Every bar that shares one timestamp, one per symbol at most."""

    timestamp: datetime
    bars: tuple[MarketSignal, ...]


def merge_series(series: Sequence[BarSeries]) -> Iterator[BarBatch]:
    """Yields the bars of `series` as time-ordered batches (O(n log k) for k series).

    Raises:
        InvalidInput: two series share a symbol, or their timeframes differ.
    """
    symbols = [s.symbol for s in series]
    if len(set(symbols)) != len(symbols):
        raise InvalidInput(f"expected distinct symbols to align, found {', '.join(symbols)}")
    timeframes = {s.timeframe for s in series}
    if len(timeframes) > 1:
        raise InvalidInput(
            f"expected one timeframe to align, found {', '.join(sorted(timeframes))}"
        )
    streams = [((bar.timestamp, index, bar) for bar in s.bars) for index, s in enumerate(series)]
    current: datetime | None = None
    pending: list[MarketSignal] = []
    for timestamp, _index, bar in heapq.merge(*streams, key=lambda item: (item[0], item[1])):
        if timestamp != current:
            if current is not None:
                yield BarBatch(current, tuple(pending))
            current, pending = timestamp, []
        pending.append(bar)
    if current is not None:
        yield BarBatch(current, tuple(pending))


def align(series: Sequence[BarSeries]) -> list[BarBatch]:
    """All batches of `series` at once (see `merge_series`)."""
    return list(merge_series(series))
