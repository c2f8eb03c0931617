"""Benchmark: ATP's in-process backtest against backtrader on the same SMA(10/30) strategy.

sma_crossover fast 10 / slow 30, long only, all-in fractional sizing, next-bar-open fills, no
costs; on a long real daily file and on synthetic bars (`--bars`, default 1,000,000). Checks
that both engines make the same trades and prints bars/s for each, the ratio and peak RSS.

    .venv/bin/python bench/backtest.py [--bars N] [--file [PATH ...]]
"""

from __future__ import annotations

import argparse
import csv
import math
import multiprocessing
import random
import resource
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from atp.backtest.columns import read_csv_columns
from atp.backtest.fast_run import run_columns
from atp.backtest.model import BacktestRequest
from atp.services.settings import AtpSettings


def synthetic_csv(bars: int, folder: Path) -> Path:
    path = folder / "SYN.csv"
    rng = random.Random(42)
    price = 100.0
    start = datetime(1900, 1, 1, tzinfo=UTC)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Date", "Open", "High", "Low", "Close", "Volume"])
        for i in range(bars):
            # About 0.1% a minute: over 1M bars the walk stays within roughly 30..300. (With 1%
            # it sank to a few ticks after 200k bars and then barely moved: a flat series.)
            open_price = round(price * (1 + rng.gauss(0, 0.0002)), 4)
            close = round(open_price * (1 + rng.gauss(0, 0.001)), 4)
            high, low = max(open_price, close) * 1.001, min(open_price, close) * 0.999
            writer.writerow(
                [
                    (start + timedelta(minutes=i)).strftime("%Y-%m-%d %H:%M:%S"),
                    open_price,
                    round(high, 4),
                    round(low, 4),
                    close,
                    1000000,
                ]
            )
            price = close
    return path


def run_atp(path: Path) -> tuple[list[tuple[str, str, float]], float, int]:
    """ATP's fast path, timed from the CSV file to the summary (loading included)."""
    data_request = BacktestRequest(
        start_date="1800-01-01",
        end_date="2100-01-01",
        symbols=["X"],
        strategies=["sma_crossover"],
        initial_balance=Decimal(100_000),
        commission_bps=0,
        slippage_bps=0,
        sizing="all_in",
        warmup_bars=0,
        data_files={"X": str(path)},
    )
    started = time.perf_counter()
    # Streamed into compact columns: no MarketSignal per bar, ~90 bytes a bar.
    columns = read_csv_columns(path, symbol="X")
    loaded = time.perf_counter()
    summary = run_columns(
        data_request,
        [columns],
        strategies=["sma_crossover"],
        voting_strategy="majority",
        label="bench",
    )
    elapsed = time.perf_counter() - started
    print(f"  (atp: load {loaded - started:.2f} s, run {elapsed - (loaded - started):.2f} s)")
    trades = [(f.filled_at.date().isoformat(), f.side.value, float(f.price)) for f in summary.fills]
    return trades, elapsed, len(columns)


def _exact_difference(window: list[float], fast: int, slow: int) -> Fraction:
    """Fast minus slow mean in exact decimals (each close read as its shortest text)."""
    values = [Fraction(repr(v)) for v in window]
    return sum(values[-fast:], Fraction(0)) / fast - sum(values, Fraction(0)) / slow


def _backtrader_strategy() -> Any:
    """backtrader's side, imported only in its own process (its modules are not ATP's RSS)."""
    import backtrader as bt

    class _ExactCrossOver(bt.Indicator):  # type: ignore[misc]
        """backtrader's `CrossOver` of SMA(fast) and SMA(slow), with exact ties.

        backtrader's own SMAs (`math.fsum` / period) and its non-zero-difference rule; only a
        difference within 1e-9 of the slow SMA is recomputed in exact decimals, because on decimal
        prices the averages are often exactly equal and the float difference is then rounding
        noise of either sign (stock `CrossOver` reads such a tie as a cross 4,648 times on the
        200,000-bar series, ATP's running sums did so 7,223 times: 7,144 vs 6,996 trades).
        """

        lines = ("crossover",)
        params = (("fast", 10), ("slow", 30))

        def __init__(self) -> None:
            self.fast_sma = bt.ind.SMA(self.data, period=self.p.fast)
            self.slow_sma = bt.ind.SMA(self.data, period=self.p.slow)
            self._last = 0.0

        def _cross(self, diff: float, slow_mean: float, window: Callable[[], list[float]]) -> float:
            if abs(diff) <= 1e-9 * abs(slow_mean):
                exact = _exact_difference(window(), self.p.fast, self.p.slow)
                if exact == 0:
                    diff = 0.0
                elif diff == 0.0 or (diff > 0) != (exact > 0):
                    diff = float(exact)
            last = self._last
            if diff != 0.0:
                self._last = diff
            return 1.0 if last < 0.0 < diff else -1.0 if last > 0.0 > diff else 0.0

        def next(self) -> None:
            slow = self.p.slow
            self.lines.crossover[0] = self._cross(
                self.fast_sma[0] - self.slow_sma[0],
                self.slow_sma[0],
                lambda: list(self.data.get(size=slow)),
            )

        def once(self, start: int, end: int) -> None:
            closes, out = self.data.array, self.lines.crossover.array
            fast, slow, period = self.fast_sma.array, self.slow_sma.array, self.p.slow
            for i in range(start, end):
                out[i] = self._cross(
                    fast[i] - slow[i], slow[i], lambda i=i: list(closes[i - period + 1 : i + 1])
                )

    class _AllIn(bt.Strategy):  # type: ignore[misc]
        def __init__(self) -> None:
            self.cross = _ExactCrossOver(self.data, fast=10, slow=30)
            self.trades: list[tuple[str, str, float]] = []

        def notify_order(self, order: bt.Order) -> None:
            if order.status == order.Completed:
                when = bt.num2date(order.executed.dt).date().isoformat()
                self.trades.append((when, "buy" if order.isbuy() else "sell", order.executed.price))

        def next(self) -> None:
            if len(self.data) >= len(self.data.array):
                return
            if self.cross > 0 and not self.position:
                # All cash at the fill price, rounded down to 1e-6 shares as ATP's all-in sizing
                # does. Unrounded, cash / open * open can exceed cash by one float ulp, and
                # backtrader then refuses the order for margin (twice on AAPL: 84 trades, not 88).
                size = math.floor(self.broker.getcash() / self.data.open[1] * 1e6) / 1e6
                self.buy(size=size)
            elif self.cross < 0 and self.position:
                self.close()

    return _AllIn


