"""Correlation buckets: configured groups, plus groups derived from rolling return correlation.

`ReturnCorrelations` keeps the returns and derives groups from them; `CorrelationBuckets` is
the map the risk engine reads: each symbol's bucket and each bucket's members.

Returns are floats (indicator maths, never booked). Each is kept as its exact Decimal until a
derivation first reads it, so the returns of a lone symbol (which never groups) are never
converted. A symbol joins the derivation once it has a return at each of the last
`min_observations` bar times; two such symbols whose Pearson correlation over the common window
reaches the threshold share a bucket, and buckets are the connected groups of that relation.
Configured buckets win: a configured symbol is never moved.
"""

from __future__ import annotations

import math
from collections import deque
from datetime import datetime
from decimal import Decimal

from atp.core.ids import Symbol
from atp.core.money import ZERO
from atp.risk.config import CorrelationConfig

# Decimal operands, not ints: an int is converted to a Decimal on every operation.
_ONE = Decimal(1)


class ReturnCorrelations:
    """Rolling close-to-close returns per symbol, and the buckets they imply."""

    def __init__(self, config: CorrelationConfig) -> None:
        self._config = config
        self._last_close: dict[Symbol, Decimal] = {}
        self._returns: dict[Symbol, dict[datetime, Decimal | float]] = {}
        self._times: deque[datetime] = deque()
        self._new_times = 0

    def reconfigure(self, config: CorrelationConfig) -> None:
        """Uses new parameters from the next derivation on."""
        self._config = config

    def on_close(self, symbol: Symbol, at: datetime, close: Decimal) -> bool:
        """Records a bar close; returns True when buckets are due to be derived again."""
        last_close = self._last_close
        previous = last_close.get(symbol)
        last_close[symbol] = close
        if previous is None or previous <= ZERO:
            return False
        # get-then-create: setdefault would build (and drop) a dict on every close.
        returns = self._returns.get(symbol)
        if returns is None:
            returns = self._returns[symbol] = {}
        returns[at] = close / previous - _ONE
        times = self._times
        if not times or at > times[-1]:
            times.append(at)
            self._new_times += 1
            window = self._config.window
            while len(times) > window:
                oldest = times.popleft()
                for series in self._returns.values():
                    series.pop(oldest, None)
        if self._new_times >= self._config.recompute_every:
            self._new_times = 0
            return True
        return False

    def derive(self, exclude: set[Symbol]) -> dict[Symbol, str]:
        """Groups symbols (not in `exclude`) whose returns correlate at or above the threshold."""
        if len(self._returns) - len(exclude.intersection(self._returns)) < 2:
            return {}  # fewer than two candidates: nothing to group, so no vector is built
        # The newest bar time is still arriving (this very close opened it): leave it out.
        times = list(self._times)[:-1]
        if len(times) < self._config.min_observations:
            return {}
        vectors: dict[Symbol, list[float]] = {}
        for symbol, series in self._returns.items():
            if symbol in exclude:
                continue
            # The common window: the longest run of recent times every symbol has.
            values = _recent_run(series, times)
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


class CorrelationBuckets:
    """Which bucket each symbol is in: the configured buckets over the derived ones."""

    def __init__(self, config: CorrelationConfig) -> None:
        self._configured: dict[Symbol, str] = {}
        self._derived: dict[Symbol, str] = {}
        # Read by every pre-trade check: a plain dict attribute, not a method.
        self.by_symbol: dict[Symbol, str] = {}
        self._members: dict[str, tuple[Symbol, ...]] = {}
        self.reconfigure(config)

    def reconfigure(self, config: CorrelationConfig) -> None:
        """Takes the configured buckets of `config`; with `derive` off, drops the derived ones."""
        self._configured = {
            Symbol(symbol): name for name, symbols in config.buckets.items() for symbol in symbols
        }
        if not config.derive:
            self._derived = {}  # only the configured buckets from now on
        self._rebuild()

    def derive(self, correlations: ReturnCorrelations) -> None:
        """Regroups the symbols not configured by how their returns correlate now."""
        self._derived = correlations.derive(exclude=set(self._configured))
        self._rebuild()

    def members(self) -> dict[str, tuple[Symbol, ...]]:
        """Every bucket and its symbols, sorted."""
        return dict(self._members)

    def _rebuild(self) -> None:
        by_symbol = dict(self._derived)
        by_symbol.update(self._configured)
        members: dict[str, list[Symbol]] = {}
        for symbol, name in by_symbol.items():
            members.setdefault(name, []).append(symbol)
        self.by_symbol = by_symbol
        self._members = {name: tuple(sorted(symbols)) for name, symbols in members.items()}


def _recent_run(series: dict[datetime, Decimal | float], times: list[datetime]) -> list[float]:
    """The returns at the latest of `times` up to the first gap, oldest first, as floats.

    A return read for the first time is converted and stored back as a float: once each.
    """
    run: list[float] = []
    for at in reversed(times):
        value = series.get(at)
        if value is None:
            break
        if not isinstance(value, float):
            value = series[at] = float(value)
        run.append(value)
    run.reverse()
    return run


def _standardize(values: list[float]) -> list[float] | None:
    """Values minus their mean over their population deviation; None if they never move."""
    count = len(values)
    mean = sum(values) / count
    deviation = math.sqrt(sum((v - mean) ** 2 for v in values) / count)
    if deviation == 0 or not math.isfinite(deviation):
        return None
    return [(v - mean) / deviation for v in values]
