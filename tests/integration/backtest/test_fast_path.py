"""The fast path gives byte-identical results files to the general engine on real data.

The general engine runs the live chain on every bar; the fast one only where an agent wants
to trade or an order is open. Orders, fills, the equity curve (every bar's exact equity, cash
and exposure) and every metric must come out the same, byte for byte.
"""

from __future__ import annotations

from typing import Any

import pytest

from atp.backtest.model import BacktestRequest
from atp.backtest.results import BacktestOutcome, results_json
from atp.backtest.runner import load_data, run_once
from atp.services.settings import AtpSettings


def _outcome(request: BacktestRequest, engine: Any) -> tuple[BacktestOutcome, int]:
    data = load_data(request, AtpSettings().data_dir)
    main = run_once(
        request,
        data,
        strategies=request.strategies,
        voting_strategy=request.voting_strategy,
        label="combined",
        engine=engine,
    )
    traded = sum(1 for b in data.batches if b.timestamp >= request.start_date)
    return BacktestOutcome(request, main, {"combined": main}, (), data.sources, traded), len(
        main.fills
    )


REQUESTS = [
    # Several agents, several symbols, default costs (1 bp commission, 5 bp slippage).
    BacktestRequest(
        start_date="2016-01-01",
        end_date="2024-12-31",
        symbols=["AAPL", "MSFT", "NVDA"],
        strategies=["sma_crossover", "momentum", "mean_reversion"],
        voting_strategy="majority",
        initial_balance=100_000,
        params={"momentum": {"lookback": 10, "threshold": 0.03}},
    ),
    BacktestRequest(
        start_date="2018-01-01",
        end_date="2023-06-30",
        symbols=["TSLA", "AMZN"],
        strategies=["momentum", "mean_reversion"],
        voting_strategy="confidence_weighted",
        initial_balance=250_000,
        params={"mean_reversion": {"window": 10, "entry_z": 1.0}},
        seed=7,
    ),
    # The benchmark's case: SMA(10/30) all in, fractional, no costs.
    BacktestRequest(
        start_date="2015-01-01",
        end_date="2025-01-31",
        symbols=["AAPL"],
        strategies=["sma_crossover"],
        initial_balance=100_000,
        sizing="all_in",
        commission_bps=0,
        slippage_bps=0,
    ),
    # All in with costs on.
    BacktestRequest(
        start_date="2015-06-01",
        end_date="2024-06-01",
        symbols=["NFLX"],
        strategies=["sma_crossover"],
        params={"sma_crossover": {"fast": 5, "slow": 20}},
        initial_balance=50_000,
        sizing="all_in",
    ),
]


BACKTRADER = AtpSettings().data_dir / "backtrader"
# Prices of at most 15 digits: the equity curve's floats are computed in integers.
SHORT_PRICES = [
    BacktestRequest(
        start_date="1996-01-01",
        end_date="2014-12-31",
        symbols=["ORCL"],
        strategies=["sma_crossover"],
        initial_balance=100_000,
        data_files={"ORCL": str(BACKTRADER / "orcl-1995-2014.txt")},
    ),
    BacktestRequest(
        start_date="2000-01-01",
        end_date="2014-12-31",
        symbols=["ORCL", "NVDA", "YHOO"],
        strategies=["sma_crossover", "momentum", "mean_reversion"],
        initial_balance=100_000,
        data_files={
            "ORCL": str(BACKTRADER / "orcl-1995-2014.txt"),
            "NVDA": str(BACKTRADER / "nvda-1999-2014.txt"),
            "YHOO": str(BACKTRADER / "yhoo-1996-2014.txt"),
        },
    ),
]


@pytest.mark.parametrize("request_", SHORT_PRICES, ids=["orcl-sma-costs", "3agents-backtrader"])
def test_equity_priced_in_integers_is_byte_identical_to_the_general_engine(
    request_: BacktestRequest,
) -> None:
    fast, fast_fills = _outcome(request_, "auto")
    general, general_fills = _outcome(request_, "general")
    assert general_fills > 4
    assert fast_fills == general_fills
    assert fast.main.equity.exact_segments > 4  # type: ignore[attr-defined]
    assert results_json(fast) == results_json(general)


@pytest.mark.parametrize(
    "request_", REQUESTS, ids=["3agents-3symbols", "2agents-cw", "sma-allin", "sma-allin-costs"]
)
def test_fast_path_results_file_is_byte_identical_to_the_general_engine(
    request_: BacktestRequest,
) -> None:
    fast, fast_fills = _outcome(request_, "auto")
    general, general_fills = _outcome(request_, "general")
    assert general_fills > 4  # the runs trade, so fills and equity are really compared
    assert fast_fills == general_fills
    assert type(fast.main.equity).__name__ == "EquityCurve"  # the fast path really ran
    assert results_json(fast) == results_json(general)
