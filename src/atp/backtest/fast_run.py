"""One run on the fast path: columns in, the same `RunSummary` as the general engine out.

`run_once` takes this path by itself when `fast_path_applies`; `bench/backtest.py` calls
`run_columns` with columns streamed from a long file (`read_csv_columns`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

import numpy as np

from atp.agents.strategy import Strategy
from atp.backtest.columns import SymbolColumns, from_ns, from_series, to_ns
from atp.backtest.engine import BacktestEngine, Progress
from atp.backtest.fast import Acting, ColumnStrategy, FastEngine, answers_of
from atp.backtest.model import BacktestRequest, RunSummary
from atp.backtest.runner import LoadedData, _order_maker, risk_config, summarize, venue_config
from atp.backtest.wiring import InProcessPipeline, build_chain, build_strategy
from atp.brokers.paper.venue import PaperVenue
from atp.core.clock import SimulatedClock


def fast_path_applies(request: BacktestRequest, strategies: Sequence[str]) -> bool:
    """True when every strategy has the `signals` hook and the risk limits are off."""
    if request.risk is not None:
        return False
    probe = np.ones(1, dtype=np.float64)
    from atp.agents.strategy import BarColumns

    for name in strategies:
        strategy = build_strategy(name, request.params.get(name))
        if strategy.signals(BarColumns(probe, probe, probe, probe, probe)) is None:
            return False
    return True


def cut(columns: SymbolColumns, low_ns: int, high_ns: int) -> SymbolColumns:
    """The bars of `columns` with low_ns <= timestamp <= high_ns."""
    low = int(np.searchsorted(columns.timestamps, low_ns, side="left"))
    high = int(np.searchsorted(columns.timestamps, high_ns, side="right"))
    floats = columns.floats
    return replace(
        columns,
        timestamps=columns.timestamps[low:high],
        floats=type(floats)(
            floats.open[low:high],
            floats.high[low:high],
            floats.low[low:high],
            floats.close[low:high],
            floats.volume[low:high],
        ),
        texts=columns.texts.sliced(low, high),
    )


def columns_of(data: LoadedData) -> list[SymbolColumns]:
    """The loaded series as columns, cut to the batches the run covers (warm-up included)."""
    if not data.batches:
        return []
    low, high = to_ns(data.batches[0].timestamp), to_ns(data.batches[-1].timestamp)
    return [cut(from_series(series), low, high) for series in data.series]


def run_columns(
    request: BacktestRequest,
    columns: list[SymbolColumns],
    *,
    strategies: Sequence[str],
    voting_strategy: str,
    label: str,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> RunSummary:
    """One run of `strategies` on the fast path over `columns` (see `atp.backtest.fast`)."""
    first = (
        from_ns(int(min(c.timestamps[0] for c in columns if len(c))))
        if any(len(c) for c in columns)
        else request.start_date
    )
    clock = SimulatedClock(first - timedelta(seconds=1))
    venue = PaperVenue(venue_config(request), clock=clock)
    wants = []
    replayed: list[tuple[str, Strategy[Any]]] = []
    for name in strategies:
        strategy = build_strategy(name, request.params.get(name))
        answers = answers_of(strategy, columns)
        assert answers is not None, f"{name} has no signals hook"
        acting = {c.symbol: Acting.of(c.timestamps, answers[c.symbol]) for c in columns}
        del answers  # full-length answers: only the acting bars are kept
        wants.append(acting)
        replayed.append((name, ColumnStrategy(strategy, acting)))
    chain = build_chain(
        strategies=replayed,
        voting=voting_strategy,
        sizing=request.sizing,
        symbols=len(request.symbols),
        initial_cash=request.initial_balance,
        risk_config=risk_config(request),
        clock=clock,
    )
    pipeline = InProcessPipeline(chain)
    engine = BacktestEngine(
        batches=[],
        start=request.start_date,
        end=request.end_date,
        pipeline=pipeline,
        venue=venue,
        clock=clock,
        order_for=_order_maker(request, venue),
        defer_to_fill_bar=request.sizing == "all_in",
    )
    fast = FastEngine(
        data=[c for c in columns if len(c)],
        wants=wants,
        start_ns=to_ns(request.start_date),
        engine=engine,
        pipeline=pipeline,
        clock=clock,
        initial_cash=request.initial_balance,
    )
    record, curve = fast.run(progress=progress, cancelled=cancelled)
    # The live components' books (orders, ids, fill ids: about 40 MB at 39,000 fills) go
    # before the summary is built, so its objects reuse their memory instead of adding to it.
    del fast, engine, pipeline, chain, venue, replayed, wants
    return summarize(request, record, label, tuple(strategies), voting_strategy, curve)
