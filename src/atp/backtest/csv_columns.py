"""Reads a plain OHLCV CSV into columns without one Python object per row.

Two passes over the file, both in bounded blocks:

* pandas' C reader parses the five prices (its parser rounds correctly, as Python's
  `float(text)` does: `tests/unit/backtest/test_csv_columns.py` compares them with the
  catalog's) and the timestamps chunk by chunk into preallocated numpy arrays;
* a newline scan records where each data row starts (8 bytes a row).

The exact price texts are not kept: `FileTexts` reads a row back from the file (one `pread`)
when the run needs its Decimals, which is only on the bars the live chain sees. Anything this
reader does not handle exactly as the catalog does raises `NotPlain`, and the caller hands the
file to the catalog (`atp.marketdata.catalog.load_bars`), so bars and error messages stay the
catalog's.
"""

from __future__ import annotations

import csv
import os
import re
import weakref
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped]

_PLAIN_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}(:\d{2})?)?$")
_FORMATS = {10: "%Y-%m-%d", 16: "%Y-%m-%d %H:%M", 19: "%Y-%m-%d %H:%M:%S"}
_BLOCK = 1 << 20  # the newline scan's buffer
_CHUNK_ROWS = 50_000  # rows per pandas chunk: a few MB of frames at a time
_NEWLINE, _RETURN = 10, 13


class NotPlain(Exception):
    """The file needs the catalog's general reader."""


class FileTexts:
    """The exact price texts of each row, read back from the file on demand."""

    __slots__ = ("__weakref__", "_file", "_positions", "_starts", "short_numbers")

    def __init__(
        self,
        file: object,
        starts: npt.NDArray[np.int64],
        positions: tuple[int, int, int, int, int],
        short_numbers: bool,
    ) -> None:
        self._file = file
        self._starts = starts  # one more than rows: the end of the last row
        self._positions = positions
        # No number in the file has more than 15 digits (see `row_starts`).
        self.short_numbers = short_numbers

    @classmethod
    def open(
        cls,
        path: Path,
        starts: npt.NDArray[np.int64],
        positions: tuple[int, int, int, int, int],
        short_numbers: bool,
    ) -> FileTexts:
        """Keeps `path` open for reading rows (closed when the texts are collected)."""
        handle = path.open("rb", buffering=0)
        texts = cls(handle, starts, positions, short_numbers)
        weakref.finalize(texts, handle.close)
        return texts

    def row(self, index: int) -> tuple[str, str, str, str, str]:
        """Open, high, low, close and volume of row `index`, as written."""
        start = int(self._starts[index])
        line = os.pread(
            self._file.fileno(),  # type: ignore[attr-defined]
            int(self._starts[index + 1]) - start,
            start,
        )
        cells = line.decode("utf-8").split(",")
        o, h, low, c, v = self._positions
        return (
            cells[o].strip(),
            cells[h].strip(),
            cells[low].strip(),
            cells[c].strip(),
            cells[v].strip(),
        )

    def close(self, index: int) -> str:
        """The close of row `index`, as written."""
        return self.row(index)[3]

    def sliced(self, low: int, high: int) -> FileTexts:
        """Rows low..high-1 (sharing the open file)."""
        return FileTexts(
            self._file, self._starts[low : high + 1], self._positions, self.short_numbers
        )


