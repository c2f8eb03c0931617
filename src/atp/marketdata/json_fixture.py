"""Reads a JSON bar fixture (small hand-made cases) into a `RawTable`, validating its shape.

The format (documented in docs/data.md)::

    {
      "symbol": "XYZ",                      required: the ticker
      "timeframe": "1d",                    optional: else inferred from the bar spacing
      "timezone": "America/New_York",       optional: the zone of naive timestamps
      "description": "why the case exists", optional: free text, ignored
      "bars": [                             required: at least one bar
        {"timestamp": "2024-01-02", "open": "10.00", "high": "10.50", "low": "9.80",
         "close": "10.20", "volume": "1000"}
      ]
    }

Bar keys follow the CSV header rules (`timestamp`/`date`/`datetime`, `open`, `high`, `low`,
`close`, and optional `volume`, `adj_close`, `dividend`, `split`), and every bar has the same
keys as the first. Prices may be strings or JSON numbers: numbers are read as `Decimal`s
straight from the JSON text, so `10.1` is exactly 10.1. Timestamps are strings.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from atp.core.errors import InvalidInput
from atp.marketdata.records import Cell, RawTable

_REQUIRED = ("symbol", "bars")
_OPTIONAL = ("timeframe", "timezone", "description")


def read_json_fixture(path: Path) -> RawTable:
    """The declared symbol, timeframe, zone and the bars of the fixture at `path`.

    Raises:
        InvalidInput: the file is missing, is not JSON, or breaks the format; the message
            names the file and the key or bar (`bars[2]`) at fault.
    """
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    try:
        document = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            f"{path}: expected a JSON bar fixture, could not parse it: {exc}"
        ) from exc
    if not isinstance(document, dict):
        raise InvalidInput(
            f"{path}: expected a JSON object with symbol and bars, found {_kind(document)}"
        )
    unknown = sorted(set(document) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise InvalidInput(
            f"{path}: unknown key {unknown[0]!r}; expected only {', '.join(_REQUIRED + _OPTIONAL)}"
        )
    for key in _REQUIRED:
        if key not in document:
            raise InvalidInput(f"{path}: missing key {key!r}")
    symbol = _text(document, "symbol", path)
    timeframe = _text(document, "timeframe", path) if "timeframe" in document else None
    timezone = _text(document, "timezone", path) if "timezone" in document else None
    bars = document["bars"]
    if not isinstance(bars, list) or not bars:
        raise InvalidInput(
            f"{path}: key 'bars': expected a non-empty list of bars, found {_kind(bars)}"
        )
    header = _keys(bars[0], 0, path)
    records: list[tuple[int, Sequence[Cell]]] = []
    for index, bar in enumerate(bars):
        keys = _keys(bar, index, path)
        if set(keys) != set(header):
            missing = [key for key in header if key not in bar]
            extra = [key for key in keys if key not in header]
            problem = f"missing key {missing[0]!r}" if missing else f"unexpected key {extra[0]!r}"
            raise InvalidInput(
                f"{path}: bars[{index}]: {problem}; every bar has the keys of bars[0] "
                f"({', '.join(header)})"
            )
        records.append((index, [_cell(bar[key]) for key in header]))
    return RawTable(
        source=str(path),
        file_format="json",
        header=header,
        records=records,
        record_label="bars[",
        header_label="bars[0]",
        symbol=symbol,
        timeframe=timeframe,
        timezone=timezone,
    )


def _text(document: dict[str, Any], key: str, path: Path) -> str:
    value = document[key]
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(
            f"{path}: key {key!r}: expected a non-empty string, found {_kind(value)}"
        )
    return value.strip()


def _keys(bar: object, index: int, path: Path) -> list[str]:
    if not isinstance(bar, dict):
        raise InvalidInput(f"{path}: bars[{index}]: expected an object, found {_kind(bar)}")
    return [str(key) for key in bar]


def _cell(value: object) -> Cell:
    # JSON gives str, Decimal (parse_float), int, bool, None, list or dict: the record parser
    # refuses what is not a timestamp or number, naming bar and key.
    if value is None or isinstance(value, str | Decimal | int):
        return value
    return json.dumps(value, default=str)


def _kind(value: object) -> str:
    if isinstance(value, list | dict) and not value:
        return f"an empty {type(value).__name__}"
    if isinstance(value, str):
        return repr(value)
    return "null" if value is None else type(value).__name__
