"""The streaming CSV reader gives the catalog's bars, or hands the file to the catalog.

`read_csv_columns` parses prices in C and keeps only row offsets for the exact texts; every
bar it can build must equal the catalog's (`load_bars`), value for value and signal id for
signal id, and a file it cannot read the same way must come out exactly as the catalog reads
it (same bars, same error).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from atp.backtest import csv_columns, csv_rows
from atp.backtest.columns import ArrayTexts, SymbolColumns, from_series, read_csv_columns
from atp.backtest.csv_columns import NotPlain, read_columns
from atp.backtest.csv_rows import FileTexts, row_starts
from atp.core.errors import InvalidInput
from atp.marketdata.catalog import load_bars
from atp.services.settings import AtpSettings


def assert_same_as_catalog(path: Path) -> SymbolColumns:
    streamed = read_csv_columns(path, symbol="X")
    catalog = from_series(load_bars(path, symbol="X"))
    assert streamed.symbol == catalog.symbol
    assert streamed.timeframe == catalog.timeframe
    assert streamed.feed == catalog.feed
    assert np.array_equal(streamed.timestamps, catalog.timestamps)
    for name in ("open", "high", "low", "close", "volume"):
        assert np.array_equal(getattr(streamed.floats, name), getattr(catalog.floats, name))
    for index in range(len(catalog)):
        assert streamed.bar(index) == catalog.bar(index)
    return streamed


@pytest.mark.parametrize("relative", ["mag7/TSLA.csv", "mag7/NVDA.csv"])
def test_a_real_daily_file_streams_to_the_catalogs_bars(relative: str) -> None:
    streamed = assert_same_as_catalog(AtpSettings().data_dir / relative)
    assert isinstance(streamed.texts, FileTexts)  # offsets, not a text per price
    assert len(streamed) > 2000


def test_a_file_with_a_symbol_column_is_read_by_the_catalog() -> None:
    streamed = assert_same_as_catalog(AtpSettings().data_dir / "pairs_trading_system/AAPL.csv")
    assert isinstance(streamed.texts, ArrayTexts)


def test_crlf_blank_lines_and_a_last_line_without_newline_stream_exactly(tmp_path: Path) -> None:
    path = tmp_path / "X.csv"
    path.write_bytes(
        b"Date,Open,High,Low,Close,Volume\r\n"
        b"2024-01-02 09:30:00,100.10,101,99.5,100.2500,1000\r\n"
        b"\r\n"
        b"2024-01-02 09:31:00,100.25,100.3,100.0,100.0001,0\r\n"
        b"\n"
        b"2024-01-02 09:32:00,1e2,100.5,99.9,100.3,12.5"
    )
    streamed = assert_same_as_catalog(path)
    assert isinstance(streamed.texts, FileTexts)
    assert str(streamed.bar(0).open) == "100.10"  # the text as written, not a float's repr
    assert str(streamed.bar(1).close) == "100.0001"


def test_a_bad_value_gets_the_catalogs_error(tmp_path: Path) -> None:
    path = tmp_path / "X.csv"
    path.write_text(
        "Date,Open,High,Low,Close,Volume\n"
        "2024-01-02,100,101,99,100.5,1000\n"
        "2024-01-03,100,101,99,abc,1000\n"
    )
    with pytest.raises(InvalidInput) as expected:
        load_bars(path, symbol="X")
    with pytest.raises(InvalidInput) as streamed:
        read_csv_columns(path, symbol="X")
    assert str(streamed.value) == str(expected.value)


def test_quoted_values_are_read_by_the_catalog(tmp_path: Path) -> None:
    path = tmp_path / "X.csv"
    path.write_text(
        'Date,Open,High,Low,Close,Volume\n"2024-01-02","100","101","99","100.5","1000"\n'
        '"2024-01-03","100.5","102","100","101.25","900"\n'
    )
    streamed = assert_same_as_catalog(path)
    assert isinstance(streamed.texts, ArrayTexts)


def test_columns_in_another_order_stream_to_the_catalogs_bars(tmp_path: Path) -> None:
    path = tmp_path / "X.csv"
    path.write_text(
        "Volume,Close,Low,High,Open,Date\n"
        "1000,100.5,99,101,100,2024-01-02\n"
        "900,101.25,100,102,100.5,2024-01-03\n"
        "800,100.75,100.5,101.5,101.25,2024-01-04\n"
    )
    streamed = assert_same_as_catalog(path)
    assert isinstance(streamed.texts, FileTexts)
    assert str(streamed.bar(1).close) == "101.25"


# pyarrow reads plain files; numpy's `loadtxt` (the reader it replaced) reads what pyarrow
# might read differently. Either way every float must be Python's `float(text)`, bit for bit.

_TRICKY = (
    "0.1",
    "0.2",
    "0.3",
    "0.30000000000000004",
    "0.1000000000000000055511151231257827",
    "1.0000000000000002",
    # Exactly halfway between 1 and the next double (rounds to even: 1.0), and just above.
    "1.00000000000000011102230246251565404236316680908203125",
    "1.00000000000000011102230246251565404236316680908203126",
    "9007199254740993",
    "9007199254740992.5",
    "12345678901234567",
    "98765432109876543.21",
    "148.3000030517578",
    "123.45678901234567890123456789",
    "3.14159265358979323846264338327950288",
    "1e2",
    "1E+2",
    "2.5e-3",
    "7.0e0",
    "1.7976931348623157e308",
    "2.2250738585072014e-308",
    "4.9e-324",
    "0.000000000000000000001",
    "100.10",
    "0100.5000",
    "5.",
    ".5",
    "+7.25",
)


def _bits(values: list[float] | np.ndarray) -> bytes:
    return np.asarray(values, dtype=np.float64).tobytes()


def _arrow_must_read(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Records whether pyarrow read each file (True) or handed it to numpy (False)."""
    used: list[bool] = []
    original = csv_columns._read_with_arrow

    def spy(*args: Any) -> Any:
        read = original(*args)
        used.append(read is not None)
        return read

    monkeypatch.setattr(csv_columns, "_read_with_arrow", spy)
    return used


