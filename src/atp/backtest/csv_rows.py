"""Where each row of a plain CSV starts, and its exact price texts read back from there.

`row_starts` scans the file for newlines in bounded blocks (4 bytes a row for a file under
4 GiB, 8 above) and notes what tells whether the file is plain: the longest run of digits and
dots, and the number of commas. `FileTexts` keeps those offsets instead of the texts and reads
a row back (one `pread`) when the run needs its Decimals, which is only on the bars the live
chain sees.
"""

from __future__ import annotations

import itertools
import os
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

_SCAN_BLOCK = 1 << 20  # the newline scan's buffer
NEWLINE, RETURN = 10, 13
_READ_AHEAD = 4  # rows read per `pread` when a row is not in the last block read
_CLOSES_ROWS = 4096  # rows read per `pread` by `closes` (a few hundred KB)
_UINT32_END = 1 << 32  # a file this long or longer needs int64 offsets (its end is one)

RowStarts = npt.NDArray[np.integer[Any]]  # uint32, or int64 for a file of 4 GiB or more


class FileTexts:
    """The exact price texts of each row, read back from the file on demand."""

    __slots__ = ("__weakref__", "_block", "_file", "_positions", "_starts", "short_numbers")

    def __init__(
        self,
        file: object,
        starts: RowStarts,
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
        starts: RowStarts,
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


def row_starts(path: Path) -> tuple[RowStarts, int, int]:
    """(byte offset of each non-blank line after the header plus the end of the file, the
    longest run of digits and dots anywhere in the file, the number of commas in it).

    The offsets are uint32 (int64 from 4 GiB on). The commas tell whether every line has the
    header's number of fields. The run tells whether every number has at most 15 significant
    digits, so that its float is exactly its text's value at some power of ten
    (`short_numbers`).
    """
    starts: list[RowStarts] = []  # per block; one concatenation at the end
    offset_type: type[np.integer[Any]] = np.uint32
    buffer = bytearray(_SCAN_BLOCK)
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
            if offset_type is np.uint32 and base + read >= _UINT32_END:
                offset_type = np.int64
                starts = [part.astype(np.int64) for part in starts]
            block = np.frombuffer(view[:read], dtype=np.uint8)
            ends = np.flatnonzero(block == NEWLINE).astype(np.int64)
            begins = np.concatenate([[line_start - base], ends[:-1] + 1]) if len(ends) else ends
            lengths = ends - begins
            # A line of just "\r" (CRLF blank line) has length 1 and a return before the newline.
            before = np.where(
                ends > 0, block[np.maximum(ends - 1, 0)], np.uint8(max(previous_last, 0))
            )
            blank = (lengths == 0) | ((lengths == 1) & (before == RETURN))
            starts.append((begins[~blank] + base).astype(offset_type))
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
        starts.append(np.array([line_start], dtype=offset_type))  # a last line without a newline
    # The header is the first non-blank line; rows run to the next row's start.
    starts.append(np.array([size], dtype=offset_type))
    found = np.concatenate(starts)
    return found[1:], longest, commas
