"""Golden backtest on real data: AAPL 2020-2024, SMA(10/30) crossover, all-in, no costs.

The engine's fills and final equity are cross-checked against an independent loop written here
over the raw CSV with the same rules: decide on a bar's close, fill at the next bar's open,
buy with all cash (rounded down to 1e-6 shares), sell everything on a cross down.
"""

from __future__ import annotations

import csv
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from pathlib import Path

from atp.backtest.model import BacktestRequest
from atp.backtest.results import results_json
from atp.backtest.runner import run_backtest
from atp.services.settings import AtpSettings

WARMUP = 100


def _request() -> BacktestRequest:
    return BacktestRequest(
        start_date="2020-01-01",
        end_date="2024-12-31",
        symbols=["AAPL"],
        strategies=["sma_crossover"],
        params={"sma_crossover": {"fast": 10, "slow": 30}},
        initial_balance=Decimal(100_000),
        commission_bps=0,
        slippage_bps=0,
        sizing="all_in",
        warmup_bars=WARMUP,
        seed=7,
    )


def _independent(path: Path) -> tuple[list[tuple[str, str, Decimal, Decimal]], Decimal]:
    with path.open() as handle:
        rows = [r for r in csv.DictReader(handle) if r["Date"] <= "2024-12-31"]
    first = next(i for i, r in enumerate(rows) if r["Date"] >= "2020-01-01")
    rows = rows[first - WARMUP :]
    closes: list[float] = []
    last_diff = 0.0
    long = False
    cash, quantity = Decimal(100_000), Decimal(0)
    pending: str | None = None
    fills: list[tuple[str, str, Decimal, Decimal]] = []
    for index, row in enumerate(rows):
        # The venue fills at prices on its 0.0001 tick (banker's rounding).
        open_price = Decimal(row["Open"]).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)
        if pending == "buy":
            bought = (cash / open_price).quantize(Decimal("0.000001"), rounding=ROUND_DOWN)
            cash -= bought * open_price
            quantity += bought
            fills.append((row["Date"], "buy", bought, open_price))
        elif pending == "sell" and quantity > 0:
            cash += quantity * open_price
            fills.append((row["Date"], "sell", quantity, open_price))
            quantity = Decimal(0)
        pending = None
        closes.append(float(row["Close"]))
        if len(closes) < 30:
            continue
        diff = sum(closes[-10:]) / 10 - sum(closes[-30:]) / 30
        previous = last_diff
        if diff != 0.0:
            last_diff = diff
        traded = index >= WARMUP
        if previous < 0.0 < diff:
            long = True
            pending = "buy" if traded else None
        elif previous > 0.0 > diff and long:
            long = False
            pending = "sell" if traded else None
    return fills, cash + quantity * Decimal(rows[-1]["Close"])


def test_aapl_sma_crossover_fills_and_pnl_match_an_independent_loop() -> None:
    settings = AtpSettings()
    outcome = run_backtest(_request(), settings.data_dir)
    expected_fills, expected_equity = _independent(
        settings.data_dir / "pairs_trading_system" / "AAPL.csv"
    )
    ours = [
        (f.filled_at.date().isoformat(), f.side.value, f.quantity, f.price)
        for f in outcome.main.fills
    ]
    assert ours == expected_fills
    assert all(f.filled_at > f.decided_at for f in outcome.main.fills)
    assert len(ours) == 41
    assert outcome.main.final_equity == expected_equity
    assert round(outcome.main.final_equity, 2) == Decimal("204993.75")


def test_same_request_and_seed_give_a_byte_identical_results_file() -> None:
    settings = AtpSettings()
    request = _request().model_copy(update={"commission_bps": 1.0, "slippage_bps": 5.0})
    first = results_json(run_backtest(request, settings.data_dir))
    second = results_json(run_backtest(request, settings.data_dir))
    assert first == second
    assert '"fills"' in first
