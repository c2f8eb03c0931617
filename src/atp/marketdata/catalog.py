"""The bar catalog: loads any OHLCV CSV into a `BarSeries` of `MarketSignal`s.

Rules (each one a choice a user can rely on):

* Columns are found by header name, case-insensitively, with aliases (see `columns.py`), so
  column order does not matter (mplfinance's `Date,Open,Close,High,Low,Volume` loads right).
* Prices and volumes go from the text straight to `Decimal`: `187.14999389648438` stays exactly
  that. Empty, non-numeric, non-finite, non-positive prices and negative volumes are refused with
  `InvalidInput` naming the file, line (the header is line 1) and column. Nothing is skipped.
* Which close is used is explicit: `price_basis="close"` (default) takes the file's Close as it
  is printed (raw or split-adjusted, as the vendor wrote it); `"adjusted"` takes Adj Close and
  scales Open/High/Low by Adj Close / Close, the usual total-return adjustment. Splits and
  dividends in `split`/`Dividends` columns are reported as `CorporateAction`s and never applied
  again (zipline's prices already include its split).
* Naive timestamps are read in `timezone` (default America/New_York), or in UTC when the
  column's name says so (`timestamp_utc`); a date without a time is a daily session, stamped
  at midnight exchange time in UTC (see `timeparse.py`). Bars keep the file's label (some
  files label a bar by its start, others by its end).
* The result is sorted ascending (newest-first files are reversed); a repeated timestamp is
  refused, naming both lines.
* A file without a volume column gets volume 0 (VIX, FX bid/ask bars); a missing value in a
  volume column is refused.
* Bars whose High/Low contradict Open/Close (vendor errors exist in real files) are kept as
  printed and their lines listed in `BarSeries.ohlc_anomalies`; `strict_ohlc=True` refuses them.
* The symbol is the `symbol` argument, else the file's Symbol column (one value per file), else
  the first token of the file name (`orcl-1995-2014.txt` -> ORCL, `AAPL_Minute.csv` -> AAPL).
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from pathlib import Path
from typing import Literal

from atp.core.errors import InvalidInput, NotFound
from atp.core.events import MarketSignal
from atp.core.ids import Symbol, signal_id_for
from atp.marketdata.columns import ColumnMap, map_columns
from atp.marketdata.timeparse import exchange_zone, parse_timestamp

PriceBasis = Literal["close", "adjusted"]
DEFAULT_TIMEZONE = "America/New_York"
# Where `find_data_file` looks first: the longest, most recent OHLCV daily files.
PREFERRED_FOLDERS = ("pairs_trading_system", "mag7", "lumibot", "mplfinance", "backtrader")
_VENDOR_PREFIXES = frozenset({"yahoofinance", "yahoo", "yf"})
_TOKEN = re.compile(r"[-_\s]+")


@dataclass(frozen=True, slots=True)
class CorporateAction:
    """A dividend or split a file reports on a bar (informational: never re-applied)."""

    timestamp: datetime
    dividend: Decimal
    split_ratio: Decimal | None


@dataclass(frozen=True, slots=True)
class BarSeries:
    """One symbol's bars from one file, ascending by time, with how they were read."""

    symbol: Symbol
    timeframe: str
    bars: tuple[MarketSignal, ...]
    source: str
    price_basis: PriceBasis
    timezone: str
    corporate_actions: tuple[CorporateAction, ...] = ()
    ohlc_anomalies: tuple[int, ...] = ()

    def __len__(self) -> int:
        return len(self.bars)


