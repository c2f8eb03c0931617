"""The bar catalog's public face: load any bar file, find a symbol's file in the data folder.

`load_bars` reads CSV, Parquet and JSON fixtures by extension, with one set of rules (see
`loader.py` for each of them, and docs/data.md for the user's view); `find_data_file` asks a
`DataCatalog` of the folder (see `data_catalog.py`). The names the backtester and the
market-data service import from here (`load_bars`, `load_many`, `find_data_file`,
`BarSeries`, `CorporateAction`, `DEFAULT_TIMEZONE`, `PriceBasis`) stay here.
"""

from __future__ import annotations

from pathlib import Path

from atp.marketdata.data_catalog import PREFERRED_FOLDERS, CatalogEntry, DataCatalog, RefusedFile
from atp.marketdata.loader import (
    BAR_FILE_FORMATS,
    DEFAULT_TIMEZONE,
    bar_file_format,
    load_bars,
    load_many,
    symbol_from_filename,
)
from atp.marketdata.records import PriceBasis
from atp.marketdata.series import BarSeries, CorporateAction, infer_timeframe

__all__ = [
    "BAR_FILE_FORMATS",
    "DEFAULT_TIMEZONE",
    "PREFERRED_FOLDERS",
    "BarSeries",
    "CatalogEntry",
    "CorporateAction",
    "DataCatalog",
    "PriceBasis",
    "RefusedFile",
    "bar_file_format",
    "find_data_file",
    "infer_timeframe",
    "load_bars",
    "load_many",
    "symbol_from_filename",
]


def find_data_file(data_dir: Path | str, symbol: str) -> Path:
    """Locates `symbol`'s bar file under `data_dir` (the shared data folder).

    Same as `DataCatalog(data_dir).find(symbol)`: a file named exactly like the symbol, from
    the first of `PREFERRED_FOLDERS` that has one, then any folder; else a file whose name
    starts with the ticker and has OHLC columns.

    Raises:
        NotFound: no such file; the message names the folder searched.
    """
    return DataCatalog(data_dir).find(symbol)
