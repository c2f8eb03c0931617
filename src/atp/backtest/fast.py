"""The fast path: the live chain on the bars where something can happen, columns elsewhere.

On most bars of a backtest no agent wants to trade and nothing is open at the venue; the
live chain would then open a window, collect holds, vote a hold and fill nothing. The fast
engine knows those bars in advance, because every strategy answers for all bars at once
through the plugin API's `signals` hook (proved equal to `on_bar`, bar by bar), and skips
them. It runs the general engine's very step (`BacktestEngine.step`: paper venue, the real
`AgentHost`, `MetaCoordinator`, `RiskEngine`, order sizing) on:

* every bar inside the traded range where at least one agent answers buy or sell;
* every bar while an order is open at the venue or deferred to the next open; when no agent
  trades on such a bar (and no window is open), only the venue's part of the step runs (the
  deferred order is submitted and filled, both books see the update and the bar): the window
  would have held.

Before such a bar, with several symbols, each symbol's latest skipped bar is shown to the
venue (mark and last price), the risk engine (mark) and the agents' ledger (mark), so sizing
and risk see the prices they would have seen (one symbol's own next bar sets them all).
The agents answer through `ColumnStrategy`, which replays their hook's answers to the host.
The equity curve is kept compact (`EquityCurve`).

It applies (`fast_path_applies`) when every strategy has the hook and the run's risk limits
are off (the default): a daily-loss or correlation limit reads every bar's mark.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from atp.agents.strategy import SELL_CODE, SignalColumns, Strategy, StrategyParams, StrategySignal
from atp.backtest.columns import SymbolColumns, from_ns, to_ns
from atp.backtest.engine import BacktestEngine, Cancelled, EngineRecord, Progress
from atp.backtest.equity import EquityCurve, SegmentLog
from atp.backtest.wiring import InProcessPipeline
from atp.core.clock import SimulatedClock
from atp.core.events import MarketSignal
from atp.core.ids import Symbol
from atp.marketdata.align import BarBatch


@dataclass(frozen=True, slots=True)
class Acting:
    """A strategy's buy and sell answers on one symbol: only the bars where it acts."""

    stamps: npt.NDArray[np.int64]
    codes: npt.NDArray[np.int8]
    confidences: npt.NDArray[np.float64]

    @classmethod
    def of(cls, timestamps: npt.NDArray[np.int64], answers: SignalColumns) -> Acting:
        """The acting bars of `answers` (17 bytes each; a hold costs nothing)."""
        where = np.flatnonzero(answers.action)
        return cls(timestamps[where], answers.action[where], answers.confidence[where])


class ColumnStrategy(Strategy[None]):
    """Answers `on_bar` with a strategy's precomputed `signals` (same name, same answers)."""

    def __init__(self, inner: Strategy[object], answers: dict[Symbol, Acting]):
        super().__init__(StrategyParams())
        self.name = inner.name  # type: ignore[misc]
        self._answers = answers
        # Per symbol: where the last answer was found. The chain asks in time order, so the
        # next answer is usually a step or two on: no binary search over all acting bars.
        self._cursor: dict[Symbol, int] = {}
        self._sell_reason = f"{self.name}: sell (signals hook)"
        self._buy_reason = f"{self.name}: buy (signals hook)"

    def new_state(self) -> None:
        """No state: the answers are computed."""
        return None

    def on_bar(self, bar: MarketSignal) -> StrategySignal | None:
        """The hook's answer for `bar` (looked up by symbol and timestamp)."""
        acting = self._answers[bar.symbol]
        moment = to_ns(bar.timestamp)
        stamps = acting.stamps
        count = len(stamps)
        index = self._cursor.get(bar.symbol, 0)
        if index > count or (index > 0 and int(stamps[index - 1]) >= moment):
            index = int(np.searchsorted(stamps, moment))  # asked out of order: search
        else:
            while index < count and int(stamps[index]) < moment:
                index += 1
        self._cursor[bar.symbol] = index
        if index == count or int(stamps[index]) != moment:
            return None  # a hold
        code = int(acting.codes[index])
        confidence = float(acting.confidences[index])
        if code == SELL_CODE:
            return StrategySignal.sell(confidence, self._sell_reason)
        return StrategySignal.buy(confidence, self._buy_reason)


def answers_of(
    strategy: Strategy[object], data: list[SymbolColumns]
) -> dict[Symbol, SignalColumns] | None:
    """The strategy's hook answers per symbol, or None when it has no hook."""
    out: dict[Symbol, SignalColumns] = {}
    for columns in data:
        fresh = type(strategy)(strategy.params)
        answered = fresh.signals(columns.floats)
        if answered is None:
            return None
        out[columns.symbol] = answered
    return out


@dataclass(slots=True)
class _Calendar:
    stamps: npt.NDArray[np.int64]
    # Per symbol: the index of its latest bar at or before each calendar time (-1: none yet).
    # None with one symbol: its bar at each calendar time is the one at that very index.
    latest: list[npt.NDArray[np.int64]] | None
    # Per symbol: whether it has a bar at each calendar time (None with one symbol: always).
    present: list[npt.NDArray[np.bool_]] | None


def _calendar(data: list[SymbolColumns]) -> _Calendar:
    if len(data) == 1:
        # One symbol: its own timestamps are the calendar, and no index arrays (9 bytes a
        # bar) that would only repeat 0, 1, 2...
        return _Calendar(data[0].timestamps, None, None)
    stamps = np.unique(np.concatenate([c.timestamps for c in data]))
    latest = [np.searchsorted(c.timestamps, stamps, side="right") - 1 for c in data]
    present = [np.isin(stamps, c.timestamps, assume_unique=True) for c in data]
    return _Calendar(stamps, latest, present)


