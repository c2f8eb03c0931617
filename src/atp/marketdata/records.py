"""Turns one record of a bar file (CSV fields, Parquet cells or a JSON bar) into a `ParsedRow`.

Every source hands over its cells as they are stored, and this module applies one set of
rules to all of them, so a CSV, a Parquet file and a JSON fixture of the same bars load to the
same `Decimal`s and timestamps:

* text is parsed as written (`Decimal("187.14999389648438")`, `parse_timestamp`);
* a Python `Decimal` (a Parquet decimal column, a JSON number) is taken exactly;
* an `int` is exact; a `float` goes through its shortest round-trip repr, and a float that was
  stored as 32 bits (`Float32`) through the shortest repr of the 32-bit value, so a float32
  187.15 reads as 187.15, not as 187.14999389648438;
* a `datetime` keeps its offset when it has one and is read in the exchange zone when naive;
  a `date`, or a naive datetime at exactly midnight, is a session date;
* `None`, NaN, infinities, booleans and anything else are refused with `InvalidInput` naming
  the file, the record (line, row or bar) and the column. Nothing is skipped.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Literal

from atp.core.errors import InvalidInput
from atp.marketdata.columns import ColumnMap
from atp.marketdata.timeparse import parse_timestamp

PriceBasis = Literal["close", "adjusted"]


@dataclass(frozen=True, slots=True)
class Float32:
    """A float read from a 32-bit column: its shortest decimal is that of the 32-bit value."""

    value: float


Cell = str | int | float | Float32 | Decimal | datetime | date | None


@dataclass(frozen=True, slots=True)
class ParsedRow:
    """One bar as read, before the series is sorted and named.

    `position` is where the record sits in its file: the line for text (header = line 1), the
    1-based row for Parquet, the 0-based index into `bars` for a JSON fixture.
    """

    position: int
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


@dataclass(frozen=True, slots=True)
class RecordContext:
    """What every record of one file shares: its columns, zone and how to name a record."""

    source: str
    columns: ColumnMap
    zone: tzinfo
    price_basis: PriceBasis
    # "line", "row" or "bars[...]": how messages name a record of this kind of file.
    record_label: str

    def where(self, position: int) -> str:
        """`line 3`, `row 3` or `bars[3]`: the record as a message names it."""
        if self.record_label.endswith("["):
            return f"{self.record_label}{position}]"
        return f"{self.record_label} {position}"


def parse_record(cells: Sequence[Cell], position: int, context: RecordContext) -> ParsedRow:
    """Parses one record's cells (in header order) with the rules of the module docstring."""
    columns = context.columns
    timestamp, date_only = _timestamp(cells, position, context)

    def number(index: int, *, price: bool) -> Decimal:
        return _number(
            cells[index], price=price, column=columns.names[index], at=(position, context)
        )

    open_, high, low = (number(i, price=True) for i in (columns.open, columns.high, columns.low))
    close = number(columns.close, price=True)
    if context.price_basis == "adjusted" and columns.adj_close is not None:
        adjusted = number(columns.adj_close, price=True)
        factor = adjusted / close
        quantum = Decimal(1).scaleb(min(_exponent(adjusted), -6))
        open_, high, low = ((p * factor).quantize(quantum) for p in (open_, high, low))
        close = adjusted
    volume = number(columns.volume, price=False) if columns.volume is not None else Decimal(0)
    symbol: str | None = None
    if columns.symbol is not None:
        raw = cells[columns.symbol]
        symbol = raw.strip() if isinstance(raw, str) else None
        if not symbol:
            found = "an empty field" if raw in ("", None) else repr(raw)
            raise InvalidInput(
                f"{context.source}: {context.where(position)}, column "
                f"{columns.names[columns.symbol]!r}: expected a symbol, found {found}"
            )
    dividend = number(columns.dividend, price=False) if columns.dividend is not None else Decimal(0)
    split: Decimal | None = None
    if columns.split is not None:
        ratio = number(columns.split, price=False)
        # zipline writes 1.0 and yfinance 0 on days without a split.
        split = ratio if ratio not in (0, 1) else None
    return ParsedRow(
        position, timestamp, date_only, open_, high, low, close, volume, symbol, dividend, split
    )


