"""Loads one bar file (CSV, Parquet or a JSON fixture) into a `BarSeries` of `MarketSignal`s.

The format comes from the file extension (`.csv`/`.txt`, `.parquet`/`.pq`, `.json`), and the
same rules apply to all three (each one a choice a user can rely on):

* Columns are found by name, case-insensitively, with aliases (see `columns.py`), so column
  order does not matter (mplfinance's `Date,Open,Close,High,Low,Volume` loads right).
* Prices and volumes become exact `Decimal`s: text as written (`187.14999389648438` stays
  exactly that), Parquet decimals exactly, Parquet floats through their shortest repr (see
  `records.py`). Empty, null, non-numeric, non-finite, non-positive prices and negative
  volumes are refused with `InvalidInput` naming the file, the record (CSV line with the header
  as line 1, Parquet row from 1, JSON `bars[i]`) and the column. Nothing is skipped.
* Which close is used is explicit: `price_basis="close"` (default) takes the file's Close as it
  is printed (raw or split-adjusted, as the vendor wrote it); `"adjusted"` takes Adj Close and
  scales Open/High/Low by Adj Close / Close, the usual total-return adjustment. Splits and
  dividends in `split`/`Dividends` columns are reported as `CorporateAction`s and never applied
  again (zipline's prices already include its split).
* Naive timestamps are read in `timezone` (default America/New_York), or in UTC when the
  column's name says so (`timestamp_utc`), or in the zone a JSON fixture declares; a timestamp
  with an offset (or a Parquet column with a zone) keeps it. A date without a time is a daily
  session, stamped at midnight exchange time in UTC (see `timeparse.py`). Bars keep the file's
  label (some files label a bar by its start, others by its end).
* The result is sorted ascending (newest-first files are reversed); a repeated timestamp is
  refused, naming both records.
* A file without a volume column gets volume 0 (VIX, FX bid/ask bars); a missing value in a
  volume column is refused.
* Bars whose High/Low contradict Open/Close (vendor errors exist in real files) are kept as
  printed and their records listed in `BarSeries.ohlc_anomalies`; `strict_ohlc=True` refuses
  them.
* The symbol is the `symbol` argument, else the file's own (a Symbol column with one value per
  file, or a JSON fixture's `symbol`), else the first token of the file name
  (`orcl-1995-2014.txt` -> ORCL, `AAPL_Minute.csv` -> AAPL). With `match_symbol=True` the
  argument must agree with the file's own symbol (case aside): a file that names another one
  is refused, naming the record and both symbols (a backtest of AAPL never runs MSFT's bars).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from atp.core.errors import InvalidInput
from atp.core.ids import Symbol
from atp.marketdata.columns import map_columns
from atp.marketdata.csv_source import read_csv
from atp.marketdata.json_fixture import read_json_fixture
from atp.marketdata.parquet_source import read_parquet
from atp.marketdata.records import (
    ParsedRow,
    PriceBasis,
    RawTable,
    RecordContext,
    parse_record,
)
from atp.marketdata.series import BarSeries, SeriesNaming, build_series
from atp.marketdata.timeparse import exchange_zone

DEFAULT_TIMEZONE = "America/New_York"
# File extension -> format; anything else is not a bar file.
BAR_FILE_FORMATS = {
    ".csv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
}
_VENDOR_PREFIXES = frozenset({"yahoofinance", "yahoo", "yf"})
_TOKEN = re.compile(r"[-_\s]+")


def load_bars(
    path: Path | str,
    *,
    symbol: str | None = None,
    timeframe: str | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    price_basis: PriceBasis = "close",
    feed: str | None = None,
    strict_ohlc: bool = False,
    match_symbol: bool = False,
) -> BarSeries:
    """Loads one bar file (see the module docstring for every rule it applies).

    Args:
        path: a `.csv`/`.txt`, `.parquet`/`.pq` or `.json` fixture file.
        symbol: overrides the file's own symbol and the file name.
        timeframe: e.g. "1d", "1m"; else the fixture's, else the most common bar spacing.
        timezone: IANA zone of naive timestamps in a file that declares none.
        price_basis: "close" (as printed) or "adjusted" (Adj Close, O/H/L scaled with it).
        feed: the `feed` field of each signal; default `<format>:<file name>`.
        strict_ohlc: refuse bars whose High/Low contradict Open/Close.
        match_symbol: refuse a file whose own symbol is not `symbol`, instead of overriding it.

    Raises:
        InvalidInput: the file is missing, of an unknown kind, empty or malformed; the
            message names file, record and column.
    """
    path = Path(path)
    table = read_table(path)
    source = table.source
    zone_name = table.timezone or timezone
    zone = exchange_zone(zone_name)
    first = table.first_text_row
    columns = map_columns(table.header, first, source=source, header_label=table.header_label)
    if price_basis == "adjusted" and columns.adj_close is None:
        raise InvalidInput(
            f"{source}: price_basis 'adjusted' needs an Adj Close column, found "
            f"{', '.join(table.header)}"
        )
    if columns.timestamp_is_utc:
        zone = exchange_zone("UTC")
    context = RecordContext(source, columns, zone, price_basis, table.record_label)
    parsed: list[ParsedRow] = []
    file_symbol = table.symbol
    wanted = symbol.strip().upper() if match_symbol and symbol else None
    if wanted is not None and file_symbol is not None:
        _check_symbol(file_symbol, wanted, f"{source}: key 'symbol'")
    for position, cells in table.records:
        if len(cells) != columns.width:
            raise InvalidInput(
                f"{source}: {context.where(position)}: expected {columns.width} fields as in "
                f"the header, found {len(cells)}"
            )
        row = parse_record(cells, position, context)
        if row.symbol is not None:
            if file_symbol is not None and row.symbol != file_symbol:
                raise InvalidInput(
                    f"{source}: {context.where(position)}, column "
                    f"{columns.names[columns.symbol or 0]!r}: expected one symbol per file "
                    f"({file_symbol}), found {row.symbol!r}"
                )
            if wanted is not None and file_symbol is None:
                column = columns.names[columns.symbol or 0]
                _check_symbol(
                    row.symbol, wanted, f"{source}: {context.where(position)}, column {column!r}"
                )
            file_symbol = row.symbol
        parsed.append(row)
    naming = SeriesNaming(
        symbol=symbol or file_symbol or symbol_from_filename(path),
        timeframe=timeframe or table.timeframe,
        timezone=zone_name,
        feed=feed or f"{table.file_format}:{path.name}",
        file_format=table.file_format,
        columns=tuple(table.header),
    )
    return build_series(
        parsed,
        naming,
        source=source,
        where=context.where,
        price_basis=price_basis,
        strict_ohlc=strict_ohlc,
    )


def _check_symbol(found: str, wanted: str, where: str) -> None:
    if found.strip().upper() != wanted:
        raise InvalidInput(
            f"{where}: expected the requested symbol {wanted}, found {found!r} (the file holds "
            "another symbol's bars)"
        )


def read_table(path: Path) -> RawTable:
    """Reads `path` with the reader its extension names.

    Raises:
        InvalidInput: an extension that names no bar format, or the reader's own refusal.
    """
    file_format = bar_file_format(path)
    if file_format is None:
        raise InvalidInput(
            f"{path}: expected a bar file ending in {', '.join(BAR_FILE_FORMATS)}, "
            f"found {path.suffix or 'no extension'!r}"
        )
    if file_format == "parquet":
        return read_parquet(path)
    if file_format == "json":
        return read_json_fixture(path)
    return read_csv(path)


def bar_file_format(path: Path) -> str | None:
    """`csv`, `parquet` or `json` by the file's extension; None for any other file."""
    return BAR_FILE_FORMATS.get(path.suffix.lower())


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


def symbol_from_filename(path: Path) -> str:
    """The ticker a file name starts with: the first token with a letter, vendor names aside."""
    for token in _TOKEN.split(path.stem):
        if any(ch.isalpha() for ch in token) and token.lower() not in _VENDOR_PREFIXES:
            return token.upper()
    return path.stem.upper()
