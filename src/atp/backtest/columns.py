"""Bars as compact columns: what the fast engine reads instead of one `MarketSignal` per bar.

A `SymbolColumns` holds one symbol's bars as int64 UTC nanosecond timestamps, float64 prices
(for the strategies' `signals` hook and the equity curve) and the exact price texts (for
money: a fill, a mark or an equity point is booked from `Decimal(text)`, the very value the
catalog would have read), either as fixed-width bytes (`ArrayTexts`) or as row offsets into
the file, read back on demand (`atp.backtest.csv_rows.FileTexts`). About 52 bytes a bar
from a file instead of about 2 KB; a `MarketSignal` is built only for a bar the live chain
must see (`bar(i)`).

Two ways in:

* `from_series(series)`: from the catalog's `BarSeries` (every layout, every rule of
  `atp.marketdata.catalog`);
* `read_csv_columns(path, ...)`: streams a plain `Date[,time],Open,High,Low,Close,Volume` CSV
  with pyarrow's C reader (`atp.backtest.csv_columns`), never holding a Python object per
  row, for long files. Anything it does not handle the same way as the catalog (a Symbol or
  Time column, an offset or a US date, unsorted or duplicate rows, a bad value) is handed to
  the catalog instead, so the bars and the error messages are the catalog's.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from pathlib import Path

import numpy as np
import numpy.typing as npt

from atp.agents.strategy import BarColumns
from atp.backtest.csv_columns import NotPlain, read_columns
from atp.backtest.csv_rows import FileTexts, row_starts
from atp.core.events import MarketSignal
from atp.core.ids import Symbol, signal_id_for
from atp.marketdata.catalog import DEFAULT_TIMEZONE, BarSeries, load_bars
from atp.marketdata.columns import map_columns
from atp.marketdata.series import timeframe_name
from atp.marketdata.timeparse import exchange_zone

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DECIMALS_BLOCK = 1 << 14
_BLOCK = 1 << 16  # rows converted at a time: temporaries of a few hundred KB
_DAY_NS = 86_400 * 1_000_000_000
_FIELDS = ("open", "high", "low", "close", "volume")
TextColumn = npt.NDArray[np.bytes_]


class ArrayTexts:
    """The exact price texts of each row, held as five fixed-width bytes columns."""

    __slots__ = ("_columns", "short_numbers")

    def __init__(self, columns: tuple[TextColumn, ...]) -> None:
        self._columns = columns
        # Every text fits in 15 characters, so no number has more than 15 digits.
        self.short_numbers = max((t.dtype.itemsize for t in columns), default=0) <= 15

    def row(self, index: int) -> tuple[str, str, str, str, str]:
        """Open, high, low, close and volume of row `index`, as printed."""
        o, h, low, c, v = (t[index].decode() for t in self._columns)
        return o, h, low, c, v

    def close(self, index: int) -> str:
        """The close of row `index`, as printed."""
        return str(self._columns[3][index].decode())

    def closes(self, low: int, high: int) -> list[str]:
        """The closes of rows low..high-1, as printed."""
        return [text.decode() for text in self._columns[3][low:high].tolist()]

    def sliced(self, low: int, high: int) -> ArrayTexts:
        """Rows low..high-1."""
        return ArrayTexts(tuple(t[low:high] for t in self._columns))


RowTexts = ArrayTexts | FileTexts


def to_ns(moment: datetime) -> int:
    """The int64 nanoseconds since the epoch of an aware datetime (microsecond precision)."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def from_ns(value: int) -> datetime:
    """The aware UTC datetime of an int64 nanosecond timestamp."""
    return _EPOCH + timedelta(microseconds=value // 1000)


@dataclass(frozen=True, slots=True)
class SymbolColumns:
    """One symbol's bars, oldest first, as columns (see the module docstring)."""

    symbol: Symbol
    timeframe: str
    feed: str
    timestamps: npt.NDArray[np.int64]
    floats: BarColumns
    texts: RowTexts

    def __len__(self) -> int:
        return len(self.timestamps)

    def close(self, index: int) -> Decimal:
        """The exact close of bar `index`."""
        return Decimal(self.texts.close(index))

    def bar(self, index: int, moment: datetime | None = None) -> MarketSignal:
        """Bar `index` as the catalog would have built it (exact Decimals, same signal id).

        `moment` is the bar's time when the caller has it already (`from_ns` of its stamp).
        """
        if moment is None:
            moment = from_ns(int(self.timestamps[index]))
        open_, high, low, close, volume = map(Decimal, self.texts.row(index))
        return MarketSignal(
            signal_id=signal_id_for(self.symbol, self.timeframe, moment.isoformat()),
            symbol=self.symbol,
            timeframe=self.timeframe,
            timestamp=moment,
            open=open_,
            high=high,
            low=low,
            close=close,
            volume=volume,
            feed=self.feed,
        )


def close_decimals(columns: SymbolColumns) -> int | None:
    """The k with every close == its float x 10**k as an integer exactly, or None.

    Exact when no price text has more than 15 digits (`short_numbers`): such a decimal is
    the only one of its length that parses to its float, so `round(x * 10**k) / 10**k == x`
    (integers below 10**15) identifies it. Checked in blocks (a few hundred KB at a time); a k that
    works for a block works for any larger k, so the column's k is the blocks' largest.
    """
    if not columns.texts.short_numbers or not len(columns):
        return None
    closes = columns.floats.close
    found = 0
    highest = 0.0  # the largest |close| so far (a column-long abs() would be 8 bytes a bar)
    for low in range(0, len(closes), _DECIMALS_BLOCK):
        block = closes[low : low + _DECIMALS_BLOCK]
        peak = float(np.max(np.abs(block)))
        highest = max(highest, peak)
        for decimals in range(found, 16):
            scale = 10.0**decimals
            if peak * scale >= 1e15:
                return None
            if np.array_equal(np.round(block * scale) / scale, block):
                found = decimals
                break
        else:
            return None
    if highest * 10.0**found >= 1e15:
        return None
    return found


def scaled(values: npt.NDArray[np.float64], decimals: int) -> npt.NDArray[np.int64]:
    """`values` x 10**decimals as exact integers (for closes with `close_decimals`)."""
    return np.round(values * 10.0**decimals).astype(np.int64)


def from_series(series: BarSeries) -> SymbolColumns:
    """The columns of a catalog series (exact: each text is the bar's Decimal as printed)."""
    bars = series.bars
    texts = tuple(
        np.array([str(getattr(b, f)).encode() for b in bars], dtype=np.bytes_) for f in _FIELDS
    )
    floats = [np.array([float(getattr(b, f)) for b in bars], dtype=np.float64) for f in _FIELDS]
    feed = bars[0].feed if bars else f"csv:{Path(series.source).name}"
    return SymbolColumns(
        symbol=series.symbol,
        timeframe=series.timeframe,
        feed=feed,
        timestamps=np.array([to_ns(b.timestamp) for b in bars], dtype=np.int64),
        floats=BarColumns(*floats),
        texts=ArrayTexts(texts),
    )


def read_csv_columns(
    path: Path | str, *, symbol: str, timezone: str = DEFAULT_TIMEZONE
) -> SymbolColumns:
    """Streams `path` into columns; hands anything unusual to the catalog (module docstring).

    Raises:
        InvalidInput: as `atp.marketdata.catalog.load_bars` does, for the same file.
    """
    path = Path(path)
    try:
        return _read_plain(path, Symbol(symbol.upper()), timezone)
    except NotPlain:
        return from_series(load_bars(path, symbol=symbol, timezone=timezone))


def _read_plain(path: Path, symbol: Symbol, timezone: str) -> SymbolColumns:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle))
    except Exception as exc:
        raise NotPlain from exc
    names = [str(h) for h in header]
    try:
        columns = map_columns(names, None, source=str(path))
    except Exception as exc:
        raise NotPlain from exc
    if (
        columns.clock_time is not None
        or columns.symbol is not None
        or columns.volume is None
        or columns.timestamp_is_utc
    ):
        raise NotPlain
    prices = (columns.open, columns.high, columns.low, columns.close, columns.volume)
    starts, longest_number, commas = row_starts(path)
    if commas != len(starts) * (len(names) - 1):
        raise NotPlain  # a line with more or fewer fields than the header
    wanted = [columns.timestamp, *prices]
    local_ns, floats, date_only = read_columns(path, len(names), wanted, len(starts) - 1)
    if len(local_ns) > 1 and not (local_ns[1:] > local_ns[:-1]).all():
        raise NotPlain  # newest first, unsorted or repeated: the catalog sorts or refuses
    utc = _to_utc(local_ns, timezone)
    return SymbolColumns(
        symbol=symbol,
        timeframe=_timeframe(utc, date_only),
        feed=f"csv:{path.name}",
        timestamps=utc,
        floats=BarColumns(*floats),
        texts=FileTexts.open(path, starts, prices, short_numbers=longest_number <= 15),
    )


