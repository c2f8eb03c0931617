"""Reconciliation: our orders, fills and positions against a venue's, on start, reconnect and
periodically; every difference is published, and an adapter that cannot reconcile refuses.

A run, for one adapter:

1. The adapter is given back the open orders our store holds (after a restart it knows none).
2. Each of them is looked up at the venue; the adapter settles our copy from the answer
   (`atp.brokers.sync`): a fill missed while the stream was down is booked (once, under a
   deterministic id), an UNKNOWN order found at the venue is adopted and never resubmitted.
   An UNKNOWN order the venue does not know after `unknown_grace_seconds` never arrived: it
   is rejected, and the decision behind it may be taken up again.
3. Open orders at the venue we never knew are adopted.
4. Positions derived from our stored fills are compared with the venue's, per symbol.

Each difference becomes an `executions.reconciliation` event. If the venue cannot be asked,
the adapter is marked REFUSING with the reason, and it trades again only after a run passes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol, runtime_checkable

from atp.brokers.base import AdapterState, BrokerAdapter
from atp.brokers.models import Order, order_from_update
from atp.brokers.ports import OrderStore
from atp.core.clock import Clock
from atp.core.enums import OrderStatus
from atp.core.errors import AtpError
from atp.core.events import OrderUpdate, ReconciliationDifference
from atp.core.ids import ClientOrderId, Symbol, derive_id

log = logging.getLogger(__name__)
Publish = Callable[[ReconciliationDifference], Awaitable[None]]


@runtime_checkable
class Reconcilable(Protocol):
    """What a remote-venue adapter offers reconciliation beyond `BrokerAdapter`."""

    def restore(self, orders: Iterable[Order]) -> None:
        """Takes back orders of earlier runs."""
        ...

    def mark(self, state: AdapterState, reason: str | None) -> None:
        """Sets whether the adapter may trade, and why."""
        ...

    async def settle_missing(self, client_order_id: ClientOrderId, reason: str) -> None:
        """Rejects an order the venue never received."""
        ...


@dataclass
class ReconciliationReport:
    """What one run found."""

    venue: str
    trigger: str
    ok: bool
    differences: list[ReconciliationDifference] = field(default_factory=list)
    error: str | None = None


class Reconciler:
    """Reconciles one adapter with its venue."""

    def __init__(
        self,
        adapter: BrokerAdapter,
        *,
        store: OrderStore,
        publish: Publish,
        clock: Clock,
        unknown_grace_seconds: float = 60.0,
    ) -> None:
        self._adapter = adapter
        self._store = store
        self._publish = publish
        self._clock = clock
        self._grace = unknown_grace_seconds
        self.runs = 0

    async def reconcile(self, trigger: str) -> ReconciliationReport:
        """One run; never raises for venue trouble (the adapter is marked REFUSING instead)."""
        adapter = self._adapter
        self.runs += 1
        now = self._clock.now()
        run_id = derive_id("reconciliation", adapter.venue, trigger, now.isoformat())
        report = ReconciliationReport(adapter.venue, trigger, ok=False)
        if isinstance(adapter, Reconcilable):
            adapter.mark(AdapterState.RECONCILING, f"reconciling ({trigger})")
        try:
            await self._run(run_id, report)
        except AtpError as exc:
            report.error = f"reconciliation ({trigger}) failed: {exc}"
            log.error("%s: %s", adapter.name, report.error)
            if isinstance(adapter, Reconcilable):
                adapter.mark(AdapterState.REFUSING, report.error)
            return report
        report.ok = True
        if isinstance(adapter, Reconcilable):
            adapter.mark(AdapterState.READY, None)
        return report

    async def _run(self, run_id: str, report: ReconciliationReport) -> None:
        adapter = self._adapter
        local = await self._store.list_orders(venue=adapter.venue, open_only=True)
        if isinstance(adapter, Reconcilable):
            adapter.restore(order_from_update(u) for u in local)
        known = {u.client_order_id for u in await self._store.list_orders(venue=adapter.venue)}
        for before in local:
            await self._order(run_id, report, before)
        for order in await adapter.open_orders():
            if order.client_order_id not in known:
                await self._difference(
                    run_id,
                    report,
                    "unknown_locally",
                    "adopted",
                    coid=order.client_order_id,
                    symbol=order.request.symbol,
                    venue_value=f"{order.status} {order.request.side} {order.request.quantity}",
                )
        await self._positions(run_id, report)

    async def _order(self, run_id: str, report: ReconciliationReport, before: OrderUpdate) -> None:
        adapter = self._adapter
        coid = before.client_order_id
        after = await adapter.get_order(coid)
        if after is None:
            age = (self._clock.now() - before.updated_at).total_seconds()
            missing = before.status in (OrderStatus.UNKNOWN, OrderStatus.NEW)
            action = "reported"
            if missing and age >= self._grace and isinstance(adapter, Reconcilable):
                await adapter.settle_missing(coid, f"not at {adapter.venue} after {age:.0f} s")
                action = "rejected"
            await self._difference(
                run_id,
                report,
                "missing_at_venue",
                action,
                coid=coid,
                symbol=before.symbol,
                local_value=str(before.status),
            )
            return
        if after.filled_quantity != before.filled_quantity:
            await self._difference(
                run_id,
                report,
                "missing_fill",
                "booked",
                coid=coid,
                symbol=before.symbol,
                local_value=format(before.filled_quantity, "f"),
                venue_value=format(after.filled_quantity, "f"),
            )
        if after.status is not before.status:
            await self._difference(
                run_id,
                report,
                "order_status",
                "settled",
                coid=coid,
                symbol=before.symbol,
                local_value=str(before.status),
                venue_value=str(after.status),
            )

    async def _positions(self, run_id: str, report: ReconciliationReport) -> None:
        ours: dict[Symbol, Decimal] = {}
        for record in await self._store.fills(venue=self._adapter.venue):
            change = record.side.sign * record.fill.quantity
            ours[record.symbol] = ours.get(record.symbol, Decimal(0)) + change
        theirs = {p.symbol: p.quantity for p in await self._adapter.positions()}
        for symbol in sorted(set(ours) | set(theirs)):
            mine, venue = ours.get(symbol, Decimal(0)), theirs.get(symbol, Decimal(0))
            if mine != venue:
                await self._difference(
                    run_id,
                    report,
                    "position",
                    "reported",
                    symbol=symbol,
                    local_value=format(mine, "f"),
                    venue_value=format(venue, "f"),
                )

    async def _difference(
        self,
        run_id: str,
        report: ReconciliationReport,
        kind: str,
        action: str,
        *,
        coid: ClientOrderId | None = None,
        symbol: Symbol | None = None,
        local_value: str | None = None,
        venue_value: str | None = None,
    ) -> None:
        difference = ReconciliationDifference(
            difference_id=derive_id("difference", run_id, kind, coid or "", symbol or ""),
            reconciliation_id=run_id,
            venue=self._adapter.venue,
            trigger=report.trigger,
            kind=kind,
            client_order_id=coid,
            symbol=symbol,
            local_value=local_value,
            venue_value=venue_value,
            action=action,
            detected_at=self._clock.now(),
        )
        report.differences.append(difference)
        log.warning(
            "%s %s %s: ours %s, venue %s (%s)",
            difference.venue,
            kind,
            coid or symbol,
            local_value,
            venue_value,
            action,
        )
        await self._publish(difference)
