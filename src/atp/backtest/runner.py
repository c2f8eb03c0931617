"""Runs a `BacktestRequest` in process: loads the data, runs every variant, computes metrics.

One request gives: the main run (all strategies under `voting_strategy`), one run per extra
voting strategy, and one run per strategy alone (its per-agent figures). Each run is a fresh
chain (strategies, venue, ledger) over the same aligned bars, so runs never share state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any, Literal

import numpy as np

from atp.backtest.columns import to_ns
from atp.backtest.engine import BacktestEngine, EngineRecord, Pipeline, Progress
from atp.backtest.equity import EquityCurve
from atp.backtest.metrics import compute_metrics, periods_per_year
from atp.backtest.model import BacktestRequest, EquityPoint, RunSummary
from atp.backtest.results import BacktestOutcome
from atp.backtest.sizing import FRACTIONAL_LOT
from atp.backtest.trades import TradeFill, round_trips
from atp.backtest.wiring import Chain, InProcessPipeline, build_chain, build_strategy, check_voting
from atp.brokers.models import OrderRequest
from atp.brokers.paper.config import FeeConfig, PaperVenueConfig, SlippageConfig
from atp.brokers.paper.pricing import with_slippage
from atp.brokers.paper.venue import PaperVenue
from atp.core.clock import SimulatedClock
from atp.core.enums import OrderType, Side, TimeInForce
from atp.core.errors import InvalidInput, NotFound
from atp.core.events import MarketSignal, MetaDecision
from atp.core.money import ZERO
from atp.marketdata.align import BarBatch, align
from atp.marketdata.catalog import BarSeries, find_data_file, load_bars
from atp.risk.config import (
    ConcentrationConfig,
    CorrelationConfig,
    DailyLossConfig,
    InstrumentCap,
    PositionCapConfig,
    RiskEngineConfig,
    VelocityConfig,
)

DEFAULT_WARMUP = 60
EngineChoice = Literal["auto", "general"]


@dataclass(frozen=True, slots=True)
class LoadedData:
    """The aligned bars of a request, and where each symbol came from."""

    batches: list[BarBatch]
    sources: dict[str, str]
    series: list[BarSeries]


def load_data(request: BacktestRequest, data_dir: Path) -> LoadedData:
    """Loads each symbol's file (explicit, else found in `data_dir`), with warm-up, aligned.

    Raises:
        InvalidInput: a symbol has no file, a file that names another symbol (its Symbol
            column), or no bar inside the requested dates.
    """
    series: list[BarSeries] = []
    for symbol in request.symbols:
        explicit = request.data_files.get(symbol)
        try:
            path = Path(explicit) if explicit else find_data_file(data_dir, symbol)
        except NotFound as exc:
            raise InvalidInput(f"symbols: no data for {symbol}: {exc}") from exc
        loaded = load_bars(path, symbol=symbol, match_symbol=True)
        inside = [b for b in loaded.bars if request.start_date <= b.timestamp <= request.end_date]
        if not inside:
            first, last = loaded.bars[0].timestamp, loaded.bars[-1].timestamp
            raise InvalidInput(
                f"symbols: {symbol} has no bars between {request.start_date.date()} and "
                f"{request.end_date.date()} (its file {path.name} covers {first.date()} to "
                f"{last.date()})"
            )
        series.append(loaded)
    warmup = request.warmup_bars
    if warmup is None:
        strategies = [build_strategy(n, request.params.get(n)) for n in request.strategies]
        warmup = max([DEFAULT_WARMUP, *(s.warmup_bars * 2 for s in strategies)])
    batches = align(series)
    first_traded = next(i for i, b in enumerate(batches) if b.timestamp >= request.start_date)
    kept = [b for b in batches[max(0, first_traded - warmup) :] if b.timestamp <= request.end_date]
    return LoadedData(kept, {s.symbol: Path(s.source).name for s in series}, series)


def venue_config(request: BacktestRequest) -> PaperVenueConfig:
    """The paper venue of a run: next-open fills, the request's costs, its seed."""
    all_in = request.sizing == "all_in"
    return PaperVenueConfig(
        venue="backtest",
        initial_cash=request.initial_balance,
        fill_on="next_open",
        slippage=SlippageConfig(fixed_bps=Decimal(repr(request.slippage_bps)), seed=request.seed),
        fees=FeeConfig(percent=Decimal(repr(request.commission_bps)) / 100),
        # All-in orders are sized at the fill price by the engine, so the venue must not
        # second-guess them against the previous close or cap them by volume.
        max_volume_share=None if all_in else Decimal("0.1"),
        allow_negative_cash=all_in,
        # equal_weight trades whole shares, so cash-capped fills round down to whole shares.
        quantity_increment=FRACTIONAL_LOT if all_in else Decimal(1),
    )


