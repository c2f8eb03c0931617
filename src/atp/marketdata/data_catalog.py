"""`DataCatalog`: the bar files under one folder, which symbols they serve, and where each is.

`find(symbol)` is cheap and name-based, so a backtest locating its files reads none of the
others: a file named exactly like the symbol (`AAPL.csv`, `aapl.parquet`) wins, taken from the
first of `PREFERRED_FOLDERS` that has one (pairs_trading_system first: daily OHLCV
2015-01-21..2025-01-17), then from any other folder in path order. Failing that, a file whose
name starts with the ticker (`orcl-1995-2014.txt`, `yahoofinance-SPY-2008....csv`) and whose
header has OHLC columns is taken, the preferred folders first and then the largest file (the
longest history).

`entries()` loads every file once and lists what it serves: symbol, file, format and columns,
timeframe, first and last bar and rows. A file that is not a bar file (quote ticks, a yield
curve, a wide table of closes) is listed in `refused()` with the loader's reason, never
dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from atp.core.errors import InvalidInput, NotFound
from atp.core.ids import Symbol
from atp.marketdata.columns import map_columns
from atp.marketdata.loader import (
    DEFAULT_TIMEZONE,
    bar_file_format,
    load_bars,
    read_table,
    symbol_from_filename,
)

# Where `find` looks first: the longest, most recent OHLCV daily files.
PREFERRED_FOLDERS = ("pairs_trading_system", "mag7", "lumibot", "mplfinance", "backtrader")


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One bar file and the series it serves."""

    symbol: Symbol
    path: Path
    file_format: str
    columns: tuple[str, ...]
    timeframe: str
    first: datetime
    last: datetime
    rows: int
    corporate_actions: int

    @property
    def layout(self) -> str:
        """The layout in one line, e.g. `csv Date,Open,High,Low,Close,Volume`."""
        return f"{self.file_format} {','.join(self.columns)}"


@dataclass(frozen=True, slots=True)
class RefusedFile:
    """A file under the folder that serves no bars, and why."""

    path: Path
    reason: str


class DataCatalog:
    """The bar files under `root` (see the module docstring)."""

    def __init__(
        self,
        root: Path | str,
        *,
        timezone: str = DEFAULT_TIMEZONE,
        preferred_folders: tuple[str, ...] = PREFERRED_FOLDERS,
    ) -> None:
        """Indexes `root` lazily: nothing is read until a method needs it.

        Args:
            root: the data folder (AtpSettings().data_dir).
            timezone: the zone of naive timestamps, for `entries()`.
            preferred_folders: folder names `find` prefers, best first.
        """
        self._root = Path(root)
        self._timezone = timezone
        self._preferred = preferred_folders
        self._files: list[Path] | None = None
        self._entries: tuple[CatalogEntry, ...] | None = None
        self._refused: tuple[RefusedFile, ...] = ()

    @property
    def root(self) -> Path:
        """The folder indexed."""
        return self._root

    def files(self) -> list[Path]:
        """Every file under the root with a bar-file extension, in path order."""
        if self._files is None:
            self._files = sorted(
                path
                for path in self._root.rglob("*")
                if path.is_file() and bar_file_format(path) is not None
            )
        return list(self._files)

    def find(self, symbol: str) -> Path:
        """The file that serves `symbol` (see the module docstring for the order).

        Raises:
            NotFound: no file serves it; the message names the folder searched.
        """
        wanted = symbol.strip().upper()
        exact = [path for path in self.files() if path.stem.upper() == wanted]
        if exact:
            return min(exact, key=lambda path: (self._folder_rank(path), str(path)))
        by_token = sorted(
            (path for path in self.files() if symbol_from_filename(path) == wanted),
            key=lambda path: (self._folder_rank(path), -path.stat().st_size, str(path)),
        )
        for path in by_token:
            if _has_ohlc_header(path):
                return path
        raise NotFound(f"no bar file for symbol {symbol!r} under {self._root}")

    def entries(self) -> tuple[CatalogEntry, ...]:
        """Every loadable bar file and what it serves, in path order (loads each file once)."""
        if self._entries is None:
            entries: list[CatalogEntry] = []
            refused: list[RefusedFile] = []
            for path in self.files():
                try:
                    series = load_bars(path, timezone=self._timezone)
                except InvalidInput as exc:
                    refused.append(RefusedFile(path, str(exc)))
                    continue
                entries.append(
                    CatalogEntry(
                        symbol=series.symbol,
                        path=path,
                        file_format=series.file_format,
                        columns=series.columns,
                        timeframe=series.timeframe,
                        first=series.bars[0].timestamp,
                        last=series.bars[-1].timestamp,
                        rows=len(series),
                        corporate_actions=len(series.corporate_actions),
                    )
                )
            self._entries, self._refused = tuple(entries), tuple(refused)
        return self._entries

    def refused(self) -> tuple[RefusedFile, ...]:
        """The files `entries()` could not load, each with the loader's message."""
        self.entries()
        return self._refused

    def symbols(self) -> list[Symbol]:
        """The distinct symbols the folder serves, sorted."""
        return sorted({entry.symbol for entry in self.entries()})

    def entries_for(self, symbol: str) -> list[CatalogEntry]:
        """Every file that serves `symbol` (by content), in path order."""
        wanted = symbol.strip().upper()
        return [entry for entry in self.entries() if entry.symbol == wanted]

    def _folder_rank(self, path: Path) -> int:
        folder = path.parent.name
        return self._preferred.index(folder) if folder in self._preferred else len(self._preferred)


def _has_ohlc_header(path: Path) -> bool:
    try:
        table = read_table(path)
        map_columns(
            table.header, table.first_text_row, source=table.source, header_label=table.header_label
        )
    except InvalidInput:
        return False
    return True
