"""A backtest request is refused before it runs when it cannot mean what it says.

Duplicate strategies (one agent each), data files for symbols not requested, a file whose own
Symbol column names another symbol, an unknown extra voting strategy: each is an error naming
the field (and, for a file, the file, line and both symbols), never a run that fails later or
trades the wrong bars.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from atp.backtest.model import DATE_ORDER_ERROR, BacktestRequest
from atp.backtest.runner import load_data, run_backtest, validate
from atp.core.errors import InvalidInput
from atp.marketdata.catalog import load_bars
from atp.services.settings import DEFAULT_DATA_DIR

PAIRS = DEFAULT_DATA_DIR / "pairs_trading_system"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bars"
BODY: dict[str, Any] = {
    "start_date": "2024-01-01",
    "end_date": "2024-01-31",
    "symbols": ["AAPL"],
    "strategies": ["momentum"],
    "initial_balance": 100_000,
}


def _refusal(**changes: Any) -> dict[str, Any]:
    with pytest.raises(ValidationError) as caught:
        BacktestRequest.model_validate({**BODY, **changes})
    (error,) = caught.value.errors()
    return dict(error)


def test_a_strategy_named_twice_is_refused_naming_it() -> None:
    error = _refusal(strategies=["momentum", "mean_reversion", "momentum"])
    assert error["loc"] == ("strategies",)
    assert "strategies must be unique" in error["msg"] and "'momentum'" in error["msg"]


def test_a_voting_strategy_compared_twice_is_refused() -> None:
    error = _refusal(compare_voting_strategies=["weighted", "weighted"])
    assert error["loc"] == ("compare_voting_strategies",)
    assert "'weighted' more than once" in error["msg"]


def test_a_data_file_for_a_symbol_not_requested_is_refused_naming_the_key() -> None:
    error = _refusal(data_files={"MSFT": str(PAIRS / "MSFT.csv")})
    assert "data_files: key 'MSFT' not in symbols (AAPL)" in error["msg"]


def test_data_file_keys_are_symbols_so_case_does_not_matter() -> None:
    request = BacktestRequest.model_validate(
        {**BODY, "symbols": ["aapl"], "data_files": {"aapl": str(PAIRS / "AAPL.csv")}}
    )
    assert request.data_files == {"AAPL": str(PAIRS / "AAPL.csv")}
    assert load_data(request, DEFAULT_DATA_DIR).sources == {"AAPL": "AAPL.csv"}


def test_an_end_before_the_start_is_its_own_error_type_with_both_dates() -> None:
    error = _refusal(end_date="2023-12-31")
    assert error["type"] == DATE_ORDER_ERROR
    assert error["msg"] == (
        "end_date 2023-12-31T23:59:59.999999+00:00 is before start_date 2024-01-01T00:00:00+00:00"
    )


def test_an_unknown_compared_voting_strategy_names_that_field() -> None:
    request = BacktestRequest.model_validate({**BODY, "compare_voting_strategies": ["nosuch"]})
    with pytest.raises(InvalidInput) as caught:
        validate(request)
    assert str(caught.value).startswith("compare_voting_strategies: unknown 'nosuch'")
    with pytest.raises(InvalidInput, match=r"^voting_strategy: unknown 'nosuch'"):
        validate(BacktestRequest.model_validate({**BODY, "voting_strategy": "nosuch"}))


def test_a_file_whose_symbol_column_names_another_symbol_is_refused() -> None:
    msft = PAIRS / "MSFT.csv"
    request = BacktestRequest.model_validate({**BODY, "data_files": {"AAPL": str(msft)}})
    with pytest.raises(InvalidInput) as caught:
        run_backtest(request, DEFAULT_DATA_DIR)
    assert str(caught.value) == (
        f"{msft}: line 2, column 'Symbol': expected the requested symbol AAPL, found 'MSFT' "
        "(the file holds another symbol's bars)"
    )


def test_a_ticker_column_is_checked_too_and_its_own_symbol_loads(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text(
        "Date,Ticker,Open,High,Low,Close,Volume\n"
        "2024-01-02,spy,10,11,9,10.5,100\n"
        "2024-01-03,spy,10.5,11,10,10.8,100\n"
    )
    with pytest.raises(InvalidInput, match=r"line 2, column 'Ticker': .* QQQ, found 'spy'"):
        load_bars(path, symbol="QQQ", match_symbol=True)
    assert load_bars(path, symbol="SPY", match_symbol=True).symbol == "SPY"
    # Without match_symbol the argument still overrides the file's own symbol, as before.
    assert load_bars(path, symbol="QQQ").symbol == "QQQ"


def test_a_json_fixture_declaring_another_symbol_is_refused() -> None:
    with pytest.raises(InvalidInput, match="key 'symbol': expected the requested symbol QQQ"):
        load_bars(FIXTURES / "xyz_daily.json", symbol="QQQ", match_symbol=True)
