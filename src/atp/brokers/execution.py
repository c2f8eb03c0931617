"""The execution engine: decisions and manual orders in, venue orders out, updates published.

It owns the routing between adapters, the exactly-once rules and the publishing:

- an approved `decisions.meta` decision with action buy or sell becomes one order whose client
  order id is the decision's; a redelivered decision finds the order already known and only
  republishes its latest state (same event id, so JetStream stores it once);
- every `OrderUpdate` an adapter streams is stored (`OrderStore`) and published on
  `executions.order_update` with `cause=` the decision's (or the bar's) envelope;
- a manual order is checked against its venue's order entry rules (precision and size,
  `order_entry.py`: 422) and, at the paper venue, against what the venue would reject (cash,
  position: 422 `venue_rejected`), then put to the risk engine over `rpc.risk.check`; no
  answer or a denial refuses it (fail closed), naming the rule. So a refused order is never
  answered 201 and rejected afterwards.
"""

from __future__ import annotations

import contextvars
import logging
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from atp.brokers.base import BrokerAdapter
from atp.brokers.models import Order, OrderRequest
from atp.brokers.order_entry import OrderEntryConfig, check_order_entry
from atp.brokers.paper.adapter import PaperAdapter
from atp.brokers.ports import OrderStore
from atp.bus.risk_rpc import request_risk_check
from atp.core.clock import Clock
from atp.core.enums import Side
from atp.core.errors import AtpError, Conflict, InvalidInput, NotFound, VenueRejected
from atp.core.events import (
    ControlAction,
    Envelope,
    MarketSignal,
    MetaDecision,
    OrderUpdate,
    ReconciliationDifference,
    envelope_for,
)
from atp.core.ids import ClientOrderId, Symbol, client_order_id_for
from atp.core.ports import Bus, Rpc
from atp.core.proposals import OrderProposal, RiskVerdict

log = logging.getLogger(__name__)

SOURCE = "broker-adapters"
_cause: contextvars.ContextVar[Envelope[Any] | None] = contextvars.ContextVar(
    "broker_cause", default=None
)
# While set, updates are collected here and published together (one pipelined JetStream
# round of acknowledgements per decision instead of one awaited publish per update).
_batch: contextvars.ContextVar[list[Envelope[Any]] | None] = contextvars.ContextVar(
    "broker_batch", default=None
)


class RiskRefused(Conflict):
    """The risk engine refused a manual order (or could not be asked): nothing was sent."""

    code = "risk_refused"

    def __init__(self, verdict: RiskVerdict) -> None:
        failed = [c for c in verdict.checks if not c.passed]
        rules = ", ".join(c.rule for c in failed) or "unknown"
        messages = "; ".join(c.message for c in failed)
        super().__init__(f"refused by risk rule {rules}: {messages}")
        self.verdict = verdict
        self.rules = tuple(c.rule for c in failed)