def _to_utc(local_ns: npt.NDArray[np.int64], timezone: str) -> npt.NDArray[np.int64]:
    """Local wall-clock nanoseconds to UTC, as `parse_timestamp` reads them (fold 0).

    Converted in place, `_BLOCK` rows at a time (no temporary a column long), and returned.
    """
    zone = exchange_zone(timezone)
    # Per local day: its offset in ns, or None on a day with a daylight-saving change.
    day_offsets: dict[int, int | None] = {}
    offset_ns: dict[timedelta, int] = {}  # a zone has few distinct offsets
    naive_epoch = datetime(1970, 1, 1)  # noqa: DTZ001 (wall-clock time, naive on purpose)
    day_end = timedelta(hours=23, minutes=59)
    for low in range(0, len(local_ns), _BLOCK):
        block = local_ns[low : low + _BLOCK]  # a view: converted in place
        unique_days, inverse = np.unique(block // _DAY_NS, return_inverse=True)
        offsets = np.zeros(len(unique_days), dtype=np.int64)
        mixed = np.zeros(len(unique_days), dtype=bool)
        for slot, day in enumerate(unique_days.tolist()):
            if day not in day_offsets:
                start = naive_epoch + timedelta(days=day)
                # The zone's offset at a wall-clock time (fold 0), as if attached with
                # `replace`: asked of the zone directly, 20 times cheaper (one call per day).
                first = zone.utcoffset(start)
                last = zone.utcoffset(start + day_end)
                assert first is not None and last is not None
                if first != last:
                    day_offsets[day] = None
                elif first in offset_ns:
                    day_offsets[day] = offset_ns[first]
                else:
                    day_offsets[day] = offset_ns[first] = to_ns(_EPOCH + first)
            offset = day_offsets[day]
            if offset is None:
                mixed[slot] = True
            else:
                offsets[slot] = offset
        # A day with a daylight-saving change: each bar on it the slow, exact way.
        exact = [
            (index, _exact_utc(int(block[index]), zone))
            for index in np.flatnonzero(mixed[inverse]).tolist()
        ]
        block -= offsets[inverse]
        for index, utc in exact:
            block[index] = utc
    return local_ns


def _exact_utc(local: int, zone: tzinfo) -> int:
    """One wall-clock time in ns to UTC ns, by attaching the zone (fold 0)."""
    naive = datetime(1970, 1, 1) + timedelta(microseconds=local // 1000)  # noqa: DTZ001
    return to_ns(naive.replace(tzinfo=zone).astimezone(UTC))


def _timeframe(utc: npt.NDArray[np.int64], date_only: bool) -> str:
    """The catalog's `infer_timeframe` over int64 timestamps (ties: the spacing seen first).

    Counted `_BLOCK` spacings at a time (no temporary a column long).
    """
    if len(utc) < 2:
        return "1d" if date_only else "1m"
    counts: dict[int, int] = {}  # per spacing in seconds: how often it occurs
    firsts: dict[int, int] = {}  # and the index it first occurs at
    for low in range(0, len(utc) - 1, _BLOCK):
        spacings = np.diff(utc[low : low + _BLOCK + 1]) // 1_000_000_000
        values, first_seen, found = np.unique(spacings, return_index=True, return_counts=True)
        for value, first, count in zip(
            values.tolist(), first_seen.tolist(), found.tolist(), strict=True
        ):
            counts[value] = counts.get(value, 0) + count
            firsts.setdefault(value, low + first)
    best = max(counts.values())
    spacing = min((firsts[value], value) for value, count in counts.items() if count == best)[1]
    return timeframe_name(spacing, daily=date_only)
