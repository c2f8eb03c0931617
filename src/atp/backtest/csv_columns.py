"""Reads a plain OHLCV CSV into columns without one Python object per row.

Two passes over the file, both in bounded blocks:

* pyarrow's C CSV reader parses the five prices (as Python's `float(text)` does, correctly
  rounded; `tests/unit/backtest/test_csv_columns.py` compares them with `float`'s and the
  catalog's) and the timestamp texts block by block into preallocated arrays (about 0.35 s
  for 1M rows, where numpy's `loadtxt` took about 1.1 s). A file it might read differently
  from numpy's `loadtxt` (a lone carriage return, a ragged row, a number pyarrow refuses)
  goes to `loadtxt`, the reader it replaced, chunk by chunk, which decides;
* a newline scan records where each data row starts (8 bytes a row).

The exact price texts are not kept: `FileTexts` reads a row back from the file (one `pread`)
when the run needs its Decimals, which is only on the bars the live chain sees. Anything this
reader does not handle exactly as the catalog does raises `NotPlain`, and the caller hands the
file to the catalog (`atp.marketdata.catalog.load_bars`), so bars and error messages stay the
catalog's.
"""

from __future__ import annotations

import itertools
import os
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

_SHAPES = {10: "dddd-dd-dd", 16: "dddd-dd-dd dd:dd", 19: "dddd-dd-dd dd:dd:dd"}
_BLOCK = 1 << 20  # the newline scan's buffer
_PRICES = ("open", "high", "low", "close", "volume")
_ROW = np.dtype([("stamp", "S20"), *((name, np.float64) for name in _PRICES)])
_CHUNK_ROWS = 50_000  # lines per loadtxt call: a few MB at a time
_ARROW_BLOCK = 1 << 20  # bytes of the file per pyarrow `read_csv` call (bigger: more resident)
_NEWLINE, _RETURN = 10, 13
_READ_AHEAD = 4  # rows read per `pread` when a row is not in the last block read
_CLOSES_ROWS = 4096  # rows read per `pread` by `closes` (a few hundred KB)


def _template(shape: str) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    """(lowest byte, highest minus lowest) at each position of a `_SHAPES` text."""
    low = np.array([ord("0") if c == "d" else ord(c) for c in shape], dtype=np.uint8)
    span = np.array([9 if c == "d" else 0 for c in shape], dtype=np.uint8)
    return low, span


_TEMPLATES = {length: _template(shape) for length, shape in _SHAPES.items()}


class NotPlain(Exception):
    """The file needs the catalog's general reader."""


class FileTexts:
    """The exact price texts of each row, read back from the file on demand."""

    __slots__ = ("__weakref__", "_block", "_file", "_positions", "_starts", "short_numbers")

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
        # The rows of the last read: (first row, row bounds in the bytes, bytes). One tuple,
        # replaced whole, so a reader never sees half of an update.
        self._block: tuple[int, list[int], bytes] = (0, [0], b"")

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
        first, bounds, block = self._block
        at = index - first
        if not 0 <= at < len(bounds) - 1:
            # The chain sees a few bars in a row (the catch-up mark, the decision bar, the fill
            # bar): one system call reads them all.
            starts = self._starts
            last = min(index + _READ_AHEAD, len(starts) - 1)
            offsets = starts[index : last + 1].tolist()
            start = offsets[0]
            block = os.pread(self._file.fileno(), offsets[-1] - start, start)  # type: ignore[attr-defined]
            bounds = [offset - start for offset in offsets]
            self._block = (index, bounds, block)
            at = 0
        cells = block[bounds[at] : bounds[at + 1]].decode("utf-8").split(",")
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

    def closes(self, low: int, high: int) -> list[str]:
        """The closes of rows low..high-1, as written (a few thousand rows per system call)."""
        out: list[str] = []
        column = self._positions[3]
        fileno = self._file.fileno()  # type: ignore[attr-defined]
        for first in range(low, high, _CLOSES_ROWS):
            offsets = self._starts[first : min(first + _CLOSES_ROWS, high) + 1].tolist()
            start = offsets[0]
            block = os.pread(fileno, offsets[-1] - start, start)
            out.extend(
                block[begin - start : end - start].decode("utf-8").split(",")[column].strip()
                for begin, end in itertools.pairwise(offsets)
            )
        return out

    def sliced(self, low: int, high: int) -> FileTexts:
        """Rows low..high-1 (sharing the open file)."""
        return FileTexts(
            self._file, self._starts[low : high + 1], self._positions, self.short_numbers
        )


