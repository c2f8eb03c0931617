"""Reads a Parquet bar file into a `RawTable`: column names and every row's typed cells.

The columns are matched by name exactly as CSV headers are (`columns.py`); this module only
turns Arrow values into cells without losing anything:

* decimal columns give `Decimal`s, integer columns `int`s, string (and dictionary-encoded
  string) columns `str`s, all exact;
* float64 columns give floats, read later through their shortest repr; float32 columns are
  tagged `Float32` so their shortest 32-bit repr is used (a float32 187.15 is 187.15);
* timestamp columns are read from their integer ticks, so nanosecond columns are exact: a
  value with a non-zero sub-microsecond part is refused rather than silently truncated. A
  column with a time zone gives aware datetimes; a naive one is read in the exchange zone;
* date columns give dates (session dates);
* nulls stay `None` and are refused by the record parser, naming row and column.

Rows are numbered from 1, as a user counts them in a viewer (Parquet has no header line).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from atp.core.errors import InvalidInput
from atp.marketdata.records import Cell, Float32, RawTable

_EPOCH = datetime(1970, 1, 1)  # noqa: DTZ001 - the naive epoch of wall-clock (naive) columns
_MICROSECONDS_PER_TICK = {"s": 1_000_000, "ms": 1000, "us": 1, "ns": 1}


def read_parquet(path: Path) -> RawTable:
    """The column names and typed rows of `path`.

    Raises:
        InvalidInput: the file is missing, is not Parquet, has no rows, or holds a timestamp
            finer than a microsecond (the message names row and column).
    """
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise InvalidInput(f"{path}: expected a Parquet file, could not read it: {exc}") from exc
    if table.num_rows == 0:
        raise InvalidInput(f"{path}: expected at least one row, found none")
    header = [str(name) for name in table.column_names]
    columns = [_cells(table.column(index), name, path) for index, name in enumerate(header)]
    records: list[tuple[int, Sequence[Cell]]] = [
        (number, list(values)) for number, values in enumerate(zip(*columns, strict=True), 1)
    ]
    return RawTable(
        source=str(path),
        file_format="parquet",
        header=header,
        records=records,
        record_label="row",
        header_label="schema",
    )


def _cells(column: Any, name: str, path: Path) -> list[Cell]:
    kind = column.type
    if pa.types.is_timestamp(kind):
        return _timestamps(column, name, path)
    if pa.types.is_float32(kind):
        return [None if value is None else Float32(value) for value in column.to_pylist()]
    if (
        pa.types.is_floating(kind)
        or pa.types.is_integer(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_dictionary(kind)
        or pa.types.is_date(kind)
        or pa.types.is_boolean(kind)
    ):
        values: list[Cell] = column.to_pylist()
        return values
    # Lists, structs, binaries...: shown as text, so a used column is refused by name.
    return [None if value is None else repr(value) for value in column.to_pylist()]


def _timestamps(column: Any, name: str, path: Path) -> list[Cell]:
    unit: str = column.type.unit
    aware = column.type.tz is not None
    per_tick = _MICROSECONDS_PER_TICK[unit]
    cells: list[Cell] = []
    for row, ticks in enumerate(column.cast(pa.int64()).to_pylist(), 1):
        if ticks is None:
            cells.append(None)
            continue
        microseconds, rest = divmod(ticks, 1000) if unit == "ns" else (ticks * per_tick, 0)
        if rest:
            raise InvalidInput(
                f"{path}: row {row}, column {name!r}: expected a timestamp to the microsecond, "
                f"found {ticks} ns since the epoch"
            )
        moment = _EPOCH + timedelta(microseconds=microseconds)
        # Arrow stores an aware column as UTC ticks; a naive one as wall-clock ticks.
        cells.append(moment.replace(tzinfo=UTC) if aware else moment)
    return cells