def _order_maker(
    request: BacktestRequest, venue: PaperVenue
) -> Callable[[MetaDecision, MarketSignal | None], OrderRequest | None]:
    slip_bps = Decimal(repr(request.slippage_bps))
    fee = Decimal(repr(request.commission_bps)) / 10_000

    def make(decision: MetaDecision, fill_bar: MarketSignal | None) -> OrderRequest | None:
        side = decision.action.as_side()
        assert side is not None and decision.client_order_id is not None
        quantity = decision.quantity
        if fill_bar is not None:
            ledger = venue.ledger
            if side is Side.BUY:
                # All cash at the very price the venue will fill at (its slippage and tick
                # rounding), net of commission, in fractional shares.
                price = with_slippage(fill_bar.open, side, slip_bps, None).quantize(
                    venue.config.price_increment, ROUND_HALF_EVEN
                )
                budget = ledger.cash - (Decimal("0.01") if fee else ZERO)
                quantity = (budget / (price * (1 + fee))).quantize(
                    FRACTIONAL_LOT, rounding=ROUND_DOWN
                )
            else:
                quantity = ledger.quantity(decision.symbol)
        if quantity <= ZERO:
            return None
        return OrderRequest(
            client_order_id=decision.client_order_id,
            symbol=decision.symbol,
            side=side,
            quantity=quantity,
            order_type=OrderType.MARKET,
            time_in_force=TimeInForce.DAY,
            decision_id=decision.decision_id,
        )

    return make


def risk_config(request: BacktestRequest) -> RiskEngineConfig:
    """The risk engine's limits for a run: the request's, else every limit off.

    With limits off the engine still runs every check (kill switch, blocks, state) and books
    every fill; it just has no cap to refuse on, so a strategy is measured on its own.
    """
    if request.risk is not None:
        return request.risk.model_copy(update={"initial_cash": request.initial_balance})
    return RiskEngineConfig(
        initial_cash=request.initial_balance,
        daily_loss=DailyLossConfig(max_loss=None),
        position_caps=PositionCapConfig(default=InstrumentCap()),
        correlation=CorrelationConfig(max_bucket_gross=None, derive=False),
        velocity=VelocityConfig(
            per_agent_per_second=None,
            per_agent_per_minute=None,
            total_per_second=None,
            total_per_minute=None,
        ),
        concentration=ConcentrationConfig(max_share_of_gross=None, max_share_of_equity=None),
    )


@dataclass(frozen=True, slots=True)
class RunParts:
    """What one engine run is made of: the clock, the venue and the live chain."""

    clock: SimulatedClock
    venue: PaperVenue
    chain: Chain


def new_run(
    request: BacktestRequest,
    data: LoadedData,
    *,
    strategies: Sequence[str],
    voting_strategy: str,
) -> RunParts:
    """A fresh clock, paper venue and chain (strategies, coordinator, risk) for one run."""
    first = data.batches[0].timestamp if data.batches else request.start_date
    clock = SimulatedClock(first - timedelta(seconds=1))
    venue = PaperVenue(venue_config(request), clock=clock)
    chain = build_chain(
        strategies=[(name, build_strategy(name, request.params.get(name))) for name in strategies],
        voting=voting_strategy,
        sizing=request.sizing,
        symbols=len(request.symbols),
        initial_cash=request.initial_balance,
        risk_config=risk_config(request),
        clock=clock,
    )
    return RunParts(clock, venue, chain)