def row_starts(path: Path) -> tuple[npt.NDArray[np.int64], int, int]:
    """(byte offset of each non-blank line after the header plus the end of the file, the
    longest run of digits and dots anywhere in the file, the number of commas in it).

    The commas tell whether every line has the header's number of fields.

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
    commas = 0
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
            commas += int(np.count_nonzero(block == 44))
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
    return found[1:], longest, commas


def read_columns(
    path: Path, width: int, wanted: list[int], rows: int
) -> tuple[npt.NDArray[np.int64], list[npt.NDArray[np.float64]], bool]:
    """(local wall-clock ns, [open, high, low, close, volume] floats, date only) of `path`.

    `wanted` is the column index of the timestamp, open, high, low, close and volume; `rows`
    the number of data rows (`row_starts`). pyarrow's C CSV reader streams the file in
    `_ARROW_BLOCK` blocks into preallocated arrays (`_read_with_arrow`); a file it does not read
    exactly as numpy's `loadtxt` does goes to `_read_with_numpy`, the reader it replaced, which
    decides. Both floats are Python's `float(text)`, correctly rounded. No pandas, whose import
    alone is about 75 MB of resident memory.

    Raises:
        NotPlain: anything the catalog should read instead (quotes, a missing or bad value,
            an unusual timestamp, a ragged row).
    """
    if not rows:
        raise NotPlain
    read = _read_with_arrow(path, width, wanted, rows)
    stamps, floats, length = read if read is not None else _read_with_numpy(path, wanted, rows)
    if not np.isfinite(floats).all() or (floats[:4] <= 0).any() or (floats[4] < 0).any():
        raise NotPlain
    return stamps, list(floats), length == 10


_Columns = tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], int]


def _read_with_arrow(path: Path, width: int, wanted: list[int], rows: int) -> _Columns | None:
    """The columns as `_read_with_numpy` reads them, or None for anything it might read otherwise.

    Only a file whose every line after the header has exactly `width` comma-separated fields,
    no quotes, stamps of one `_SHAPES` length and numbers pyarrow parses (a subset of what
    numpy parses: no vertical tab, form feed, NA or empty cell) is read here. pyarrow also ends
    a line at a lone carriage return, where numpy refuses the line: such a file is left to numpy.
    The file is read in `_ARROW_BLOCK` blocks cut at a newline, each parsed by itself.
    """
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.csv as pa_csv  # type: ignore[import-untyped]

    names = [str(index) for index in range(width)]
    options = {
        "read_options": pa_csv.ReadOptions(
            # One thread: pyarrow's worker threads leave about 20 MB more resident.
            column_names=names,
            block_size=_ARROW_BLOCK,
            use_threads=False,
        ),
        "parse_options": pa_csv.ParseOptions(quote_char=False, ignore_empty_lines=True),
        "convert_options": pa_csv.ConvertOptions(
            column_types={
                names[index]: pa.binary() if slot == 0 else pa.float64()
                for slot, index in enumerate(wanted)
            },
            include_columns=sorted({names[index] for index in wanted}),
            null_values=[],
            true_values=[],
            false_values=[],
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
        # malloc hands the blocks' memory back; the default pool would keep it resident.
        "memory_pool": pa.system_memory_pool(),
    }
    stamps = np.empty(rows, dtype=np.int64)
    floats = np.empty((5, rows), dtype=np.float64)
    length_seen: int | None = None
    done = 0
    try:
        for block in _line_blocks(path):
            if not _returns_end_lines(block):
                return None
            table = pa_csv.read_csv(pa.py_buffer(block), **options)
            count = table.num_rows
            if done + count > rows:
                return None
            here = slice(done, done + count)
            length = _arrow_stamps(table.column(names[wanted[0]]), stamps[here])
            if length is None or length_seen not in (None, length):
                return None
            length_seen = length
            for slot, index in enumerate(wanted[1:]):
                if not _arrow_floats(table.column(names[index]), floats[slot, here]):
                    return None
            done += count
    except (pa.ArrowException, ValueError, OSError):
        return None
    if done != rows or length_seen is None:
        return None
    return stamps, floats, length_seen


def _line_blocks(path: Path) -> Iterator[bytes]:
    """The file after its first line in blocks of about `_ARROW_BLOCK` bytes of whole lines.

    Each block ends with a newline, except the last when the file does not.
    """
    with path.open("rb") as handle:
        handle.readline()  # the header
        tail = b""
        while read := handle.read(_ARROW_BLOCK):
            data = tail + read
            cut = data.rfind(b"\n") + 1
            tail = data[cut:]
            if cut:
                yield data[:cut]
        if tail:
            yield tail


def _returns_end_lines(block: bytes) -> bool:
    """Whether every carriage return in `block` is followed by a newline or ends the block."""
    if b"\r" not in block:  # a memchr: the usual answer, far faster than the test below
        return True
    text = np.frombuffer(block, dtype=np.uint8)
    return not ((text[:-1] == _RETURN) & (text[1:] != _NEWLINE)).any()


def _arrow_stamps(column: Any, out: npt.NDArray[np.int64]) -> int | None:
    """Fills `out` with the ns of a pyarrow binary column of `_SHAPES` texts of one length.

    Returns the length, or None when the texts differ in length or shape or numpy refuses one.
    """
    length_seen: int | None = None
    done = 0
    for chunk in column.chunks:
        count = len(chunk)
        if not count:
            continue
        if chunk.null_count:
            return None
        _, offsets_buffer, data = chunk.buffers()
        offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[chunk.offset :][: count + 1]
        first = int(offsets[0])
        length = int(offsets[1]) - first
        if length_seen not in (None, length) or length not in _SHAPES:
            return None
        if not (np.diff(offsets) == length).all():
            return None
        grid = np.frombuffer(data, dtype=np.uint8, count=count * length, offset=first)
        low, span = _TEMPLATES[length]
        # uint8 arithmetic wraps: a byte below its low bound comes out above its span.
        if not ((grid.reshape(count, length) - low) <= span).all():
            return None
        texts = np.frombuffer(data, dtype=f"S{length}", count=count, offset=first)
        try:
            out[done : done + count] = texts.astype("datetime64[ns]").view(np.int64)
        except ValueError:
            return None
        length_seen = length
        done += count
    return length_seen if done == len(out) else None


def _arrow_floats(column: Any, out: npt.NDArray[np.float64]) -> bool:
    """Copies a pyarrow float64 column without nulls into `out` (False if it has a null).

    From the buffers: pyarrow's own `to_numpy` imports pandas, about 45 MB resident.
    """
    done = 0
    for chunk in column.chunks:
        count = len(chunk)
        if chunk.null_count:
            return False
        values = np.frombuffer(chunk.buffers()[1], dtype=np.float64)
        out[done : done + count] = values[chunk.offset : chunk.offset + count]
        done += count
    return done == len(out)


def _read_with_numpy(path: Path, wanted: list[int], rows: int) -> _Columns:
    """The columns by numpy's C `loadtxt`, `_CHUNK_ROWS` lines at a time.

    Raises:
        NotPlain: as `read_columns`.
    """
    stamps = np.empty(rows, dtype=np.int64)
    floats = np.empty((5, rows), dtype=np.float64)
    length_seen: int | None = None
    done = 0
    try:
        with path.open("rb") as handle:
            handle.readline()  # the header
            while lines := list(itertools.islice(handle, _CHUNK_ROWS)):
                table = np.loadtxt(
                    lines, delimiter=",", usecols=wanted, dtype=_ROW, comments=None, ndmin=1
                )
                texts = table["stamp"]
                count = len(texts)
                if done + count > rows:
                    raise NotPlain
                length = _stamp_length(texts)
                if length_seen not in (None, length):
                    raise NotPlain
                length_seen = length
                here = slice(done, done + count)
                stamps[here] = texts.astype("datetime64[ns]").view(np.int64)
                for slot, name in enumerate(_PRICES):
                    floats[slot, here] = table[name]
                done += count
    except (ValueError, OSError) as exc:
        raise NotPlain from exc
    if done != rows or length_seen is None:
        raise NotPlain  # a line the two passes read differently: the catalog decides
    return stamps, floats, length_seen


def _stamp_length(texts: npt.NDArray[np.bytes_]) -> int:
    """The common length of `YYYY-MM-DD[ HH:MM[:SS]]` timestamps; NotPlain for any other."""
    grid = np.frombuffer(texts.tobytes(), dtype=np.uint8).reshape(len(texts), 20)
    lengths = np.char.str_len(texts)
    length = int(lengths[0])
    if length not in _SHAPES or (lengths != length).any():
        raise NotPlain
    shape = _SHAPES[length]
    for position, expected in enumerate(shape):
        column = grid[:, position]
        digit = (column >= 48) & (column <= 57)
        ok = digit if expected == "d" else column == ord(expected)
        if not ok.all():
            raise NotPlain
    return length