def load_bars(
    path: Path | str,
    *,
    symbol: str | None = None,
    timeframe: str | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    price_basis: PriceBasis = "close",
    feed: str | None = None,
    strict_ohlc: bool = False,
) -> BarSeries:
    """Loads one OHLCV CSV file (see the module docstring for every rule it applies).

    Args:
        path: the CSV file.
        symbol: overrides the Symbol column and the file name.
        timeframe: e.g. "1d", "1m"; inferred from the most common bar spacing when omitted.
        timezone: IANA zone of naive timestamps in the file.
        price_basis: "close" (as printed) or "adjusted" (Adj Close, O/H/L scaled with it).
        feed: the `feed` field of each signal; default `csv:<file name>`.
        strict_ohlc: refuse bars whose High/Low contradict Open/Close.

    Raises:
        InvalidInput: the file is missing, empty or malformed; the message names file, line
            and column.
    """
    path = Path(path)
    source = str(path)
    zone = exchange_zone(timezone)
    rows = _read_rows(path)
    if len(rows) < 2:
        raise InvalidInput(f"{source}: expected a header and at least one data row")
    header = rows[0][1]
    columns = map_columns(header, rows[1][1], source=source)
    if price_basis == "adjusted" and columns.adj_close is None:
        raise InvalidInput(
            f"{source}: price_basis 'adjusted' needs an Adj Close column, found {', '.join(header)}"
        )
    if columns.timestamp_is_utc:
        zone = exchange_zone("UTC")
    parsed: list[_Row] = []
    file_symbols: set[str] = set()
    for line, fields in rows[1:]:
        row = _parse_row(fields, line, columns, zone, source, price_basis)
        if row.symbol is not None:
            if file_symbols and row.symbol not in file_symbols:
                raise InvalidInput(
                    f"{source}: line {line}, column 'Symbol': expected one symbol per file "
                    f"({next(iter(file_symbols))}), found {row.symbol!r}"
                )
            file_symbols.add(row.symbol)
        parsed.append(row)
    parsed.sort(key=lambda r: r.timestamp)
    for previous, current in pairwise(parsed):
        if previous.timestamp == current.timestamp:
            raise InvalidInput(
                f"{source}: line {current.line}: duplicate timestamp "
                f"{current.timestamp.isoformat()} (also on line {previous.line})"
            )
    name = symbol or (next(iter(file_symbols)) if file_symbols else symbol_from_filename(path))
    if not name or any(ch.isspace() for ch in name):
        raise InvalidInput(f"{source}: expected a symbol without spaces, found {name!r}")
    resolved_symbol = Symbol(name.upper())
    resolved_timeframe = timeframe or infer_timeframe(parsed)
    feed_name = feed or f"csv:{path.name}"
    bars = tuple(
        MarketSignal(
            signal_id=signal_id_for(resolved_symbol, resolved_timeframe, row.timestamp.isoformat()),
            symbol=resolved_symbol,
            timeframe=resolved_timeframe,
            timestamp=row.timestamp,
            open=row.open,
            high=row.high,
            low=row.low,
            close=row.close,
            volume=row.volume,
            feed=feed_name,
        )
        for row in parsed
    )
    anomalies = tuple(row.line for row in parsed if _contradicts(row))
    if strict_ohlc and anomalies:
        raise InvalidInput(
            f"{source}: line {anomalies[0]}, column 'High'/'Low': High/Low contradict "
            f"Open/Close ({len(anomalies)} bars in the file)"
        )
    actions = tuple(
        CorporateAction(row.timestamp, row.dividend, row.split)
        for row in parsed
        if row.dividend != 0 or row.split is not None
    )
    return BarSeries(
        symbol=resolved_symbol,
        timeframe=resolved_timeframe,
        bars=bars,
        source=source,
        price_basis=price_basis,
        timezone=timezone,
        corporate_actions=actions,
        ohlc_anomalies=anomalies,
    )


def load_many(
    paths: Iterable[Path | str],
    *,
    timezone: str = DEFAULT_TIMEZONE,
    price_basis: PriceBasis = "close",
) -> list[BarSeries]:
    """Loads several files; refuses two files that give the same symbol."""
    series: list[BarSeries] = []
    seen: dict[Symbol, str] = {}
    for path in paths:
        loaded = load_bars(path, timezone=timezone, price_basis=price_basis)
        if loaded.symbol in seen:
            raise InvalidInput(
                f"{loaded.source}: symbol {loaded.symbol} is already loaded from "
                f"{seen[loaded.symbol]}"
            )
        seen[loaded.symbol] = loaded.source
        series.append(loaded)
    return series


def find_data_file(data_dir: Path | str, symbol: str) -> Path:
    """Locates `symbol`'s bar file under `data_dir` (the shared data folder).

    A file whose name (without extension) equals the symbol, case-insensitively, is taken from
    the first of `PREFERRED_FOLDERS` that has one (pairs_trading_system first: daily OHLCV
    2015-01-21..2025-01-17), then from any other folder in sorted order.

    Raises:
        NotFound: no such file; the message names the folder searched.
    """
    root = Path(data_dir)
    wanted = symbol.strip().lower()
    candidates = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in {".csv", ".txt"} and p.stem.lower() == wanted
    )
    if not candidates:
        raise NotFound(f"no bar file for symbol {symbol!r} under {root}")

    def rank(candidate: Path) -> tuple[int, str]:
        folder = candidate.parent.name
        order = PREFERRED_FOLDERS.index(folder) if folder in PREFERRED_FOLDERS else 99
        return order, str(candidate)

    return min(candidates, key=rank)