def _numpy_only(path: Path) -> SymbolColumns:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(csv_columns, "_read_with_arrow", lambda *args: None)
        return read_csv_columns(path, symbol="X")


def test_tricky_numbers_are_pythons_floats_and_the_catalogs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "X.csv"
    days = np.datetime64("2024-01-01") + np.arange(len(_TRICKY))
    path.write_text(
        "Date,Open,High,Low,Close,Volume\n"
        + "".join(f"{day},{t},{t},{t},{t},{t}\n" for day, t in zip(days, _TRICKY, strict=True))
    )
    used = _arrow_must_read(monkeypatch)
    streamed = assert_same_as_catalog(path)
    assert used == [True]
    expected = _bits([float(t) for t in _TRICKY])
    for name in ("open", "high", "low", "close", "volume"):
        assert _bits(getattr(streamed.floats, name)) == expected
    assert streamed.texts.row(6)[0] == _TRICKY[6]  # the text as written


def test_random_numbers_and_stamps_are_pythons_and_numpys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(20240102)
    texts: list[str] = []
    for _ in range(5000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 25)))
        point = rng.randint(0, len(digits))
        text = f"{rng.choice(['', '', '+'])}{digits[:point]}.{digits[point:]}".rstrip(".")
        if rng.random() < 0.3:
            text += f"{rng.choice('eE')}{rng.choice(['', '+', '-'])}{rng.randint(0, 40)}"
        if text.strip("+.") and float(text) > 0:
            texts.append(rng.choice(["", " ", "\t"]) + text + rng.choice(["", " "]))
    # Every 7 minutes across 2000-02-29.
    minutes = np.datetime64("2000-02-28 22:00") + np.arange(len(texts) // 5) * 7
    stamps = [str(m).replace("T", " ") + ":00" for m in minutes]
    path = tmp_path / "X.csv"
    path.write_text(
        "Date,Open,High,Low,Close,Volume\r\n"
        + "".join(f"{s},{','.join(texts[5 * i : 5 * i + 5])}\r\n" for i, s in enumerate(stamps))
    )
    rows = len(stamps)
    used = _arrow_must_read(monkeypatch)
    local, floats, date_only = read_columns(path, 6, [0, 1, 2, 3, 4, 5], rows)
    assert used == [True]
    assert not date_only
    assert np.array_equal(local, np.array(minutes, dtype="datetime64[ns]").view(np.int64))
    by_row = np.array([float(t) for t in texts[: 5 * rows]]).reshape(rows, 5)
    assert _bits(np.array(floats)) == _bits(by_row.T)
    numpy_local, numpy_floats, _ = csv_columns._read_with_numpy(path, [0, 1, 2, 3, 4, 5], rows)
    assert np.array_equal(local, numpy_local)
    assert _bits(np.array(floats)) == _bits(numpy_floats)


@pytest.mark.parametrize(
    "relative",
    [
        "mag7/AAPL.csv",  # 17-digit floats
        "lumibot/XYZ_1Min.csv",  # minute bars
        "backtrader/orcl-1995-2014.txt",
        "pandas-ta/SPY_D.csv",
    ],
)
def test_a_real_file_reads_as_numpy_read_it_and_as_pythons_floats(
    relative: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = AtpSettings().data_dir / relative
    used = _arrow_must_read(monkeypatch)
    streamed = read_csv_columns(path, symbol="X")
    assert used == [True]
    assert isinstance(streamed.texts, FileTexts)
    by_numpy = _numpy_only(path)
    assert np.array_equal(streamed.timestamps, by_numpy.timestamps)
    assert streamed.timeframe == by_numpy.timeframe
    cells = [streamed.texts.row(index) for index in range(len(streamed))]
    for slot, name in enumerate(("open", "high", "low", "close", "volume")):
        column = getattr(streamed.floats, name)
        assert _bits(column) == _bits(getattr(by_numpy.floats, name))
        assert _bits(column) == _bits([float(row[slot]) for row in cells])


@pytest.mark.parametrize(
    "body",
    [
        b"2024-01-02,1,2,0.5,1.5,10\r\r\n2024-01-03,1,2,0.5,1.5,10\n",  # numpy refuses "\r\r\n"
        b"2024-01-02,1,2,0.5,1.5,10\r2024-01-03,1,2,0.5,1.5,10\n\n",  # a lone return
        b"2024-01-02,1,2,0.5,1.5,10,7\n2024-01-03,1,2,0.5,1.5\n",  # ragged rows
        b"2024-01-02,1,2,0.5,1.5,\x0b10\n2024-01-03,1,2,0.5,1.5,10\n",  # numpy's whitespace
        b"2024-01-02,1,2,0.5,1.5,10\n2024-01-03,NA,2,0.5,1.5,10\n",
        b"2024-01-02,1,2,0.5,1.5,10\n2024-01-03,,2,0.5,1.5,10\n",
        b'2024-01-02,1,2,0.5,1.5,10\n2024-01-03,"1",2,0.5,1.5,10\n',
        b"2024-01-02,1,2,0.5,1.5,10\n2024-01-03 09:30,1,2,0.5,1.5,10\n",
        b"2024-01-02,1,2,0.5,1.5,10\n2024-02-30,1,2,0.5,1.5,10\n",
        b"2024-01-02,1,2,0.5,1.5,10\n2024-01-03,inf,2,0.5,1.5,10\n",
        b"2024-01-02,1,2,0.5,1.5,10\n2024-01-03,1,2,0.5,1.5,-1\n",
        b"2024-01-02,1,2,0.5,1.5,10\n2024-01-03,1,2,0.5,1.5,10\r",  # a return ends the file
        b"2024-01-02 ,1,2,0.5,1.5,10\n",
    ],
)
def _outcome(path: Path, rows: int, *, numpy_only: bool = False) -> tuple[Any, ...]:
    with pytest.MonkeyPatch.context() as patch:
        if numpy_only:
            patch.setattr(csv_columns, "_read_with_arrow", lambda *args: None)
        try:
            local, floats, date_only = read_columns(path, 6, [0, 1, 2, 3, 4, 5], rows)
        except NotPlain:
            return ("NotPlain",)
    return local.tobytes(), _bits(np.array(floats)), date_only


def _same_as_numpy(path: Path) -> bool:
    """Whether pyarrow read `path` (else numpy did), asserting the outcome is numpy's."""
    rows = len(row_starts(path)[0]) - 1
    arrow = csv_columns._read_with_arrow(path, 6, [0, 1, 2, 3, 4, 5], rows) if rows else None
    if arrow is not None:
        local, floats, length = csv_columns._read_with_numpy(path, [0, 1, 2, 3, 4, 5], rows)
        assert np.array_equal(arrow[0], local)
        assert _bits(arrow[1]) == _bits(floats)
        assert arrow[2] == length
    assert _outcome(path, rows) == _outcome(path, rows, numpy_only=True)
    return arrow is not None


@pytest.mark.parametrize(
    ("body", "by_arrow"),
    [
        (b"2024-01-02,1,2,0.5,1.5,10\r\n\r\n2024-01-03,1,2,0.5,1.5,10", True),
        (b"2024-01-02,1,2,0.5,1.5,10\n2024-01-03,1,2,0.5,1.5,10\r", True),  # a return ends it
        (b"2024-01-02,1,2,0.5,1.5,10\r\r\n2024-01-03,1,2,0.5,1.5,10\n", False),
        (b"2024-01-02,1,2,0.5,1.5,10\r2024-01-03,1,2,0.5,1.5,10\n\n", False),  # lone return
        (b"2024-01-02,1,2,0.5,1.5,10,7\n2024-01-03,1,2,0.5,1.5\n", False),  # ragged rows
        (b"2024-01-02,1,2,0.5,1.5,\x0b10\n2024-01-03,1,2,0.5,1.5,10\n", False),  # a vertical tab
        (b"2024-01-02,1,2,0.5,1.5,10\n2024-01-03,NA,2,0.5,1.5,10\n", False),
        (b"2024-01-02,1,2,0.5,1.5,10\n2024-01-03,,2,0.5,1.5,10\n", False),
        (b'2024-01-02,1,2,0.5,1.5,10\n2024-01-03,"1",2,0.5,1.5,10\n', False),
        (b"2024-01-02,1,2,0.5,1.5,10\n2024-01-03 09:30,1,2,0.5,1.5,10\n", False),
        (b"2024-01-02,1,2,0.5,1.5,10\n2024-02-30,1,2,0.5,1.5,10\n", False),
        (b"2024-01-02,1,2,0.5,1.5,10\n2024-01-03,1_0,2,0.5,1.5,10\n", False),
        (b"2024-01-02 ,1,2,0.5,1.5,10\n", False),
        (b"2024-01-02,1,2,0.5,1.5,10\n2024-01-03,inf,2,0.5,1.5,10\n", True),  # NotPlain
        (b"2024-01-02,1,2,0.5,1.5,10\n2024-01-03,1,2,0.5,1.5,-1\n", True),  # NotPlain
    ],
)
def test_pyarrow_reads_only_what_numpy_reads_the_same(
    tmp_path: Path, body: bytes, by_arrow: bool
) -> None:
    path = tmp_path / "X.csv"
    path.write_bytes(b"Date,Open,High,Low,Close,Volume\n" + body)
    assert _same_as_numpy(path) == by_arrow


def test_mangled_files_read_as_numpy_reads_them(tmp_path: Path) -> None:
    rng = random.Random(7)
    inserts = [" ", "\t", "\r", "\n", "\r\n", '"', ",", "e", "+", "-", ".", "\x00", "\x0b", "#"]
    by_arrow = 0
    for case in range(300):
        eol = rng.choice(["\n", "\r\n"])
        lines = [
            f"2024-01-{day:02d} 09:30,"
            + ",".join(f"{rng.uniform(1, 9):.{rng.randint(0, 18)}f}" for _ in range(5))
            for day in range(1, rng.randint(2, 20))
        ]
        text = eol.join(["Date,Open,High,Low,Close,Volume", *lines]) + rng.choice([eol, "", "\r"])
        for _ in range(rng.randint(0, 2)):
            at = rng.randrange(40, len(text) + 1)
            text = text[:at] + rng.choice(inserts) + text[at:]
        path = tmp_path / f"X{case}.csv"
        path.write_bytes(text.encode())
        by_arrow += _same_as_numpy(path)
    assert 100 < by_arrow < 300


def test_a_run_of_closes_reads_as_row_by_row_across_blocks_and_blank_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csv_rows, "_CLOSES_ROWS", 7)  # several reads, one split mid-run
    path = tmp_path / "X.csv"
    lines = [b"Date,Open,High,Low,Close,Volume\r\n"]
    for row in range(40):
        lines.append(f"2024-01-02 09:{row:02d}:00,1,2,0.5, 1.{row:02d}0 ,9\r\n".encode())
        if row % 9 == 0:
            lines.append(b"\r\n")  # a blank line inside the run
    path.write_bytes(b"".join(lines))
    texts = read_columns_texts(path)

    assert texts.closes(3, 31) == [texts.close(row) for row in range(3, 31)]
    assert texts.closes(3, 31)[0] == "1.030"  # as written, spaces around it dropped
    assert from_series(load_bars(path, symbol="X")).texts.closes(3, 31) == texts.closes(3, 31)


def read_columns_texts(path: Path) -> FileTexts:
    texts = read_csv_columns(path, symbol="X").texts
    assert isinstance(texts, FileTexts)
    return texts


def test_row_offsets_past_the_uint32_range_switch_to_int64_without_losing_a_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "X.csv"
    lines = ["Date,Open,High,Low,Close,Volume"]
    lines += [f"2024-01-02 09:{minute:02d}:00,1.{minute:02d},2,0.5,1.5,9" for minute in range(40)]
    path.write_text("\n".join(lines) + "\n")
    compact, _, _ = row_starts(path)
    # A "4 GiB" boundary 300 bytes in, met by the third 128-byte block of the scan.
    monkeypatch.setattr(csv_rows, "_UINT32_END", 300)
    monkeypatch.setattr(csv_rows, "_SCAN_BLOCK", 128)
    wide, _, _ = row_starts(path)

    assert compact.dtype == np.uint32  # 4 bytes a row below the boundary
    assert wide.dtype == np.int64
    assert wide.tolist() == compact.tolist()
    assert read_columns_texts(path).row(39) == ("1.39", "2", "0.5", "1.5", "9")
    assert_same_as_catalog(path)
