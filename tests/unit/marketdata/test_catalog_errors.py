"""Bad files are refused with a message naming the file, the line and the column."""

from __future__ import annotations

from pathlib import Path

import pytest

from atp.core.errors import InvalidInput, NotFound
from atp.marketdata.catalog import find_data_file, load_bars
from atp.services.settings import DEFAULT_DATA_DIR

HEADER = "Date,Open,High,Low,Close,Volume\n"
GOOD = "2024-01-02,10,11,9,10.5,100\n"


def _write(tmp_path: Path, text: str, name: str = "ABC.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("row", "column", "found"),
    [
        ("2024-01-03,10,11,9,,100", "Close", "an empty field"),
        ("2024-01-03,10,11,abc,10.5,100", "Low", "'abc'"),
        ("2024-01-03,10,NaN,9,10.5,100", "High", "'NaN'"),
        ("2024-01-03,-1,11,9,10.5,100", "Open", "'-1'"),
        ("2024-01-03,10,11,9,10.5,-5", "Volume", "'-5'"),
        ("2024-13-45,10,11,9,10.5,100", "Date", "'2024-13-45'"),
    ],
)
def test_a_bad_value_names_file_line_and_column(
    tmp_path: Path, row: str, column: str, found: str
) -> None:
    path = _write(tmp_path, HEADER + GOOD + row + "\n")
    with pytest.raises(InvalidInput) as caught:
        load_bars(path)
    message = str(caught.value)
    assert str(path) in message
    assert "line 3" in message
    assert f"column '{column}'" in message
    assert found in message


def test_a_row_with_too_few_fields_is_refused_not_skipped(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + GOOD + "2024-01-03,10,11,9,10.5\n")
    with pytest.raises(InvalidInput, match=r"line 3: expected 6 fields as in the header, found 5"):
        load_bars(path)


def test_a_duplicate_timestamp_names_both_lines(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + GOOD + "2024-01-03,1,2,1,1,1\n" + GOOD)
    with pytest.raises(InvalidInput, match=r"line 4: duplicate timestamp .* \(also on line 2\)"):
        load_bars(path)


def test_a_header_without_close_says_what_is_missing(tmp_path: Path) -> None:
    path = _write(tmp_path, "Date,Open,High,Low,Volume\n2024-01-02,1,2,1,5\n")
    with pytest.raises(InvalidInput, match=r"line 1: no close column"):
        load_bars(path)


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="at least one data row"):
        load_bars(_write(tmp_path, HEADER))


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no such file"):
        load_bars(tmp_path / "nope.csv")


def test_two_symbols_in_one_file_are_refused(tmp_path: Path) -> None:
    text = "Date,Symbol,Open,High,Low,Close\n2024-01-02,AAA,1,2,1,1\n2024-01-03,BBB,1,2,1,1\n"
    with pytest.raises(InvalidInput, match=r"line 3, column 'Symbol'.*found 'BBB'"):
        load_bars(_write(tmp_path, text))


def test_adjusted_basis_without_an_adj_close_column_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="needs an Adj Close column"):
        load_bars(_write(tmp_path, HEADER + GOOD), price_basis="adjusted")


def test_an_unknown_time_zone_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="IANA time zone"):
        load_bars(_write(tmp_path, HEADER + GOOD), timezone="Mars/Olympus")


def test_header_names_match_case_insensitively_with_aliases_and_symbol_override(
    tmp_path: Path,
) -> None:
    text = "DATE,adj_close,CLOSE,low,HIGH,open,VOL\n2024-01-02,9.5,10,9,11,10,7\n"
    series = load_bars(_write(tmp_path, text, "whatever.csv"), symbol="xyz", timeframe="1d")
    bar = series.bars[0]
    assert series.symbol == "XYZ"
    assert (str(bar.open), str(bar.high), str(bar.low), str(bar.close), str(bar.volume)) == (
        "10",
        "11",
        "9",
        "10",
        "7",
    )


def test_find_data_file_prefers_the_pairs_trading_folder(tmp_path: Path) -> None:
    found = find_data_file(DEFAULT_DATA_DIR, "aapl")
    assert found == DEFAULT_DATA_DIR / "pairs_trading_system" / "AAPL.csv"
    assert find_data_file(DEFAULT_DATA_DIR, "GLD").parent.name == "lumibot"
    with pytest.raises(NotFound, match="ZZZZ"):
        find_data_file(DEFAULT_DATA_DIR, "ZZZZ")