def run_backtrader(path: Path) -> tuple[list[tuple[str, str, float]], float]:
    """backtrader (runonce, preloaded), timed over `cerebro.run()` (its CSV load included)."""
    import backtrader as bt

    cerebro = bt.Cerebro(runonce=True, preload=True, stdstats=False)
    cerebro.adddata(
        bt.feeds.GenericCSVData(
            dataname=str(path),
            dtformat="%Y-%m-%d %H:%M:%S" if "SYN" in path.name else "%Y-%m-%d",
            datetime=0,
            open=1,
            high=2,
            low=3,
            close=4,
            volume=5,
            openinterest=-1,
            timeframe=bt.TimeFrame.Minutes if "SYN" in path.name else bt.TimeFrame.Days,
        )
    )
    cerebro.broker.setcash(100_000)
    cerebro.broker.set_checksubmit(False)
    cerebro.addstrategy(_backtrader_strategy())
    started = time.perf_counter()
    strategy = cerebro.run()[0]
    return strategy.trades, time.perf_counter() - started


def _child(engine: str, path: Path, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """Runs one engine in a fresh process so its peak RSS is its own."""
    if engine == "atp":
        trades, seconds, _ = run_atp(path)
    else:
        trades, seconds = run_backtrader(path)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((trades, seconds, peak_mb))


def _in_child(engine: str, path: Path) -> tuple[list[tuple[str, str, float]], float, float]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(engine, path, queue))
    process.start()
    result = queue.get()
    process.join()
    return result  # type: ignore[no-any-return]


def compare(name: str, path: Path) -> None:
    """Runs both engines on `path`, asserts the same trades, prints speed and peak RSS."""
    bars = sum(1 for _ in path.open()) - 1
    atp_trades, atp_s, atp_mb = _in_child("atp", path)
    bt_trades, bt_s, bt_mb = _in_child("backtrader", path)
    # Same sequence of sides and fill prices (ATP books prices on a 0.0001 tick, backtrader
    # keeps floats; ATP dates its bars in UTC, backtrader keeps the file's naive times).
    same = [(s, round(p, 4)) for _, s, p in atp_trades] == [
        (s, round(p, 4)) for _, s, p in bt_trades
    ]
    print(
        f"{name}: {bars} bars, trades atp={len(atp_trades)} backtrader={len(bt_trades)} same={same}"
    )
    print(f"  atp        {bars / atp_s:12,.0f} bars/s ({atp_s:.2f} s)  peak RSS {atp_mb:,.0f} MB")
    print(f"  backtrader {bars / bt_s:12,.0f} bars/s ({bt_s:.2f} s)  peak RSS {bt_mb:,.0f} MB")
    print(f"  ratio atp/backtrader {bt_s / atp_s:.2f}x")
    assert same, "ATP and backtrader disagree on the trades"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bars", type=int, default=1_000_000)
    data = AtpSettings().data_dir
    parser.add_argument(
        "--file",
        type=Path,
        nargs="*",
        # The longest daily file in the standard layout (backtrader's own sample, 5,036 bars),
        # and the ten years of AAPL the earlier figures were measured on. `--file` with no path:
        # only the synthetic series.
        default=[
            data / "backtrader" / "orcl-1995-2014.txt",
            data / "pairs_trading_system" / "AAPL.csv",
        ],
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for number, path in enumerate(args.file):
            real = Path(folder) / f"X{number}.csv"
            with path.open() as src, real.open("w", newline="") as dst:
                rows = csv.DictReader(src)
                writer = csv.writer(dst)
                writer.writerow(["Date", "Open", "High", "Low", "Close", "Volume"])
                for r in rows:
                    writer.writerow(
                        [r["Date"], r["Open"], r["High"], r["Low"], r["Close"], r["Volume"]]
                    )
            compare(path.name, real)
        if args.bars:
            compare(f"synthetic {args.bars}", synthetic_csv(args.bars, Path(folder)))


if __name__ == "__main__":
    main()
