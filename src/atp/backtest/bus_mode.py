"""The NATS mode: the same run, with history replayed through the bus subjects.

The engine (`atp.backtest.engine`), its paper venue and its clock are unchanged; only the
pipeline differs. `BusPipeline` publishes each bar on `signals.normalized` (with the run's own
feed and signal ids, so no other run or live feed collides with it) and each order update on
`executions.order_update`; the live chain's two nodes consume them as the services do:

* agents (`AgentsNode`): `signals.normalized` -> `decisions.order_intent`, and books the fills
  of `executions.order_update` for sizing;
* meta-agent (`MetaNode`): `signals.normalized` and `decisions.order_intent` ->
  `decisions.meta`, with the risk engine marking bars and booking `executions.order_update`.

The replay is in lock step, so the outcome does not depend on delivery timing: the next bar is
published only once the previous bar's decision came back on `decisions.meta` and every order
update was booked by both nodes. The engine runs in a worker thread and waits on the event loop
for each step. Given the same inputs and seed, orders and fills equal the in-process run's.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any

from atp.backtest.model import BacktestRequest, RunSummary
from atp.backtest.runner import LoadedData, RunParts, drive, new_run, summarize
from atp.backtest.wiring import Chain
from atp.bus.subjects import (
    DECISIONS_META,
    DECISIONS_ORDER_INTENT,
    EXECUTIONS_ORDER_UPDATE,
    SIGNALS_NORMALIZED,
)
from atp.core.enums import Action
from atp.core.errors import TransientError
from atp.core.events import (
    Envelope,
    MarketSignal,
    MetaDecision,
    OrderIntent,
    OrderUpdate,
    envelope_for,
)
from atp.core.ids import SignalId, derive_id
from atp.marketdata.align import BarBatch

SOURCE = "backtester"
STEP_TIMEOUT_SECONDS = 30.0


def relabel(data: LoadedData, feed: str) -> LoadedData:
    """The same bars under `feed`, with signal ids derived from it (unique to the run)."""

    def one(bar: MarketSignal) -> MarketSignal:
        signal_id = SignalId(
            derive_id("signal", feed, bar.symbol, bar.timeframe, bar.timestamp.isoformat())
        )
        return replace(bar, feed=feed, signal_id=signal_id)

    batches = [BarBatch(b.timestamp, tuple(one(bar) for bar in b.bars)) for b in data.batches]
    return LoadedData(batches, data.sources, data.series)


class BusPipeline:
    """Drives the chain's nodes as bus consumers, in lock step (see the module docstring)."""

    def __init__(self, chain: Chain, bus: Any, *, feed: str, run_id: str) -> None:
        self._chain = chain
        self._bus = bus
        self._feed = feed
        self._run = run_id
        self._loop: asyncio.AbstractEventLoop | None = None
        self._decisions: dict[SignalId, asyncio.Future[MetaDecision]] = {}
        self._ours: set[SignalId] = set()
        self._seen_by_meta: set[SignalId] = set()
        self._parked: dict[SignalId, list[OrderIntent]] = {}
        self._booked: dict[tuple[str, int], int] = {}
        self._booking: dict[tuple[str, int], asyncio.Future[None]] = {}

    async def start(self) -> None:
        """Subscribes the two nodes' consumers and the decision collector (new events only)."""
        self._loop = asyncio.get_running_loop()
        bus, run = self._bus, self._run
        for subject, name, handler in (
            (SIGNALS_NORMALIZED, "agents", self._agents_on_signal),
            (EXECUTIONS_ORDER_UPDATE, "agents-fills", self._agents_on_update),
            (SIGNALS_NORMALIZED, "meta-signals", self._meta_on_signal),
            (DECISIONS_ORDER_INTENT, "meta-intents", self._meta_on_intent),
            (EXECUTIONS_ORDER_UPDATE, "meta-fills", self._meta_on_update),
            (DECISIONS_META, "decisions", self._on_decision),
        ):
            await bus.subscribe(
                subject, durable=f"backtest-{run}-{name}", handler=handler, replay=False
            )

    # Engine side (worker thread) -------------------------------------------------------------

    def on_bar(self, signal: MarketSignal) -> MetaDecision | None:
        """Publishes the bar and waits for its window's decision on `decisions.meta`."""
        decision: MetaDecision = self._wait(self._bar(signal))
        return None if decision.action is Action.HOLD else decision

    def on_update(self, update: OrderUpdate) -> None:
        """Publishes the update and waits until both nodes booked it."""
        self._wait(self._update(update))

    def _wait(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        assert self._loop is not None, "start() first"
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    async def _bar(self, signal: MarketSignal) -> MetaDecision:
        future: asyncio.Future[MetaDecision] = asyncio.get_running_loop().create_future()
        self._decisions[signal.signal_id] = future
        self._ours.add(signal.signal_id)
        await self._bus.publish(envelope_for(signal, source=SOURCE, event_time=signal.timestamp))
        try:
            return await asyncio.wait_for(asyncio.shield(future), STEP_TIMEOUT_SECONDS / 10)
        except TimeoutError:
            # An agent was quarantined and will not answer: close late, as the tick loop does.
            await self._publish_results(self._chain.meta.close_late(), None)
        try:
            return await asyncio.wait_for(future, STEP_TIMEOUT_SECONDS)
        except TimeoutError as exc:
            raise TransientError(f"no decision for bar {signal.signal_id} over the bus") from exc
        finally:
            self._decisions.pop(signal.signal_id, None)

    async def _update(self, update: OrderUpdate) -> None:
        key = (update.client_order_id, update.sequence)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._booking[key] = future
        self._booked.setdefault(key, 0)
        await self._bus.publish(envelope_for(update, source=SOURCE, event_time=update.updated_at))
        try:
            await asyncio.wait_for(future, STEP_TIMEOUT_SECONDS)
        except TimeoutError as exc:
            raise TransientError(f"order update {key} was not booked over the bus") from exc
        finally:
            self._booking.pop(key, None)
            self._booked.pop(key, None)

    # Consumers (event loop) ------------------------------------------------------------------

    async def _agents_on_signal(self, envelope: Envelope[Any]) -> None:
        signal: MarketSignal = envelope.payload
        if signal.feed != self._feed:
            return
        for intent in self._chain.agents.on_signal(signal):
            await self._bus.publish(
                envelope_for(intent, source="agents", event_time=signal.timestamp, cause=envelope)
            )

    async def _meta_on_signal(self, envelope: Envelope[Any]) -> None:
        signal: MarketSignal = envelope.payload
        if signal.feed != self._feed:
            return
        results = self._chain.meta.on_signal(signal)
        self._seen_by_meta.add(signal.signal_id)
        # Intents that overtook their bar wait for it, so risk always judges a marked book.
        for intent in self._parked.pop(signal.signal_id, []):
            results += self._chain.meta.on_intent(intent)
        await self._publish_results(results, envelope)

    async def _meta_on_intent(self, envelope: Envelope[Any]) -> None:
        intent: OrderIntent = envelope.payload
        if intent.signal_id not in self._ours:
            return
        if intent.signal_id not in self._seen_by_meta:
            self._parked.setdefault(intent.signal_id, []).append(intent)
            return
        await self._publish_results(self._chain.meta.on_intent(intent), envelope)

    async def _publish_results(self, results: list[Any], cause: Envelope[Any] | None) -> None:
        self._chain.meta.risk.take_events()
        for result in results:
            decision = result.decision
            await self._bus.publish(
                envelope_for(
                    decision, source="meta-agent", event_time=decision.decided_at, cause=cause
                )
            )

    async def _on_decision(self, envelope: Envelope[Any]) -> None:
        decision: MetaDecision = envelope.payload
        future = self._decisions.get(decision.signal_id)
        if future is not None and not future.done():
            self._seen_by_meta.discard(decision.signal_id)
            self._ours.discard(decision.signal_id)
            future.set_result(decision)

    async def _agents_on_update(self, envelope: Envelope[Any]) -> None:
        self._booked_by(envelope.payload, self._chain.agents.on_update)

    async def _meta_on_update(self, envelope: Envelope[Any]) -> None:
        self._booked_by(envelope.payload, self._chain.meta.on_update)

    def _booked_by(self, update: OrderUpdate, book: Callable[[OrderUpdate], None]) -> None:
        key = (update.client_order_id, update.sequence)
        if key not in self._booked:
            return  # another run's update, or a redelivery of one already booked
        book(update)
        self._booked[key] += 1
        future = self._booking.get(key)
        if self._booked[key] == 2 and future is not None and not future.done():
            future.set_result(None)


async def run_over_bus(
    request: BacktestRequest,
    data: LoadedData,
    bus: Any,
    *,
    strategies: list[str],
    voting_strategy: str,
    label: str,
    run_id: str | None = None,
) -> tuple[RunSummary, RunParts]:
    """One engine run with the chain behind `bus` (an InMemoryBus or a NatsBus).

    Returns the summary and the run's parts (its venue holds every order placed).
    """
    run = run_id or uuid.uuid4().hex[:12]
    feed = f"backtest-{run}"
    relabeled = relabel(data, feed)
    parts = new_run(request, relabeled, strategies=strategies, voting_strategy=voting_strategy)
    pipeline = BusPipeline(parts.chain, bus, feed=feed, run_id=run)
    await pipeline.start()
    record = await asyncio.to_thread(drive, request, relabeled, parts, pipeline)
    summary = summarize(request, record, label, tuple(strategies), voting_strategy)
    return summary, parts