def symbol_from_filename(path: Path) -> str:
    """The ticker a file name starts with: the first token with a letter, vendor names aside."""
    for token in _TOKEN.split(path.stem):
        if any(ch.isalpha() for ch in token) and token.lower() not in _VENDOR_PREFIXES:
            return token.upper()
    return path.stem.upper()


def infer_timeframe(rows: Sequence[_Row]) -> str:
    """Names the most common spacing of the bars: `1m`, `5m`, `1h`, `1d`, `2d`, `1w`, `1mo`."""
    if len(rows) < 2:
        return "1d" if rows and rows[0].date_only else "1m"
    spacing = Counter(
        int((b.timestamp - a.timestamp).total_seconds()) for a, b in pairwise(rows)
    ).most_common(1)[0][0]
    if rows[0].date_only:
        days = max(1, round(spacing / 86_400))
        if 28 <= days <= 31:
            return "1mo"
        return f"{days // 7}w" if days % 7 == 0 else f"{days}d"
    if spacing % 3600 == 0:
        return f"{spacing // 3600}h"
    if spacing % 60 == 0:
        return f"{spacing // 60}m"
    return f"{spacing}s"


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    timestamp: datetime
    date_only: bool
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    symbol: str | None
    dividend: Decimal
    split: Decimal | None


def _read_rows(path: Path) -> list[tuple[int, list[str]]]:
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    rows: list[tuple[int, list[str]]] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        for fields in reader:
            # A blank line carries no data; anything else is checked field by field.
            if fields and any(field.strip() for field in fields):
                rows.append((reader.line_num, fields))
    return rows


def _parse_row(
    fields: list[str],
    line: int,
    columns: ColumnMap,
    zone: tzinfo,
    source: str,
    price_basis: PriceBasis,
) -> _Row:
    if len(fields) != columns.width:
        raise InvalidInput(
            f"{source}: line {line}: expected {columns.width} fields as in the header, "
            f"found {len(fields)}"
        )
    stamp_text = fields[columns.timestamp]
    if columns.clock_time is not None:
        stamp_text = f"{stamp_text.strip()} {fields[columns.clock_time].strip()}"
    try:
        timestamp, date_only = parse_timestamp(stamp_text, zone)
    except ValueError:
        raise InvalidInput(
            f"{source}: line {line}, column {columns.names[columns.timestamp]!r}: expected a "
            f"date or date-time such as 2024-01-02 or 2024-01-02 09:30:00, found {stamp_text!r}"
        ) from None

    def number(index: int, *, price: bool) -> Decimal:
        text = fields[index].strip()
        try:
            value = Decimal(text)
        except InvalidOperation:
            value = Decimal("NaN")
        if not value.is_finite() or (value <= 0 if price else value < 0):
            expected = "a positive price" if price else "a non-negative number"
            found = repr(text) if text else "an empty field"
            raise InvalidInput(
                f"{source}: line {line}, column {columns.names[index]!r}: expected {expected}, "
                f"found {found}"
            )
        return value

    open_, high, low = (number(i, price=True) for i in (columns.open, columns.high, columns.low))
    close = number(columns.close, price=True)
    if price_basis == "adjusted" and columns.adj_close is not None:
        adjusted = number(columns.adj_close, price=True)
        factor = adjusted / close
        quantum = Decimal(1).scaleb(min(_exponent(adjusted), -6))
        open_, high, low = ((p * factor).quantize(quantum) for p in (open_, high, low))
        close = adjusted
    volume = number(columns.volume, price=False) if columns.volume is not None else Decimal(0)
    symbol = fields[columns.symbol].strip() if columns.symbol is not None else None
    if symbol == "":
        raise InvalidInput(
            f"{source}: line {line}, column {columns.names[columns.symbol or 0]!r}: "
            "expected a symbol, found an empty field"
        )
    dividend = number(columns.dividend, price=False) if columns.dividend is not None else Decimal(0)
    split: Decimal | None = None
    if columns.split is not None:
        ratio = number(columns.split, price=False)
        # zipline writes 1.0 and yfinance 0 on days without a split.
        split = ratio if ratio not in (0, 1) else None
    return _Row(
        line, timestamp, date_only, open_, high, low, close, volume, symbol, dividend, split
    )


def _exponent(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return exponent if isinstance(exponent, int) else 0


def _contradicts(row: _Row) -> bool:
    return row.high < max(row.open, row.close, row.low) or row.low > min(
        row.open, row.close, row.high
    )