def decimal_of(cell: Cell) -> Decimal:
    """The exact `Decimal` a cell stands for; NaN when it stands for no finite number."""
    if isinstance(cell, str):
        try:
            return Decimal(cell.strip())
        except InvalidOperation:
            return Decimal("NaN")
    if isinstance(cell, bool) or cell is None:
        return Decimal("NaN")
    if isinstance(cell, Decimal | int):
        return Decimal(cell)
    if isinstance(cell, float):
        # repr is the shortest text that reads back to the same double: what a user wrote.
        return Decimal(repr(cell))
    if isinstance(cell, Float32):
        return Decimal(shortest_float32(cell.value))
    return Decimal("NaN")


def shortest_float32(value: float) -> str:
    """The shortest decimal text that reads back to the same 32-bit float as `value`."""
    if value != value or value in (float("inf"), float("-inf")):
        return repr(value)
    packed = struct.pack("<f", value)
    for digits in range(1, 10):
        text = format(value, f".{digits}g")
        if struct.pack("<f", float(text)) == packed:
            return text
    return repr(value)


def describe(cell: Cell) -> str:
    """How a message shows a refused cell."""
    if cell is None:
        return "a missing value (null)"
    if isinstance(cell, str):
        return repr(cell.strip()) if cell.strip() else "an empty field"
    if isinstance(cell, Float32):
        return shortest_float32(cell.value)
    return repr(cell) if isinstance(cell, bool) else str(cell)


def _number(cell: Cell, *, price: bool, column: str, at: tuple[int, RecordContext]) -> Decimal:
    value = decimal_of(cell)
    if not value.is_finite() or (value <= 0 if price else value < 0):
        position, context = at
        expected = "a positive price" if price else "a non-negative number"
        raise InvalidInput(
            f"{context.source}: {context.where(position)}, column {column!r}: expected "
            f"{expected}, found {describe(cell)}"
        )
    return value


def _timestamp(
    cells: Sequence[Cell], position: int, context: RecordContext
) -> tuple[datetime, bool]:
    columns = context.columns
    cell = cells[columns.timestamp]
    if isinstance(cell, datetime):
        if cell.tzinfo is None:
            # A naive midnight is how pandas and Arrow store a session date.
            date_only = cell.time() == time(0)
            return cell.replace(tzinfo=context.zone).astimezone(UTC), date_only
        return cell.astimezone(UTC), False
    if isinstance(cell, date):
        return datetime.combine(cell, time(0), context.zone).astimezone(UTC), True
    text = cell if isinstance(cell, str) else None
    if text is not None and columns.clock_time is not None:
        clock = cells[columns.clock_time]
        text = f"{text.strip()} {clock.strip()}" if isinstance(clock, str) else None
    try:
        if text is None:
            raise ValueError(text)
        return parse_timestamp(text, context.zone)
    except ValueError:
        raise InvalidInput(
            f"{context.source}: {context.where(position)}, column "
            f"{columns.names[columns.timestamp]!r}: expected a date or date-time such as "
            f"2024-01-02 or 2024-01-02 09:30:00, found "
            f"{repr(text) if text is not None else describe(cell)}"
        ) from None


def _exponent(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return exponent if isinstance(exponent, int) else 0


@dataclass(frozen=True, slots=True)
class RawTable:
    """A bar file as its reader found it: header names and the cells of every record.

    Readers (`csv_source`, `parquet_source`, `json_fixture`) only split a file into this
    shape; `catalog.load_bars` applies the one set of rules to it.
    """

    source: str
    file_format: str
    header: list[str]
    records: list[tuple[int, Sequence[Cell]]]
    # How a message names a record: "line" (CSV), "row" (Parquet), "bars[" (JSON).
    record_label: str
    # How a message names where the header is: "line 1", "schema", "bars[0]".
    header_label: str
    # The first data row as text, for the header quirk `map_columns` repairs (CSV only).
    first_text_row: list[str] | None = None
    # What the file itself declares (a JSON fixture): None when it declares nothing.
    symbol: str | None = None
    timeframe: str | None = None
    timezone: str | None = None
