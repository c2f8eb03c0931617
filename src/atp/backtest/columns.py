"""Bars as compact columns: what the fast engine reads instead of one `MarketSignal` per bar.

A `SymbolColumns` holds one symbol's bars as int64 UTC nanosecond timestamps, float64 prices
(for the strategies' `signals` hook and the equity curve's floats) and the exact price texts
as fixed-width bytes (for money: a fill, a mark or an equity point is booked from
`Decimal(text)`, the very value the catalog would have read). About 90 bytes a bar instead of
about 2 KB; a `MarketSignal` is built only for a bar the live chain must see (`bar(i)`).

Two ways in:

* `from_series(series)`: from the catalog's `BarSeries` (every layout, every rule of
  `atp.marketdata.catalog`);
* `read_csv_columns(path, ...)`: streams a plain `Date[,time],Open,High,Low,Close,Volume` CSV
  in chunks with pandas' C reader, never holding a signal per bar, for long files. Anything
  it does not handle the same way as the catalog (a Symbol or Time column, an offset or a
  US date, unsorted or duplicate rows, a bad value) is handed to the catalog instead, so the
  bars and the error messages are the catalog's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped]

from atp.agents.strategy import BarColumns
from atp.core.events import MarketSignal
from atp.core.ids import Symbol, signal_id_for
from atp.marketdata.catalog import DEFAULT_TIMEZONE, BarSeries, load_bars
from atp.marketdata.columns import map_columns
from atp.marketdata.timeparse import exchange_zone

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIELDS = ("open", "high", "low", "close", "volume")
_CHUNK_ROWS = 200_000
_PLAIN_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}(:\d{2})?)?$")
TextColumn = npt.NDArray[np.bytes_]


def _ns(moment: datetime) -> int:
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
    texts: tuple[TextColumn, TextColumn, TextColumn, TextColumn, TextColumn]

    def __len__(self) -> int:
        return len(self.timestamps)

    def close(self, index: int) -> Decimal:
        """The exact close of bar `index`."""
        return Decimal(self.texts[3][index].decode())

    def bar(self, index: int) -> MarketSignal:
        """Bar `index` as the catalog would have built it (exact Decimals, same signal id)."""
        moment = from_ns(int(self.timestamps[index]))
        open_, high, low, close, volume = (Decimal(t[index].decode()) for t in self.texts)
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
        timestamps=np.array([_ns(b.timestamp) for b in bars], dtype=np.int64),
        floats=BarColumns(*floats),
        texts=texts,  # type: ignore[arg-type]
    )


class _NotPlain(Exception):
    """The file needs the catalog's general reader."""


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
    except _NotPlain:
        return from_series(load_bars(path, symbol=symbol, timezone=timezone))


def _read_plain(path: Path, symbol: Symbol, timezone: str) -> SymbolColumns:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            header = next(iter(pd.read_csv(handle, nrows=1, header=None, dtype=str).values))
            first = None
    except Exception as exc:
        raise _NotPlain from exc
    names = [str(h) for h in header]
    try:
        columns = map_columns(names, first, source=str(path))
    except Exception as exc:
        raise _NotPlain from exc
    if (
        columns.clock_time is not None
        or columns.symbol is not None
        or columns.volume is None
        or columns.timestamp_is_utc
    ):
        raise _NotPlain
    wanted = [columns.timestamp, columns.open, columns.high, columns.low, columns.close]
    wanted.append(columns.volume)
    stamps: list[npt.NDArray[np.int64]] = []
    texts: list[list[TextColumn]] = [[] for _ in _FIELDS]
    floats: list[list[npt.NDArray[np.float64]]] = [[] for _ in _FIELDS]
    date_only: bool | None = None
    for chunk in _chunks(path, wanted, len(names)):
        raw = chunk[0]
        lengths = {len(t) for t in raw}
        # Only `YYYY-MM-DD[ HH:MM[:SS]]`: an offset, a T, a fraction or a US date is the catalog's.
        if len(lengths) != 1 or not lengths <= {10, 16, 19} or not _PLAIN_STAMP.match(raw[0]):
            raise _NotPlain
        chunk_date_only = lengths == {10}
        if date_only is None:
            date_only = chunk_date_only
        elif date_only != chunk_date_only:
            raise _NotPlain
        try:
            local = np.array(raw, dtype="datetime64[ns]")
        except ValueError as exc:
            raise _NotPlain from exc
        stamps.append(local.astype(np.int64))
        for slot, values in enumerate(chunk[1:]):
            try:
                numbers = np.array(values, dtype=np.float64)
                encoded = np.array([v.strip().encode("ascii") for v in values], dtype=np.bytes_)
            except (ValueError, UnicodeEncodeError) as exc:
                raise _NotPlain from exc
            bad = ~np.isfinite(numbers) | (numbers < 0 if slot == 4 else numbers <= 0)
            if bad.any():
                raise _NotPlain
            floats[slot].append(numbers)
            texts[slot].append(encoded)
    if not stamps:
        raise _NotPlain
    local_ns = np.concatenate(stamps)
    if len(local_ns) > 1 and not (np.diff(local_ns) > 0).all():
        raise _NotPlain  # newest first, unsorted or repeated: the catalog sorts or refuses
    utc = _to_utc(local_ns, timezone)
    return SymbolColumns(
        symbol=symbol,
        timeframe=_timeframe(utc, bool(date_only)),
        feed=f"csv:{path.name}",
        timestamps=utc,
        floats=BarColumns(*(np.concatenate(f) for f in floats)),
        texts=tuple(_widest(t) for t in texts),  # type: ignore[arg-type]
    )


