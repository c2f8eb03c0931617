"""A compact equity curve: account segments between trades, priced from the bar columns.

Between two bars the chain ran, cash and quantities do not change; only the marks do. So the
curve keeps one `Segment` (cash and quantities) per bar the chain ran and rebuilds any bar's
`EquityPoint` from it and the exact closes, with the ledger's own arithmetic (cash plus each
position's quantity x last close, in the ledger's position order): the same Decimals the
general engine records bar by bar. The floats the metrics read (`floats`) are `float()` of
those exact equities, computed once, 8 bytes a bar.
"""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import overload

import numpy as np
import numpy.typing as npt

from atp.backtest.columns import SymbolColumns, close_decimals, from_ns, scaled
from atp.backtest.model import EquityPoint
from atp.core.frozen import quick_init
from atp.core.money import ZERO


@quick_init
@dataclass(frozen=True, slots=True)
class Segment:
    """The account from traded bar `start` on: cash and (symbol slot, quantity) in ledger order."""

    start: int
    cash: Decimal
    held: tuple[tuple[int, Decimal], ...]


Held = tuple[tuple[int, Decimal], ...]


class SegmentLog:
    """A run's segments, kept compactly as it goes; each read back as a `Segment`.

    Per segment: its start (8 bytes in an array), its cash and its holdings, the quantity
    alone when the ledger holds just symbol slot 0 (one symbol: the usual case), else the held
    tuple; the Decimals are the ledger's own. About 200 bytes less a segment than a `Segment`
    with its tuples (8 MB at 1M minute bars and 39,000 fills).
    """

    __slots__ = ("_cash", "_held", "_last", "_starts")

    def __init__(self) -> None:
        self._starts = array("q")
        self._cash: list[Decimal] = []
        self._held: list[Decimal | Held] = []
        self._last: tuple[int, Segment | None] = (-1, None)  # the last one read back

    def keep(self, start: int, cash: Decimal, held: Held) -> None:
        """Appends the account from point `start` on, unless the last segment holds it already."""
        if self._cash and self._cash[-1] == cash and self._held_at(-1) == held:
            return
        self._starts.append(start)
        self._cash.append(cash)
        self._held.append(held[0][1] if len(held) == 1 and held[0][0] == 0 else held)

    def starts(self) -> npt.NDArray[np.int64]:
        """Each segment's start."""
        return np.array(self._starts, dtype=np.int64)

    def _held_at(self, index: int) -> Held:
        held = self._held[index]
        return ((0, held),) if isinstance(held, Decimal) else held

    def __len__(self) -> int:
        return len(self._cash)

    def __iter__(self) -> Iterator[Segment]:
        return (self[index] for index in range(len(self)))

    def __getitem__(self, index: int) -> Segment:
        if index < 0:
            index += len(self)
        slot, segment = self._last  # one tuple, replaced whole: readers never see half of it
        if slot == index and segment is not None:
            return segment  # an equity curve reads its points in order: few segments each
        segment = Segment(self._starts[index], self._cash[index], self._held_at(index))
        self._last = (index, segment)
        return segment


