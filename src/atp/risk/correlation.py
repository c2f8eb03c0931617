"""Correlation buckets: configured groups, plus groups derived from rolling return correlation.

Returns are floats (indicator maths, never booked). A symbol joins the derivation once it has a
return at each of the last `min_observations` bar times; two such symbols whose Pearson
correlation over the common window reaches the threshold share a bucket, and buckets are the
connected groups of that relation. Configured buckets win: a configured symbol is never moved.
"""

from __future__ import annotations

import math
from collections import deque
from datetime import datetime
from decimal import Decimal

from atp.core.ids import Symbol
from atp.risk.config import CorrelationConfig


class ReturnCorrelations:
    """Rolling close-to-close returns per symbol, and the buckets they imply."""

    def __init__(self, config: CorrelationConfig) -> None:
        self._config = config
        self._last_close: dict[Symbol, Decimal] = {}
        self._returns: dict[Symbol, dict[datetime, float]] = {}
        self._times: deque[datetime] = deque()
        self._new_times = 0

    def reconfigure(self, config: CorrelationConfig) -> None:
        """Uses new parameters from the next derivation on."""
        self._config = config

    def on_close(self, symbol: Symbol, at: datetime, close: Decimal) -> bool:
        """Records a bar close; returns True when buckets are due to be derived again."""
        previous = self._last_close.get(symbol)
        self._last_close[symbol] = close
        if previous is None or previous <= 0:
            return False
        returns = self._returns.setdefault(symbol, {})
        returns[at] = float(close / previous - 1)
        if not self._times or at > self._times[-1]:
            self._times.append(at)
            self._new_times += 1
            while len(self._times) > self._config.window:
                oldest = self._times.popleft()
                for series in self._returns.values():
                    series.pop(oldest, None)
        if self._new_times >= self._config.recompute_every:
            self._new_times = 0
            return True
        return False

    def derive(self, exclude: set[Symbol]) -> dict[Symbol, str]:
        """Groups symbols (not in `exclude`) whose returns correlate at or above the threshold."""
        # The newest bar time is still arriving (this very close opened it): leave it out.
        times = list(self._times)[:-1]
        if len(times) < self._config.min_observations:
            return {}
        vectors: dict[Symbol, list[float]] = {}
        for symbol, series in self._returns.items():
            if symbol in exclude:
                continue
            recent = [series.get(t) for t in times]
            # The common window: the longest run of recent times every symbol has.
            values = _tail_without_gaps(recent)
            if len(values) >= self._config.min_observations:
                vectors[symbol] = values
        if len(vectors) < 2:
            return {}
        length = min(len(v) for v in vectors.values())
        normalized = {s: _standardize(v[-length:]) for s, v in vectors.items()}
        usable = sorted(s for s, v in normalized.items() if v is not None)
        parent = {s: s for s in usable}

        def find(symbol: Symbol) -> Symbol:
            while parent[symbol] != symbol:
                parent[symbol] = parent[parent[symbol]]
                symbol = parent[symbol]
            return symbol

        threshold = self._config.threshold
        for index, first in enumerate(usable):
            a = normalized[first]
            assert a is not None
            for second in usable[index + 1 :]:
                b = normalized[second]
                assert b is not None
                if sum(x * y for x, y in zip(a, b, strict=True)) / length >= threshold:
                    parent[find(second)] = find(first)
        groups: dict[Symbol, list[Symbol]] = {}
        for symbol in usable:
            groups.setdefault(find(symbol), []).append(symbol)
        result: dict[Symbol, str] = {}
        for members in groups.values():
            if len(members) > 1:
                name = "corr:" + "+".join(members[:3]) + ("+..." if len(members) > 3 else "")
                for symbol in members:
                    result[symbol] = name
        return result


def _tail_without_gaps(values: list[float | None]) -> list[float]:
    tail: list[float] = []
    for value in reversed(values):
        if value is None:
            break
        tail.append(value)
    tail.reverse()
    return tail


def _standardize(values: list[float]) -> list[float] | None:
    """Values minus their mean over their population deviation; None if they never move."""
    count = len(values)
    mean = sum(values) / count
    deviation = math.sqrt(sum((v - mean) ** 2 for v in values) / count)
    if deviation == 0 or not math.isfinite(deviation):
        return None
    return [(v - mean) / deviation for v in values]