def _widest(parts: list[TextColumn]) -> TextColumn:
    width = max(p.dtype.itemsize for p in parts)
    return np.concatenate([p.astype(f"S{width}") for p in parts])


def _chunks(path: Path, wanted: list[int], width: int) -> Iterator[list[list[str]]]:
    """The wanted columns of each chunk of rows, as lists of text (blank lines skipped)."""
    try:
        reader = pd.read_csv(
            path,
            header=0,
            dtype=str,
            keep_default_na=False,
            usecols=wanted,
            chunksize=_CHUNK_ROWS,
            encoding="utf-8-sig",
            skip_blank_lines=True,
        )
        for frame in reader:
            if frame.shape[1] != len(set(wanted)):
                raise _NotPlain
            yield [frame.iloc[:, sorted(set(wanted)).index(c)].tolist() for c in wanted]
    except (ValueError, pd.errors.ParserError) as exc:
        raise _NotPlain from exc
    if width < max(wanted) + 1:
        raise _NotPlain


def _to_utc(local_ns: npt.NDArray[np.int64], timezone: str) -> npt.NDArray[np.int64]:
    """Local wall-clock nanoseconds to UTC, as `parse_timestamp` reads them (fold 0)."""
    zone = exchange_zone(timezone)
    day_ns = 86_400 * 1_000_000_000
    days = local_ns // day_ns
    unique_days, inverse = np.unique(days, return_inverse=True)
    offsets = np.empty(len(unique_days), dtype=np.int64)
    mixed = np.zeros(len(unique_days), dtype=bool)
    for slot, day in enumerate(unique_days.tolist()):
        # Wall-clock time (naive on purpose): the zone is attached below, as the catalog does.
        start = datetime(1970, 1, 1) + timedelta(days=day)  # noqa: DTZ001
        first = start.replace(tzinfo=zone).utcoffset()
        last = (start + timedelta(hours=23, minutes=59)).replace(tzinfo=zone).utcoffset()
        assert first is not None and last is not None
        offsets[slot] = _ns(_EPOCH + first) if first == last else 0
        mixed[slot] = first != last
    utc = local_ns - offsets[inverse]
    # A day with a daylight-saving change: each bar on it the slow, exact way.
    for index in np.flatnonzero(mixed[inverse]).tolist():
        naive = datetime(1970, 1, 1) + timedelta(microseconds=int(local_ns[index]) // 1000)  # noqa: DTZ001
        utc[index] = _ns(naive.replace(tzinfo=zone).astimezone(UTC))
    return utc


def _timeframe(utc: npt.NDArray[np.int64], date_only: bool) -> str:
    """The catalog's `infer_timeframe` over int64 timestamps (ties: the spacing seen first)."""
    if len(utc) < 2:
        return "1d" if date_only else "1m"
    spacings = np.diff(utc) // 1_000_000_000
    values, first_seen, counts = np.unique(spacings, return_index=True, return_counts=True)
    best = counts.max()
    spacing = int(values[counts == best][np.argmin(first_seen[counts == best])])
    if date_only:
        days = max(1, round(spacing / 86_400))
        if 28 <= days <= 31:
            return "1mo"
        return f"{days // 7}w" if days % 7 == 0 else f"{days}d"
    if spacing % 3600 == 0:
        return f"{spacing // 3600}h"
    if spacing % 60 == 0:
        return f"{spacing // 60}m"
    return f"{spacing}s"
