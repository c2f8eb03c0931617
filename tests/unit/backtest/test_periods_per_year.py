"""Metrics are annualised with the run's own periods a year, not 252 whatever the bars."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from pathlib import Path

import numpy as np

from atp.backtest.columns import to_ns
from atp.backtest.metrics import periods_per_year
from atp.backtest.model import BacktestRequest
from atp.backtest.results import results_json
from atp.backtest.runner import run_backtest
from atp.marketdata.catalog import load_bars
from atp.services.settings import AtpSettings

DATA = AtpSettings().data_dir


def _stamps(path: Path) -> np.ndarray:
    series = load_bars(path, symbol="X")
    return np.array([to_ns(b.timestamp) for b in series.bars], dtype=np.int64)


def test_daily_weekly_and_monthly_files_get_the_calendar_conventions() -> None:
    assert periods_per_year(_stamps(DATA / "backtrader" / "orcl-1995-2014.txt")) == 252
    assert periods_per_year(_stamps(DATA / "backtrader" / "2006-week-001.txt")) == 52
    assert periods_per_year(_stamps(DATA / "backtrader" / "2006-month-001.txt")) == 12


def test_minute_bars_of_a_regular_session_count_390_a_day() -> None:
    stamps = _stamps(DATA / "lumibot" / "AAPL_Minute.csv")
    days = len(np.unique(stamps // (86_400 * 10**9)))
    periods = periods_per_year(stamps)
    assert periods == round(252 * len(stamps) / days)
    # A regular session is 390 one-minute bars; a few short days pull the mean down a little.
    assert 380 * 252 <= periods <= 390 * 252


def test_a_minute_run_reports_annual_figures() -> None:
    """CAGR of a minute run is its growth over the run's years, not over bars-as-days."""
    request = BacktestRequest(
        start_date="2021-08-23",
        end_date="2100-01-01",
        symbols=["AAPL"],
        strategies=["sma_crossover"],
        initial_balance=Decimal(100_000),
        data_files={"AAPL": str(DATA / "lumibot" / "AAPL_Minute.csv")},
    )
    outcome = run_backtest(request, DATA)
    main = outcome.main
    metrics = main.metrics
    periods = metrics["periods_per_year"]
    assert periods is not None and periods > 252 * 300
    bars = len(main.equity)
    growth = float(main.final_equity) / 100_000
    assert metrics["cagr"] is not None
    assert math.isclose(metrics["cagr"], growth ** (periods / bars) - 1, rel_tol=1e-9)
    # Counting each minute as a day would have called this run's few weeks many years.
    assert not math.isclose(metrics["cagr"], growth ** (252 / bars) - 1, rel_tol=1e-3)
    # Counts read as whole numbers in the results file (they read 6.0, 10.0).
    written = json.loads(results_json(outcome))["metrics"]
    for count in ("num_fills", "num_trades", "max_drawdown_duration", "periods_per_year"):
        assert isinstance(written[count], int), (count, written[count])
    assert written["num_fills"] == len(main.fills) > 0
