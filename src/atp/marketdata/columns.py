"""Finds the OHLCV columns of a CSV header by name, case-insensitively, with aliases.

A header name is normalised by lower-casing it and dropping spaces, underscores, dashes and
dots, so `Adj Close`, `Adj_Close` and `adj-close` are one name. Columns that match no role
(`OpenInterest`, `trade_count`, `vwap`, `Change`, an unnamed index column) are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from atp.core.errors import InvalidInput

_NORMALISE = re.compile(r"[\s_\-.]+")
_CLOCK_TIME = re.compile(r"^\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$")

# The timestamp column, best first: a full date-time beats a date that a Time column completes.
TIMESTAMP_ALIASES = ("datetime", "timestamp", "timestamputc", "date", "time", "dt")
ROLE_ALIASES: dict[str, tuple[str, ...]] = {
    "open": ("open",),
    "high": ("high",),
    "low": ("low",),
    # barchart.com names the close `Last`; a real `Close` column wins when both exist.
    "close": ("close", "last"),
    "adj_close": ("adjclose", "adjustedclose"),
    "volume": ("volume", "vol"),
    "symbol": ("symbol", "ticker"),
    "dividend": ("dividend", "dividends"),
    "split": ("split", "splits", "stocksplits", "stocksplit"),
}


def normalise(name: str) -> str:
    """The comparable form of a header name: lower case, no separators."""
    return _NORMALISE.sub("", name.strip().lower())


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """Where each role's column sits in a row (None: the file has no such column)."""

    timestamp: int
    clock_time: int | None
    open: int
    high: int
    low: int
    close: int
    adj_close: int | None
    volume: int | None
    symbol: int | None
    dividend: int | None
    split: int | None
    names: tuple[str, ...]
    width: int
    # A column named like `timestamp_utc` says its naive values are UTC.
    timestamp_is_utc: bool = False


def map_columns(
    header: list[str],
    first_row: list[str] | None,
    *,
    source: str,
    header_label: str = "line 1",
) -> ColumnMap:
    """Maps a header to roles; refuses a header that lacks a timestamp or any of O/H/L/C.

    `header_label` names where the header sits in messages (`line 1` for CSV, `schema` for
    Parquet, `bars[0]` for a JSON fixture).

    One known quirk is repaired on purpose: a header with a date column but no time column,
    whose rows carry exactly one field more, right after the date, that reads as a clock time
    (backtrader's `2006-01-02-volume-min-001.txt`). The extra field is taken as the time.
    """
    names = list(header)
    normalised = [normalise(name) for name in names]
    if (
        first_row is not None
        and len(first_row) == len(names) + 1
        and "time" not in normalised
        and "date" in normalised
    ):
        date_index = normalised.index("date")
        if _CLOCK_TIME.match(first_row[date_index + 1].strip()):
            names.insert(date_index + 1, "Time")
            normalised.insert(date_index + 1, "time")
    positions: dict[str, int] = {}
    for index, key in enumerate(normalised):
        if key and key in positions:
            raise InvalidInput(
                f"{source}: {header_label}: column name {names[index]!r} appears twice"
            )
        if key:
            positions[key] = index

    def find(aliases: tuple[str, ...]) -> int | None:
        for alias in aliases:
            if alias in positions:
                return positions[alias]
        return None

    timestamp = find(TIMESTAMP_ALIASES)
    clock_time: int | None = None
    if "date" in positions and "time" in positions:
        timestamp, clock_time = positions["date"], positions["time"]
    roles = {role: find(aliases) for role, aliases in ROLE_ALIASES.items()}
    missing = [role for role in ("open", "high", "low", "close") if roles[role] is None]
    if timestamp is None:
        missing.insert(0, "date/time")
    if missing:
        raise InvalidInput(
            f"{source}: {header_label}: no {', '.join(missing)} column; expected OHLC columns "
            f"named like Date,Open,High,Low,Close[,Volume], found {', '.join(header)}"
        )
    assert timestamp is not None
    return ColumnMap(
        timestamp=timestamp,
        clock_time=clock_time,
        open=_required(roles["open"]),
        high=_required(roles["high"]),
        low=_required(roles["low"]),
        close=_required(roles["close"]),
        adj_close=roles["adj_close"],
        volume=roles["volume"],
        symbol=roles["symbol"],
        dividend=roles["dividend"],
        split=roles["split"],
        names=tuple(names),
        width=len(names),
        timestamp_is_utc=normalised[timestamp].endswith("utc"),
    )


def _required(index: int | None) -> int:
    assert index is not None
    return index