def drive(
    request: BacktestRequest,
    data: LoadedData,
    parts: RunParts,
    pipeline: Pipeline,
    *,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> EngineRecord:
    """Runs the engine over `data` with `pipeline` in front of the run's venue."""
    engine = BacktestEngine(
        batches=data.batches,
        start=request.start_date,
        end=request.end_date,
        pipeline=pipeline,
        venue=parts.venue,
        clock=parts.clock,
        order_for=_order_maker(request, parts.venue),
        defer_to_fill_bar=request.sizing == "all_in",
    )
    return engine.run(progress=progress, cancelled=cancelled)


def run_once(
    request: BacktestRequest,
    data: LoadedData,
    *,
    strategies: Sequence[str],
    voting_strategy: str,
    label: str,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
    engine: EngineChoice = "auto",
) -> RunSummary:
    """One in-process engine run of `strategies` under `voting_strategy` over `data`.

    `engine="auto"` takes the fast path (`atp.backtest.fast`) when it applies, else the
    general engine; `"general"` always runs the chain on every bar.
    """
    from atp.backtest.fast_run import columns_of, fast_path_applies, run_columns

    if engine == "auto" and fast_path_applies(request, strategies):
        return run_columns(
            request,
            columns_of(data),
            strategies=strategies,
            voting_strategy=voting_strategy,
            label=label,
            progress=progress,
            cancelled=cancelled,
        )
    parts = new_run(request, data, strategies=strategies, voting_strategy=voting_strategy)
    record = drive(
        request,
        data,
        parts,
        InProcessPipeline(parts.chain),
        progress=progress,
        cancelled=cancelled,
    )
    return summarize(request, record, label, tuple(strategies), voting_strategy)


def summarize(
    request: BacktestRequest,
    record: EngineRecord,
    label: str,
    strategies: tuple[str, ...],
    voting_strategy: str,
    curve: EquityCurve | None = None,
) -> RunSummary:
    """Metrics and records of one engine run (its equity in `record`, or compact in `curve`)."""
    initial = float(request.initial_balance)
    points: Sequence[EquityPoint] = tuple(record.equity) if curve is None else curve
    equity = [float(p.equity) for p in record.equity] if curve is None else curve.floats
    flags = record.exposure_flags if curve is None else curve.exposed
    trades = round_trips(
        TradeFill(f.symbol, f.side, f.quantity, f.price, f.commission, f.bar_index)
        for f in record.fills
    )
    stamps = (
        np.array([to_ns(p.timestamp) for p in record.equity], dtype=np.int64)
        if curve is None
        else curve.stamps
    )
    metrics = compute_metrics(
        initial=initial,
        equity=equity,
        exposure_flags=flags,
        traded_notional=float(sum((f.quantity * f.price for f in record.fills), ZERO)),
        trades=trades,
        num_fills=len(record.fills),
        periods=periods_per_year(stamps),
    )
    final = points[-1].equity if points else request.initial_balance
    return RunSummary(
        label=label,
        strategies=strategies,
        voting_strategy=voting_strategy,
        final_equity=final,
        metrics=metrics,
        fills=tuple(record.fills),
        equity=points,
        decisions=record.decisions,
        approved=record.approved,
        risk_denied=record.risk_denied,
    )


def validate(request: BacktestRequest) -> None:
    """Refuses unknown strategies, parameters and voting strategies before any data loads."""
    for name in request.strategies:
        build_strategy(name, request.params.get(name))
    for name in request.params:
        if name not in request.strategies:
            raise InvalidInput(f"params: {name!r} is not one of the requested strategies")
    check_voting(request.voting_strategy)
    for name in request.compare_voting_strategies:
        check_voting(name, "compare_voting_strategies")


def run_backtest(
    request: BacktestRequest,
    data_dir: Path,
    *,
    progress: Callable[[float], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> BacktestOutcome:
    """Runs the whole request; `progress` gets the percentage done (0-100)."""
    validate(request)
    data = load_data(request, data_dir)
    variants = [v for v in request.compare_voting_strategies if v != request.voting_strategy]
    alone = request.strategies if len(request.strategies) > 1 else []
    total_runs = 1 + len(variants) + len(alone)
    done_runs = 0

    def report(done: int, total: int) -> None:
        if progress is not None:
            progress(100.0 * (done_runs + done / max(total, 1)) / total_runs)

    common: dict[str, Any] = {"progress": report, "cancelled": cancelled}
    main = run_once(
        request,
        data,
        strategies=request.strategies,
        voting_strategy=request.voting_strategy,
        label="combined",
        **common,
    )
    done_runs += 1
    others = []
    for voting in variants:
        others.append(
            run_once(
                request,
                data,
                strategies=request.strategies,
                voting_strategy=voting,
                label=f"combined/{voting}",
                **common,
            )
        )
        done_runs += 1
    per_agent = {}
    for name in alone:
        per_agent[name] = run_once(
            request,
            data,
            strategies=[name],
            voting_strategy=request.voting_strategy,
            label=name,
            **common,
        )
        done_runs += 1
    if not alone:
        per_agent[request.strategies[0]] = main
    traded = sum(1 for b in data.batches if b.timestamp >= request.start_date)
    return BacktestOutcome(request, main, per_agent, tuple(others), data.sources, traded)
