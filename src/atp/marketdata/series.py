"""`BarSeries`, and how parsed records become one: sorted, named, checked, stamped as signals.

Whatever the file format, the same steps follow parsing: records are sorted ascending
(newest-first files are reversed), a repeated timestamp is refused naming both records, the
symbol is resolved (argument, else the file's own symbol, else the file name), the timeframe
is inferred from the most common spacing unless given, High/Low contradictions are listed
(or refused with `strict_ohlc`), and dividends and splits become `CorporateAction`s.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import pairwise

from atp.core.errors import InvalidInput
from atp.core.events import MarketSignal
from atp.core.ids import Symbol, signal_id_for
from atp.marketdata.records import ParsedRow, PriceBasis


@dataclass(frozen=True, slots=True)
class CorporateAction:
    """A dividend or split a file reports on a bar (informational: never re-applied)."""

    timestamp: datetime
    dividend: Decimal
    split_ratio: Decimal | None


@dataclass(frozen=True, slots=True)
class BarSeries:
    """One symbol's bars from one file, ascending by time, with how they were read.

    `ohlc_anomalies` holds the positions of contradicting bars: lines for CSV, rows for
    Parquet, indexes into `bars` for a JSON fixture. `file_format` and `columns` say which
    layout the file had (the header names as written).
    """

    symbol: Symbol
    timeframe: str
    bars: tuple[MarketSignal, ...]
    source: str
    price_basis: PriceBasis
    timezone: str
    corporate_actions: tuple[CorporateAction, ...] = ()
    ohlc_anomalies: tuple[int, ...] = ()
    file_format: str = "csv"
    columns: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.bars)


@dataclass(frozen=True, slots=True)
class SeriesNaming:
    """What names a series: the resolved symbol, timeframe, zone and the signals' feed."""

    symbol: str
    timeframe: str | None
    timezone: str
    feed: str
    file_format: str
    columns: tuple[str, ...]


def build_series(
    rows: list[ParsedRow],
    naming: SeriesNaming,
    *,
    source: str,
    where: Callable[[int], str],
    price_basis: PriceBasis,
    strict_ohlc: bool,
) -> BarSeries:
    """Sorts, checks and names parsed rows (see the module docstring).

    Args:
        rows: the parsed records, in file order.
        naming: the symbol (already resolved by the caller), timeframe (None: infer), zone,
            feed and layout.
        source: the file, for messages.
        where: names a record position in messages (`line 3`, `row 3`, `bars[3]`).
        price_basis: how the closes were read.
        strict_ohlc: refuse bars whose High/Low contradict Open/Close.

    Raises:
        InvalidInput: a repeated timestamp, a symbol with spaces, or (strict) an OHLC
            contradiction.
    """
    rows = sorted(rows, key=lambda r: r.timestamp)
    for previous, current in pairwise(rows):
        if previous.timestamp == current.timestamp:
            raise InvalidInput(
                f"{source}: {where(current.position)}: duplicate timestamp "
                f"{current.timestamp.isoformat()} (also on {where(previous.position)})"
            )
    if not naming.symbol or any(ch.isspace() for ch in naming.symbol):
        raise InvalidInput(f"{source}: expected a symbol without spaces, found {naming.symbol!r}")
    symbol = Symbol(naming.symbol.upper())
    timeframe = naming.timeframe or infer_timeframe(rows)
    bars = tuple(
        MarketSignal(
            signal_id=signal_id_for(symbol, timeframe, row.timestamp.isoformat()),
            symbol=symbol,
            timeframe=timeframe,
            timestamp=row.timestamp,
            open=row.open,
            high=row.high,
            low=row.low,
            close=row.close,
            volume=row.volume,
            feed=naming.feed,
        )
        for row in rows
    )
    anomalies = tuple(row.position for row in rows if _contradicts(row))
    if strict_ohlc and anomalies:
        raise InvalidInput(
            f"{source}: {where(anomalies[0])}, column 'High'/'Low': High/Low contradict "
            f"Open/Close ({len(anomalies)} bars in the file)"
        )
    actions = tuple(
        CorporateAction(row.timestamp, row.dividend, row.split)
        for row in rows
        if row.dividend != 0 or row.split is not None
    )
    return BarSeries(
        symbol=symbol,
        timeframe=timeframe,
        bars=bars,
        source=source,
        price_basis=price_basis,
        timezone=naming.timezone,
        corporate_actions=actions,
        ohlc_anomalies=anomalies,
        file_format=naming.file_format,
        columns=naming.columns,
    )


def infer_timeframe(rows: Sequence[ParsedRow]) -> str:
    """Names the most common spacing of the bars: `1m`, `5m`, `1h`, `1d`, `2d`, `1w`, `1mo`.

    Bars count as daily (or longer) when every one of them is a session date.
    """
    daily = bool(rows) and all(row.date_only for row in rows)
    if len(rows) < 2:
        return "1d" if daily else "1m"
    spacing = Counter(
        int((b.timestamp - a.timestamp).total_seconds()) for a, b in pairwise(rows)
    ).most_common(1)[0][0]
    return timeframe_name(spacing, daily=daily)


def timeframe_name(spacing: int, *, daily: bool) -> str:
    """The timeframe of bars `spacing` seconds apart: `5m`, `1h`, `1d`, `1w`, `1mo`...

    Daily bars (session dates) are named in days, weeks or months, whatever the spacing's
    remainder (weekends and holidays stretch it); intraday bars in hours, minutes or seconds.
    """
    if daily:
        days = max(1, round(spacing / 86_400))
        if 28 <= days <= 31:
            return "1mo"
        return f"{days // 7}w" if days % 7 == 0 else f"{days}d"
    if spacing % 3600 == 0:
        return f"{spacing // 3600}h"
    if spacing % 60 == 0:
        return f"{spacing // 60}m"
    return f"{spacing}s"


def _contradicts(row: ParsedRow) -> bool:
    return row.high < max(row.open, row.close, row.low) or row.low > min(
        row.open, row.close, row.high
    )
