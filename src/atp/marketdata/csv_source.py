"""Reads a CSV (or `.txt`) bar file into a `RawTable`: the header and every record as text.

Blank lines carry no data and are passed over; every other line is a record, numbered by its
line in the file (the header is line 1), so a message points at the line a user opens.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from atp.core.errors import InvalidInput
from atp.marketdata.records import Cell, RawTable


def read_csv(path: Path) -> RawTable:
    """The header and text records of `path`.

    Raises:
        InvalidInput: the file is missing, or has no header and data row.
    """
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    rows: list[tuple[int, list[str]]] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        for fields in reader:
            if fields and any(field.strip() for field in fields):
                rows.append((reader.line_num, fields))
    if len(rows) < 2:
        raise InvalidInput(f"{path}: expected a header and at least one data row")
    records: list[tuple[int, Sequence[Cell]]] = list(rows[1:])
    return RawTable(
        source=str(path),
        file_format="csv",
        header=rows[0][1],
        records=records,
        record_label="line",
        header_label="line 1",
        first_text_row=rows[1][1],
    )