class ExecutionEngine:
    """Routes orders to adapters and publishes what happens to them."""

    def __init__(
        self,
        adapters: Mapping[str, BrokerAdapter],
        *,
        default_adapter: str,
        bus: Bus,
        rpc: Rpc,
        store: OrderStore,
        clock: Clock,
        risk_timeout_seconds: float = 2.0,
        order_entry: OrderEntryConfig | None = None,
    ) -> None:
        if default_adapter not in adapters:
            raise InvalidInput(f"default adapter {default_adapter!r} is not configured")
        self.adapters = dict(adapters)
        self.default_adapter = default_adapter
        self._bus = bus
        self._rpc = rpc
        self.store = store
        self._clock = clock
        self._risk_timeout = risk_timeout_seconds
        # The entry rules of adapters other than paper (whose own config has them).
        self._order_entry = order_entry or OrderEntryConfig()
        self._causes: dict[ClientOrderId, Envelope[Any]] = {}
        self.last_prices: dict[Symbol, Decimal] = {}
        self.published = 0
        for adapter in self.adapters.values():
            adapter.set_listener(self._on_update)

    # -- inputs ----------------------------------------------------------------------

    async def on_signal(self, envelope: Envelope[Any]) -> None:
        """Marks prices and lets the paper venues work their orders against the bar."""
        signal: MarketSignal = envelope.payload
        self.last_prices[signal.symbol] = signal.close
        token = _cause.set(envelope)
        batch = _batch.set([])
        try:
            for adapter in self.adapters.values():
                if isinstance(adapter, PaperAdapter):
                    await adapter.on_signal(signal)
            await self._flush()
        finally:
            _batch.reset(batch)
            _cause.reset(token)

    async def on_decision(self, envelope: Envelope[Any]) -> None:
        """Turns an approved buy/sell decision into exactly one order."""
        decision: MetaDecision = envelope.payload
        side = decision.action.as_side()
        if not decision.approved or side is None or decision.quantity <= 0:
            return
        coid = decision.client_order_id or client_order_id_for(decision.decision_id)
        adapter = self.adapters[self.default_adapter]
        known = await self.store.get(adapter.venue, coid)
        if known is not None:
            await self._publish(known, envelope)  # a redelivery: same event id, stored once
            return
        request = OrderRequest(
            client_order_id=coid,
            symbol=decision.symbol,
            side=side,
            quantity=decision.quantity,
            order_type=decision.order_type,
            limit_price=decision.limit_price,
            decision_id=decision.decision_id,
        )
        self._causes[coid] = envelope
        token = _cause.set(envelope)
        batch = _batch.set([])
        try:
            await adapter.submit(request)
            await self._flush()
        finally:
            _batch.reset(batch)
            _cause.reset(token)

    async def submit_manual(self, request: OrderRequest, *, adapter_name: str | None) -> Order:
        """Checks a manual order (entry rules, venue, risk engine), then sends it.

        Raises:
            InvalidInput: it breaks the entry rules, or its symbol has no price yet (422).
            VenueRejected: the paper venue would reject it now (422, the venue's reason).
            RiskRefused: the risk engine refused it or could not be asked (409).
        """
        adapter = self.adapter(adapter_name)
        known = await adapter.get_order(request.client_order_id)
        if known is not None:
            return known
        price = self.last_prices.get(request.symbol)
        if price is None:
            raise InvalidInput(
                f"symbol: {request.symbol} has never been seen in market data, so it has no "
                "price to trade at"
            )
        if isinstance(adapter, PaperAdapter):
            check_order_entry(request, adapter.paper.config.order_entry, price)
            refusal = adapter.paper.refusal(request)
            if refusal is not None:
                raise VenueRejected(f"the {adapter.venue} venue would reject this order: {refusal}")
        else:
            check_order_entry(request, self._order_entry, price)
        proposal = OrderProposal(
            proposal_id=request.client_order_id,
            origin="manual",
            symbol=request.symbol,
            side=request.side,
            quantity=request.quantity,
            order_type=request.order_type,
            reference_price=price,
            limit_price=request.limit_price,
            agent_id=None,
            decision_id=None,
            client_order_id=request.client_order_id,
        )
        verdict = await request_risk_check(self._rpc, proposal, timeout_seconds=self._risk_timeout)
        if not verdict.approved:
            raise RiskRefused(verdict)
        return await adapter.submit(request)

    async def cancel(self, client_order_id: ClientOrderId) -> Order:
        """Cancels an order wherever it lives."""
        adapter = await self._adapter_of(client_order_id)
        return await adapter.cancel(client_order_id)

    # -- reads -----------------------------------------------------------------------

    def adapter(self, name: str | None) -> BrokerAdapter:
        """The adapter called `name` (the default one for None)."""
        key = name or self.default_adapter
        found = self.adapters.get(key)
        if found is None:
            raise InvalidInput(f"adapter: expected one of {sorted(self.adapters)}, found {key!r}")
        return found

    async def find(self, order_ref: str) -> OrderUpdate:
        """An order's latest state by client order id or venue order id."""
        for adapter in self.adapters.values():
            found = await self.store.get(adapter.venue, ClientOrderId(order_ref))
            if found is not None:
                return found
        for update in await self.store.list_orders():
            if update.order_id == order_ref:
                return update
        raise NotFound(f"no order {order_ref}")

    # -- updates ---------------------------------------------------------------------

    async def _adapter_of(self, client_order_id: ClientOrderId) -> BrokerAdapter:
        update = await self.find(client_order_id)
        for adapter in self.adapters.values():
            if adapter.venue == update.venue:
                return adapter
        raise NotFound(f"no adapter trades at {update.venue}")

    async def _on_update(self, update: OrderUpdate) -> None:
        cause = _cause.get() or self._causes.get(update.client_order_id)
        await self.store.save_update(update)
        await self._publish(update, cause)
        if update.status.is_terminal:
            self._causes.pop(update.client_order_id, None)

    async def _publish(self, update: OrderUpdate, cause: Envelope[Any] | None) -> None:
        envelope = envelope_for(update, source=SOURCE, event_time=update.updated_at, cause=cause)
        pending = _batch.get()
        if pending is not None:
            pending.append(envelope)
            return
        await self._bus.publish(envelope)
        self.published += 1

    async def _flush(self) -> None:
        pending = _batch.get()
        if not pending:
            return
        envelopes = list(pending)
        pending.clear()
        publish_many = getattr(self._bus, "publish_many", None)
        if publish_many is not None:
            await publish_many(envelopes)
        else:
            for envelope in envelopes:
                await self._bus.publish(envelope)
        self.published += len(envelopes)

    async def publish_difference(self, difference: ReconciliationDifference) -> None:
        """Publishes a reconciliation difference on `executions.reconciliation`."""
        envelope = envelope_for(difference, source=SOURCE, event_time=difference.detected_at)
        await self._bus.publish(envelope)

    async def on_control(self, envelope: Envelope[Any]) -> None:
        """Acts on the risk engine's kill-switch follow-ups: cancel all, flatten positions."""
        action: ControlAction = envelope.payload
        if action.service != "risk":
            return
        if action.action == "cancel_all_orders":
            await self.cancel_all(reason=f"risk {action.action} {action.action_id}")
        elif action.action == "flatten_positions":
            await self.flatten(action.action_id)

    async def cancel_all(self, *, reason: str) -> int:
        """Cancels every open order at every adapter; returns how many were asked."""
        asked = 0
        for adapter in self.adapters.values():
            for order in await adapter.open_orders():
                try:
                    await adapter.cancel(order.client_order_id)
                    asked += 1
                except AtpError as exc:
                    log.error("cancel %s (%s) failed: %s", order.client_order_id, reason, exc)
        log.warning("cancel all (%s): %d orders", reason, asked)
        return asked

    async def flatten(self, action_id: str) -> int:
        """Closes every position with a market order; one order per (action, venue, symbol)."""
        sent = 0
        for adapter in self.adapters.values():
            for position in await adapter.positions():
                if position.quantity == 0:
                    continue
                request = OrderRequest(
                    client_order_id=client_order_id_for(
                        f"flatten:{action_id}:{adapter.venue}:{position.symbol}"
                    ),
                    symbol=position.symbol,
                    side=Side.SELL if position.quantity > 0 else Side.BUY,
                    quantity=abs(position.quantity),
                )
                try:
                    await adapter.submit(request)
                    sent += 1
                except AtpError as exc:
                    log.error("flatten %s at %s failed: %s", position.symbol, adapter.name, exc)
        return sent


def manual_client_order_id(idempotency_key: str | None) -> ClientOrderId:
    """The client order id of a manual order: from its idempotency key, else fresh."""
    if idempotency_key:
        return client_order_id_for("manual:" + idempotency_key)
    return ClientOrderId("atp-m-" + uuid.uuid4().hex[:28])