def row_starts(path: Path) -> tuple[npt.NDArray[np.int64], int]:
    """(byte offset of each non-blank line after the header plus the end of the file, the
    longest run of digits and dots anywhere in the file).

    The run tells whether every number has at most 15 significant digits, so that its
    float is exactly its text's value at some power of ten (`short_numbers`).
    """
    starts: list[npt.NDArray[np.int64]] = []  # per block; one concatenation at the end
    buffer = bytearray(_BLOCK)
    view = memoryview(buffer)
    base = 0
    line_start = 0  # where the current line began
    previous_last = -1  # the last byte of the previous block
    longest = carried = 0  # longest run of [0-9.] so far; the run open at the block's end
    with path.open("rb", buffering=0) as handle:
        while True:
            read = handle.readinto(buffer)
            if not read:
                break
            block = np.frombuffer(view[:read], dtype=np.uint8)
            ends = np.flatnonzero(block == _NEWLINE).astype(np.int64)
            begins = np.concatenate([[line_start - base], ends[:-1] + 1]) if len(ends) else ends
            lengths = ends - begins
            # A line of just "\r" (CRLF blank line) has length 1 and a return before the newline.
            before = np.where(
                ends > 0, block[np.maximum(ends - 1, 0)], np.uint8(max(previous_last, 0))
            )
            blank = (lengths == 0) | ((lengths == 1) & (before == _RETURN))
            starts.append(begins[~blank] + base)
            numeric = ((block >= 48) & (block <= 57)) | (block == 46)
            breaks = np.flatnonzero(~numeric)
            if len(breaks) == 0:
                carried += read
            else:
                inner = int(np.max(np.diff(breaks))) - 1 if len(breaks) > 1 else 0
                longest = max(longest, carried + int(breaks[0]), inner)
                carried = read - 1 - int(breaks[-1])
            longest = max(longest, carried)
            if len(ends):
                line_start = int(ends[-1]) + 1 + base
            previous_last = int(block[-1])
            base += read
            del block  # a view of the buffer, which is read into again
    size = base
    if line_start < size:
        starts.append(np.array([line_start], dtype=np.int64))  # a last line without a newline
    # The header is the first non-blank line; rows run to the next row's start.
    starts.append(np.array([size], dtype=np.int64))
    found = np.concatenate(starts)
    return found[1:], longest


def read_columns(
    path: Path, width: int, wanted: list[int], rows: int
) -> tuple[npt.NDArray[np.int64], list[npt.NDArray[np.float64]], bool]:
    """(local wall-clock ns, [open, high, low, close, volume] floats, date only) of `path`.

    `wanted` is the column index of the timestamp, open, high, low, close and volume; `rows`
    the number of data rows (`row_starts`): each chunk is copied into arrays of that size, so
    only one chunk of pandas' frames is alive at a time.

    Raises:
        NotPlain: anything the catalog should read instead (quotes, a missing or bad value,
            an unusual timestamp, a ragged row).
    """
    stamps = np.empty(rows, dtype=np.int64)
    floats = [np.empty(rows, dtype=np.float64) for _ in wanted[1:]]
    length_seen: int | None = None
    done = 0
    try:
        chunks = pd.read_csv(
            path,
            header=None,
            skiprows=1,
            usecols=sorted(set(wanted)),
            dtype={wanted[0]: object, **{c: np.float64 for c in wanted[1:]}},
            quoting=csv.QUOTE_NONE,  # a quote stays a character, so quoted files fall back
            na_filter=False,
            chunksize=_CHUNK_ROWS,
            engine="c",
        )
        for chunk in chunks:
            count = len(chunk)
            if chunk.shape[1] > width or done + count > rows:
                raise NotPlain
            here = slice(done, done + count)
            done += count
            text = chunk[wanted[0]]
            lengths = text.str.len()
            low, high = int(lengths.min()), int(lengths.max())
            if low != high or low not in _FORMATS or length_seen not in (None, low):
                raise NotPlain
            if not _PLAIN_STAMP.match(str(text.iloc[0])):
                raise NotPlain
            length_seen = low
            parsed = pd.to_datetime(text, format=_FORMATS[low], exact=True)
            stamps[here] = parsed.to_numpy(dtype="datetime64[ns]").view(np.int64)
            for slot, column in enumerate(wanted[1:]):
                values = chunk[column].to_numpy(dtype=np.float64)
                bad = ~np.isfinite(values) | (values < 0 if slot == 4 else values <= 0)
                if bad.any():
                    raise NotPlain
                floats[slot][here] = values
    except (ValueError, TypeError, pd.errors.ParserError, OSError) as exc:
        raise NotPlain from exc
    if done != rows or not rows:
        raise NotPlain  # a line the two passes read differently: the catalog decides
    return stamps, floats, length_seen == 10
