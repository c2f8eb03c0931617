"""Reads a plain OHLCV CSV into columns without one Python object per row.

pyarrow's C CSV reader parses the five prices (as Python's `float(text)` does, correctly
rounded; `tests/unit/backtest/test_csv_columns.py` compares them with `float`'s and the
catalog's) and the timestamp texts block by block into preallocated arrays (about 0.35 s for
1M rows, where numpy's `loadtxt` took about 1.1 s). A file it might read differently from
numpy's `loadtxt` (a lone carriage return, a ragged row, a number pyarrow refuses) goes to
`loadtxt`, the reader it replaced, chunk by chunk, which decides. Where each row starts, and
so its exact price texts, is `atp.backtest.csv_rows`'s newline scan.

Anything this reader does not handle exactly as the catalog does raises `NotPlain`, and the
caller hands the file to the catalog (`atp.marketdata.catalog.load_bars`), so bars and error
messages stay the catalog's.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from atp.backtest.csv_rows import NEWLINE, RETURN

_SHAPES = {10: "dddd-dd-dd", 16: "dddd-dd-dd dd:dd", 19: "dddd-dd-dd dd:dd:dd"}
_PRICES = ("open", "high", "low", "close", "volume")
_ROW = np.dtype([("stamp", "S20"), *((name, np.float64) for name in _PRICES)])
_CHUNK_ROWS = 50_000  # lines per loadtxt call: a few MB at a time
_ARROW_BLOCK = 1 << 20  # bytes of the file per pyarrow `read_csv` call (bigger: more resident)
_CHECK_ROWS = 1 << 16  # rows of prices checked at a time (temporaries of a few hundred KB)


def _template(shape: str) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    """(lowest byte, highest minus lowest) at each position of a `_SHAPES` text."""
    low = np.array([ord("0") if c == "d" else ord(c) for c in shape], dtype=np.uint8)
    span = np.array([9 if c == "d" else 0 for c in shape], dtype=np.uint8)
    return low, span


_TEMPLATES = {length: _template(shape) for length, shape in _SHAPES.items()}


class NotPlain(Exception):
    """The file needs the catalog's general reader."""


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
    for low in range(0, rows, _CHECK_ROWS):
        part = floats[:, low : low + _CHECK_ROWS]
        if not np.isfinite(part).all() or (part[:4] <= 0).any() or (part[4] < 0).any():
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
    return not ((text[:-1] == RETURN) & (text[1:] != NEWLINE)).any()


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