class FastEngine:
    """Drives `BacktestEngine.step` only where it can matter (see the module docstring)."""

    def __init__(
        self,
        *,
        data: list[SymbolColumns],
        wants: list[dict[Symbol, Acting]],
        start_ns: int,
        engine: BacktestEngine,
        pipeline: InProcessPipeline,
        clock: SimulatedClock,
        initial_cash: Decimal,
    ) -> None:
        self._data = data
        self._engine = engine
        self._pipeline = pipeline
        self._clock = clock
        self._initial_cash = initial_cash
        self._calendar = _calendar(data)
        stamps = self._calendar.stamps
        self._first_traded = int(np.searchsorted(stamps, start_ns, side="left"))
        want = np.zeros(len(stamps), dtype=bool)
        for answers in wants:
            for columns in data:
                want[np.searchsorted(stamps, answers[columns.symbol].stamps)] = True
        want[: self._first_traded] = False
        self._want = want
        self._wanted = np.flatnonzero(want)
        self._single = len(data) == 1
        # Per symbol its slot in `data` (the equity segments hold quantities by slot).
        self._slot_of = {columns.symbol: slot for slot, columns in enumerate(data)}

    def run(
        self, *, progress: Progress | None = None, cancelled: Callable[[], bool] | None = None
    ) -> tuple[EngineRecord, EquityCurve]:
        """Runs every wanted bar (and every bar an open order needs); returns the record."""
        engine, calendar, data = self._engine, self._calendar, self._data
        coordinator = self._pipeline.coordinator
        record = EngineRecord()
        total = len(calendar.stamps)
        seen = [-1] * len(data)  # per symbol: the last bar index the chain's nodes saw
        segments = SegmentLog()
        wanted = self._wanted.tolist()
        want = self._want
        first_traded = self._first_traded
        report_every = max(1, total // 100)
        # One symbol (the common case): its own bars are the calendar, present at every index.
        single = self._single
        slots = list(enumerate(data))
        latest, present = calendar.latest or [], calendar.present or []
        pointer = 0
        index = wanted[0] if wanted else total
        reported = 0
        while index < total:
            if cancelled is not None and cancelled():
                raise Cancelled("run cancelled")
            self._catch_up(index, seen)
            moment = from_ns(int(calendar.stamps[index]))
            if single:
                bars = [data[0].bar(index, moment)]
                seen[0] = index
            else:
                bars = []
                for slot, columns in slots:
                    if present[slot][index]:
                        position = int(latest[slot][index])
                        bars.append(columns.bar(position, moment))
                        seen[slot] = position
            trading = index >= first_traded
            batch = BarBatch(moment, tuple(bars))
            if want[index] or coordinator.open_windows:
                engine.step(batch, record, trading=trading, bar_index=index - first_traded)
            else:
                # An order to fill and no agent trading: every window here would hold.
                engine.fill(batch, record, bar_index=index - first_traded)
                for bar in bars:
                    self._pipeline.on_skipped(bar)
            if trading:
                self._keep_segment(index, segments)
            if progress is not None and index - reported >= report_every:
                reported = index
                progress(index, total)
            if engine.busy:
                index += 1
                continue
            while pointer < len(wanted) and wanted[pointer] <= index:
                pointer += 1
            index = wanted[pointer] if pointer < len(wanted) else total
        if progress is not None:
            progress(total, total)
        curve = EquityCurve(
            data=data,
            stamps=calendar.stamps[self._first_traded :],
            latest=None if not latest else [rows[self._first_traded :] for rows in latest],
            segments=segments,
            first=self._first_traded,
            initial_cash=self._initial_cash,
        )
        return record, curve

    def _catch_up(self, index: int, seen: list[int]) -> None:
        """Shows each symbol's latest skipped bar to the venue, risk and agents' books.

        With one symbol there is nothing to catch up: its bar at `index` comes next and sets
        every mark the skipped bar would have set (venue, risk exposure, agents' ledger) before
        anything reads them. What else the skipped bar would leave behind in the risk engine
        (a close-to-close return, the day's opening equity) only its correlation and daily-loss
        limits read, and the fast path runs with limits off. With several symbols, another
        symbol's decision on this bar is sized and checked against this one's mark, so its
        latest bar must be shown first.
        """
        calendar = self._calendar
        if index == 0 or calendar.latest is None or calendar.present is None:
            return  # the first bar, or one symbol
        engine = self._engine
        moment = from_ns(int(calendar.stamps[index - 1]))
        moved = False
        for slot, columns in enumerate(self._data):
            position = int(calendar.latest[slot][index - 1])
            if position < 0 or position == seen[slot]:
                continue
            if not moved:
                self._clock.advance_to(moment)
                moved = True
            # The bar's own time: the calendar's when the symbol has a bar there.
            bar = columns.bar(position, moment if calendar.present[slot][index - 1] else None)
            engine.mark(bar)
            self._pipeline.on_skipped(bar)
            seen[slot] = position

    def _keep_segment(self, index: int, segments: SegmentLog) -> None:
        """Keeps the account from bar `index` on, unless the last segment already holds it.

        An unchanged account (a decision bar: the fill comes a bar later) is covered by the
        previous segment.
        """
        ledger = self._engine.ledger
        slot_of = self._slot_of
        held = tuple(
            (slot_of[symbol], position.quantity)
            for symbol, position in ledger._positions.items()
            if symbol in slot_of
        )
        segments.keep(index - self._first_traded, ledger.cash, held)