class EquityCurve(Sequence[EquityPoint]):
    """One `EquityPoint` per traded bar, built on demand (see the module docstring)."""

    def __init__(
        self,
        *,
        data: list[SymbolColumns],
        stamps: npt.NDArray[np.int64],
        latest: list[npt.NDArray[np.int64]] | None,
        segments: list[Segment] | SegmentLog,
        first: int,
        initial_cash: Decimal,
    ) -> None:
        """`latest`: per symbol slot, its row at each point (None: one symbol, row `first` + i)."""
        self._data = data
        self._stamps = stamps
        self._latest = latest
        self._first = first
        self._starts = (
            segments.starts()
            if isinstance(segments, SegmentLog)
            else np.array([s.start for s in segments], dtype=np.int64)
        )
        self._segments = segments
        self._initial = Segment(0, initial_cash, ())
        self._exact_segments = 0

    @property
    def stamps(self) -> npt.NDArray[np.int64]:
        """Each point's time, int64 nanoseconds since the epoch (UTC)."""
        return self._stamps

    @cached_property
    def floats(self) -> npt.NDArray[np.float64]:
        """float() of each point's exact equity (computed on first use, 8 bytes a bar)."""
        return self._floats()

    @cached_property
    def exposed(self) -> npt.NDArray[np.bool_]:
        """Per point, whether any position was open at its close."""
        return self._exposed()

    @property
    def exact_segments(self) -> int:
        """How many held segments `floats` priced in integers (the rest bar by bar)."""
        _ = self.floats
        return self._exact_segments

    def __len__(self) -> int:
        return len(self._stamps)

    @overload
    def __getitem__(self, index: int) -> EquityPoint: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[EquityPoint]: ...

    def __getitem__(self, index: int | slice) -> EquityPoint | Sequence[EquityPoint]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        segment = self._segment_at(index)
        equity, gross = self._value(segment, index)
        return EquityPoint(from_ns(int(self._stamps[index])), equity, segment.cash, gross)

    def __iter__(self) -> Iterator[EquityPoint]:
        return (self[i] for i in range(len(self)))

    def _segment_at(self, index: int) -> Segment:
        slot = int(np.searchsorted(self._starts, index, side="right")) - 1
        return self._segments[slot] if slot >= 0 else self._initial

    def _rows(self, slot: int, low: int, high: int) -> npt.NDArray[np.int64]:
        """The rows of symbol `slot` at points low..high-1."""
        if self._latest is None:
            return np.arange(self._first + low, self._first + high, dtype=np.int64)
        return self._latest[slot][low:high]

    def _rows_at(self, slot: int, points: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """The rows of symbol `slot` at `points`."""
        return points + self._first if self._latest is None else self._latest[slot][points]

    def _value(self, segment: Segment, index: int) -> tuple[Decimal, Decimal]:
        # The ledger's sums: start from ZERO, add each position's quantity x last price.
        market = gross = ZERO
        latest = self._latest
        for slot, quantity in segment.held:
            position = self._first + index if latest is None else int(latest[slot][index])
            value = quantity * self._data[slot].close(position)
            market += value
            gross += abs(value)
        return segment.cash + market, gross

    def _floats(self) -> npt.NDArray[np.float64]:
        out = np.empty(len(self), dtype=np.float64)
        bounds = [*self._starts.tolist(), len(self)]
        segments: Iterable[Segment] = self._segments
        if bounds[0] > 0:
            segments = itertools.chain([self._initial], segments)
            bounds = [0, *bounds]
        decimals = [close_decimals(columns) for columns in self._data]
        self._exact_segments = 0  # held segments priced in integers (the rest bar by bar)
        # Per symbol slot: segments holding only that symbol, priced together in integers.
        batches: dict[int, _OneHolding] = {}
        for segment, low, high in zip(segments, bounds, bounds[1:], strict=False):
            if not any(q != 0 for _, q in segment.held):
                out[low:high] = float(segment.cash)  # flat: equity is the cash
                continue
            if len(segment.held) == 1 and high > low:
                slot = segment.held[0][0]
                found = _integer_terms(segment, decimals)
                if found is not None:
                    base, ((_, factor),), exponent = found
                    batch = batches.setdefault(slot, _OneHolding())
                    batch.add(segment, low, high, (base, factor, exponent))
                    if batch.bars >= _BATCH_BARS:
                        self._price_one_holding(slot, batch, decimals[slot], out)
                        batches[slot] = _OneHolding()
                    continue
            if self._exact_floats(segment, low, high, decimals, out):
                self._exact_segments += 1
                continue
            self._decimal_floats(segment, low, high, out)
        for slot, batch in batches.items():
            self._price_one_holding(slot, batch, decimals[slot], out)
        return out

    def _price_one_holding(
        self, slot: int, batch: _OneHolding, places: int | None, out: npt.NDArray[np.float64]
    ) -> None:
        """`_exact_floats` for many one-symbol segments at once (same integers, same floats).

        A segment whose integers could pass 2**53 is priced in Decimals instead, as
        `_exact_floats` would refuse it.
        """
        if not batch.segments:
            return
        assert places is not None
        lengths = np.array(batch.lengths, dtype=np.int64)
        firsts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        bars = np.arange(int(lengths.sum()), dtype=np.int64) + np.repeat(
            np.array(batch.lows, dtype=np.int64) - firsts, lengths
        )
        prices = scaled(self._data[slot].floats.close[self._rows_at(slot, bars)], places)
        peaks = np.maximum.reduceat(np.abs(prices), firsts).tolist()
        bases, factors, scales, kept = [], [], [], []
        for (segment, low, high, (base, factor, exponent)), peak in zip(
            batch.segments, peaks, strict=True
        ):
            fits = max(abs(base), abs(factor), abs(base) + abs(factor) * int(peak)) < 2**53
            if not fits:
                self._decimal_floats(segment, low, high, out)
            else:
                self._exact_segments += 1
            kept.append(fits)
            bases.append(base if fits else 0)
            factors.append(factor if fits else 0)
            scales.append(10.0 ** (-exponent))
        total = np.repeat(np.array(bases, dtype=np.int64), lengths)
        total += np.repeat(np.array(factors, dtype=np.int64), lengths) * prices
        values = total.astype(np.float64) / np.repeat(np.array(scales), lengths)
        mask = np.repeat(np.array(kept, dtype=bool), lengths)
        out[bars[mask]] = values[mask]

    def _decimal_floats(
        self, segment: Segment, low: int, high: int, out: npt.NDArray[np.float64]
    ) -> None:
        """float(exact equity) of bars low..high-1 in Decimals, as `_value` sums them.

        Each held symbol's closes over the segment are read in one go (a segment's bars are
        consecutive rows of each symbol), not row by row.
        """
        held = []
        for slot, quantity in segment.held:
            positions = self._rows(slot, low, high)
            first = int(positions[0])
            texts = self._data[slot].texts.closes(first, int(positions[-1]) + 1)
            held.append((quantity, texts, (positions - first).tolist()))
        cash = segment.cash
        for offset in range(high - low):
            market = ZERO
            for quantity, texts, rows in held:
                market += quantity * Decimal(texts[rows[offset]])
            out[low + offset] = float(cash + market)

    def _exact_floats(
        self,
        segment: Segment,
        low: int,
        high: int,
        decimals: list[int | None],
        out: npt.NDArray[np.float64],
    ) -> bool:
        """float(exact equity) of bars low..high-1 in integers; False when not provably exact.

        Equity = cash + sum(quantity x close), all decimals: as integers N at one exponent E
        (value N x 10**E). When |N| < 2**53 and 10**-E <= 10**22 both are exact doubles, so
        N / 10**-E is the correctly rounded value, which is what float(Decimal) gives; the
        Decimal sum itself is exact there (16 digits, below the context's 28).
        """
        found = _integer_terms(segment, decimals)
        if found is None:
            return False
        base, terms, exponent = found
        bound = abs(base)
        factors = []
        for slot, factor in terms:
            places = decimals[slot]
            assert places is not None  # `_integer_terms` prices only short-decimal columns
            positions = self._rows(slot, low, high)
            prices = scaled(self._data[slot].floats.close[positions], places)
            bound += abs(factor) * int(np.max(np.abs(prices)))
            factors.append((factor, prices))
        if bound >= 2**53:
            return False
        total = np.full(high - low, base, dtype=np.int64)
        for factor, prices in factors:
            total += factor * prices
        out[low:high] = total.astype(np.float64) / 10.0 ** (-exponent)
        return True

    def _exposed(self) -> npt.NDArray[np.bool_]:
        flags = np.zeros(len(self), dtype=bool)
        bounds = [*self._starts.tolist(), len(self)]
        for segment, low, high in zip(self._segments, bounds, bounds[1:], strict=False):
            flags[low:high] = any(q != 0 for _, q in segment.held)
        return flags


_BATCH_BARS = 1 << 14  # bars priced per batch of one-symbol segments (about 2 MB at a time)


class _OneHolding:
    """One-symbol segments waiting to be priced together, with their integer terms."""

    __slots__ = ("bars", "lengths", "lows", "segments")

    def __init__(self) -> None:
        self.segments: list[tuple[Segment, int, int, tuple[int, int, int]]] = []
        self.lows: list[int] = []
        self.lengths: list[int] = []
        self.bars = 0

    def add(self, segment: Segment, low: int, high: int, terms: tuple[int, int, int]) -> None:
        self.segments.append((segment, low, high, terms))
        self.lows.append(low)
        self.lengths.append(high - low)
        self.bars += high - low


def _integer_terms(
    segment: Segment, decimals: list[int | None]
) -> tuple[int, list[tuple[int, int]], int] | None:
    """(base, [(slot, factor)], exponent): equity = (base + sum(factor x close x 10**places))
    x 10**exponent, each close scaled to an integer at its column's places.

    The integers `_exact_floats` prices a segment with; None when a column's closes are not
    all short decimals or the exponent is past what a double holds exactly (10**22).
    """
    cash_int, cash_exp = _integer(segment.cash)
    scaled_terms = []
    for slot, quantity in segment.held:
        places = decimals[slot]
        if places is None:
            return None
        quantity_int, quantity_exp = _integer(quantity)
        scaled_terms.append((slot, quantity_int, quantity_exp - places))
    exponent = min(cash_exp, *(term_exp for _, _, term_exp in scaled_terms))
    if -exponent > 22:
        return None
    base = cash_int * 10 ** (cash_exp - exponent)
    terms = [
        (slot, quantity_int * 10 ** (term_exp - exponent))
        for slot, quantity_int, term_exp in scaled_terms
    ]
    return base, terms, exponent


def _integer(value: Decimal) -> tuple[int, int]:
    """(N, E) with value == N x 10**E exactly."""
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int), f"not a finite amount: {value}"
    number = int("".join(map(str, digits))) if digits else 0
    return (-number if sign else number), exponent
