"""The in-process backtest engine: drives the live chain bar by bar on a simulated clock.

For each timestamp of the aligned calendar, in this order:

1. the clock moves to the bar's time;
2. the paper venue sees every bar of the batch first, so orders decided on earlier bars fill
   now, at this bar's open (`fill_on="next_open"`): an order decided on bar t never fills
   before bar t+1's open, which is what rules out look-ahead;
3. inside the traded range, the agents see each bar and answer with intents; the decision
   window of (symbol, bar) closes as soon as every agent answered; the coordinated decision
   passes the risk gate; an approved order goes to the venue;
4. the account is marked at the batch's closes and one equity point is recorded.

Bars before `start_date` are warm-up: agents see them, nothing trades and no equity is recorded.
The same chain (`Pipeline`) runs in every mode; only the transport around it changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from atp.backtest.model import EquityPoint, FillRecord
from atp.brokers.models import OrderRequest
from atp.brokers.paper.venue import PaperVenue
from atp.core.clock import SimulatedClock
from atp.core.events import MarketSignal, MetaDecision, OrderUpdate
from atp.marketdata.align import BarBatch
from atp.portfolio.ledger import Ledger

Progress = Callable[[int, int], None]


class Pipeline(Protocol):
    """The live decision chain for one bar: agents -> decision window -> vote -> risk gate."""

    def on_bar(self, signal: MarketSignal) -> MetaDecision | None:
        """Shows `signal` to every agent; returns the closed window's decision, if any."""
        ...

    def on_update(self, update: OrderUpdate) -> None:
        """Tells the risk books about an order update (fills move exposure and cash)."""
        ...


class Cancelled(Exception):
    """Raised inside a run when its cancel flag is set; the run stops between bars."""


@dataclass(slots=True)
class EngineRecord:
    """What one engine run saw and did."""

    fills: list[FillRecord] = field(default_factory=list)
    equity: list[EquityPoint] = field(default_factory=list)
    exposure_flags: list[bool] = field(default_factory=list)
    decisions: int = 0
    approved: int = 0
    risk_denied: int = 0
    orders: list[OrderRequest] = field(default_factory=list)


class BacktestEngine:
    """Runs one pipeline against one paper venue over aligned bars (see module docstring)."""

    def __init__(
        self,
        *,
        batches: Sequence[BarBatch],
        start: datetime,
        end: datetime,
        pipeline: Pipeline,
        venue: PaperVenue,
        clock: SimulatedClock,
        order_for: Callable[[MetaDecision, MarketSignal | None], OrderRequest | None],
        defer_to_fill_bar: bool = False,
    ) -> None:
        self._batches = batches
        self._start = start
        self._end = end
        self._pipeline = pipeline
        self._venue = venue
        self._clock = clock
        self._order_for = order_for
        self._defer = defer_to_fill_bar
        self._deferred: dict[str, tuple[MetaDecision, datetime]] = {}
        self._decided_at: dict[str, datetime] = {}
        self._bar_index = 0

    def run(
        self, *, progress: Progress | None = None, cancelled: Callable[[], bool] | None = None
    ) -> EngineRecord:
        """Runs every batch up to `end`; calls `progress(done, total)` every 1% or so."""
        record = EngineRecord()
        total = len(self._batches)
        step = max(1, total // 100)
        for index, batch in enumerate(self._batches):
            if batch.timestamp > self._end:
                break
            if cancelled is not None and cancelled():
                raise Cancelled("run cancelled")
            self._step(batch, record)
            if progress is not None and (index % step == 0 or index == total - 1):
                progress(index + 1, total)
        if progress is not None:
            progress(total, total)
        return record

    @property
    def busy(self) -> bool:
        """True while an order is open at the venue or deferred to the next bar's open."""
        return bool(self._deferred) or bool(self._venue.tracker.open_orders())

    @property
    def ledger(self) -> Ledger:
        """The venue's account (cash, positions, marks)."""
        return self._venue.ledger

    def mark(self, bar: MarketSignal) -> None:
        """Shows the venue a bar the chain skipped (nothing open: a mark and a last price)."""
        self._venue.on_signal(bar)

    def step(self, batch: BarBatch, record: EngineRecord, *, trading: bool, bar_index: int) -> None:
        """One batch through the chain, without recording equity (the caller keeps it)."""
        self._bar_index = bar_index
        self._step(batch, record, trading=trading, keep_equity=False)

    def fill(self, batch: BarBatch, record: EngineRecord, *, bar_index: int) -> None:
        """Only the venue's part of a step: submits what was deferred, fills what is open.

        For a bar on which no agent wants to trade: the chain's window there would hold, so
        the fast path shows the bar to the books (`on_skipped`) instead of deciding on it.
        """
        self._bar_index = bar_index
        self._clock.advance_to(batch.timestamp)
        self._fill(batch, record)

    def _fill(self, batch: BarBatch, record: EngineRecord) -> None:
        for bar in batch.bars:
            deferred = self._deferred.pop(bar.symbol, None)
            if deferred is not None:
                # Sized at the fill bar's open (all-in sizing), submitted before the venue sees
                # that bar, so it still fills at the open: the decision itself is from bar t.
                self._submit(self._order_for(deferred[0], bar), deferred[1], record)
            for update in self._venue.on_signal(bar):
                self._on_update(update, record)

    def _step(
        self,
        batch: BarBatch,
        record: EngineRecord,
        *,
        trading: bool | None = None,
        keep_equity: bool = True,
    ) -> None:
        self._clock.advance_to(batch.timestamp)
        if trading is None:
            trading = batch.timestamp >= self._start
        self._fill(batch, record)
        for bar in batch.bars:
            decision = self._pipeline.on_bar(bar)
            if decision is None or not trading:
                continue
            record.decisions += 1
            if not decision.approved:
                if decision.risk_checks and not all(c.passed for c in decision.risk_checks):
                    record.risk_denied += 1
                continue
            if self._defer:
                self._deferred[bar.symbol] = (decision, batch.timestamp)
                continue
            self._submit(self._order_for(decision, None), batch.timestamp, record)
        if trading and keep_equity:
            ledger = self._venue.ledger
            record.equity.append(
                EquityPoint(
                    timestamp=batch.timestamp,
                    equity=ledger.equity,
                    cash=ledger.cash,
                    gross_exposure=ledger.gross_exposure,
                )
            )
            record.exposure_flags.append(ledger.gross_exposure != 0)
            self._bar_index += 1

    def _submit(self, order: OrderRequest | None, decided: datetime, record: EngineRecord) -> None:
        if order is None:
            return
        record.approved += 1
        record.orders.append(order)
        self._decided_at[order.client_order_id] = decided
        for update in self._venue.submit(order):
            self._on_update(update, record)

    def _on_update(self, update: OrderUpdate, record: EngineRecord) -> None:
        self._pipeline.on_update(update)
        fill = update.fill
        if fill is None:
            return
        record.fills.append(
            FillRecord(
                symbol=update.symbol,
                side=update.side,
                quantity=fill.quantity,
                price=fill.price,
                commission=fill.commission,
                filled_at=fill.filled_at,
                decided_at=self._decided_at.get(update.client_order_id, fill.filled_at),
                client_order_id=update.client_order_id,
                bar_index=self._bar_index,
            )
        )
