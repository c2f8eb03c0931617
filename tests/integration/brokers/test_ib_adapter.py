"""The IB adapter (ib_async) against a fake TWS speaking the socket protocol on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest

from atp.brokers.base import AdapterState
from atp.brokers.dry_run import DryRunAdapter
from atp.brokers.execution import ExecutionEngine
from atp.brokers.ib.adapter import AdapterRefusing, IbAdapter
from atp.brokers.ib.config import IbConfig
from atp.brokers.ib.mapping import body_serializer
from atp.brokers.memory_store import InMemoryOrderStore
from atp.brokers.models import OrderChange, OrderRequest
from atp.brokers.reconcile import Reconciler
from atp.brokers.sync import fill_id_for
from atp.bus.memory import InMemoryBus
from atp.core.clock import SystemClock
from atp.core.enums import OrderStatus, OrderType, Side, TimeInForce
from atp.core.events import ReconciliationDifference
from atp.core.ids import ClientOrderId, Symbol
from atp.services.broker_adapters import BrokerServiceConfig, bootstrap
from atp.services.settings import AtpSettings
from fakes.ib import protocol
from fakes.ib.tws import FakeTws

LIMIT = {
    "order_type": OrderType.LIMIT,
    "limit_price": Decimal("150.25"),
    "time_in_force": TimeInForce.GTC,
}


def order(coid: str, quantity: str = "10", **kw: object) -> OrderRequest:
    return OrderRequest(
        client_order_id=ClientOrderId(coid),
        symbol=Symbol("AAPL"),
        side=Side.BUY,
        quantity=Decimal(quantity),
        **kw,  # type: ignore[arg-type]
    )


async def eventually(condition: Callable[[], bool], what: str) -> None:
    """Waits for something TWS delivers (bounded, so a bug fails instead of hanging)."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


@dataclass
class IbRig:
    """An IB adapter behind the real execution engine, store and reconciler."""

    fake: FakeTws
    adapter: IbAdapter
    store: InMemoryOrderStore
    reconciler: Reconciler
    differences: list[ReconciliationDifference]

    def status_of(self, coid: str) -> OrderStatus:
        return self.adapter.tracker.require(ClientOrderId(coid)).status


async def build_rig(
    fake: FakeTws, *, client_id: int = 17, store: InMemoryOrderStore | None = None
) -> IbRig:
    """Connects an adapter to `fake` and reconciles it once (it is READY after)."""
    clock = SystemClock()
    bus = InMemoryBus()
    store = store or InMemoryOrderStore()
    config = IbConfig(
        port=fake.port,
        client_id=client_id,
        request_timeout_seconds=3,
        reconnect_delay_seconds=0.02,
        reconnect_max_delay_seconds=0.1,
    )
    adapter = IbAdapter(config, clock=clock)
    ExecutionEngine(
        {"ib": adapter}, default_adapter="ib", bus=bus, rpc=bus, store=store, clock=clock
    )
    differences: list[ReconciliationDifference] = []

    async def publish(difference: ReconciliationDifference) -> None:
        differences.append(difference)

    reconciler = Reconciler(
        adapter, store=store, publish=publish, clock=clock, unknown_grace_seconds=0
    )

    async def on_reconnect(trigger: str) -> None:
        await reconciler.reconcile(trigger)

    adapter.set_reconnect_listener(on_reconnect)
    await adapter.connect()
    await reconciler.reconcile("start")
    return IbRig(fake, adapter, store, reconciler, differences)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTws]:
    """A fake TWS on a free loopback port."""
    tws = FakeTws()
    await tws.start()
    try:
        yield tws
    finally:
        await tws.stop()


@pytest.fixture
async def rig(fake: FakeTws) -> AsyncIterator[IbRig]:
    """A READY IB adapter on the fake TWS."""
    built = await build_rig(fake)
    try:
        yield built
    finally:
        await built.adapter.close()


async def test_market_order_placed_once_fills_once_with_its_commission(rig: IbRig) -> None:
    first = await rig.adapter.submit(order("c-fill"))
    again = await rig.adapter.submit(order("c-fill"))
    await eventually(lambda: rig.status_of("c-fill") is OrderStatus.FILLED, "the fill")
    filled = rig.adapter.tracker.require(ClientOrderId("c-fill"))
    (placed,) = rig.fake.by_ref("c-fill")
    fills = await rig.store.fills(client_order_id=ClientOrderId("c-fill"))
    assert rig.fake.placed == 1 and first.client_order_id == again.client_order_id
    assert filled.order_id == str(placed.perm_id)
    assert filled.filled_quantity == 10 and filled.average_fill_price == Decimal("189.5")
    assert [(f.fill.fill_id, f.fill.commission, f.fill.price) for f in fills] == [
        (
            fill_id_for("ib", ClientOrderId("c-fill"), placed.executions[0].exec_id),
            Decimal("1"),
            Decimal("189.5"),
        )
    ]
    stored = await rig.store.get("ib", ClientOrderId("c-fill"))
    assert stored is not None and stored.status is OrderStatus.FILLED


async def test_resubmit_after_reconnect_finds_the_order_by_order_ref(fake: FakeTws) -> None:
    first = await build_rig(fake)
    try:
        await first.adapter.submit(order("c-again", **LIMIT))
        await fake.drop_clients()
        await eventually(lambda: first.adapter.session.connects == 2, "reconnect")
        await eventually(
            lambda: first.adapter.status().state is AdapterState.READY, "reconciled after it"
        )
        again = await first.adapter.submit(order("c-again", **LIMIT))
        assert again.status is OrderStatus.ACCEPTED
    finally:
        await first.adapter.close()
    # A new process with nothing stored, under another client id: IB's open orders tell.
    fresh = await build_rig(fake, client_id=18)
    try:
        adopted = await fresh.adapter.submit(order("c-again", **LIMIT))
        assert fake.placed == 1 and len(fake.by_ref("c-again")) == 1
        assert adopted.status is OrderStatus.ACCEPTED
        assert adopted.order_id == str(fake.by_ref("c-again")[0].perm_id)
    finally:
        await fresh.adapter.close()


async def test_a_filled_order_resubmitted_by_a_new_process_is_adopted_with_its_fill(
    fake: FakeTws,
) -> None:
    first = await build_rig(fake)
    await first.adapter.submit(order("c-done"))
    await eventually(lambda: first.status_of("c-done") is OrderStatus.FILLED, "fill")
    await first.adapter.close()
    fresh = await build_rig(fake)
    try:
        adopted = await fresh.adapter.submit(order("c-done"))
        (placed,) = fake.by_ref("c-done")
        assert fake.placed == 1
        assert adopted.status is OrderStatus.FILLED
        assert [f.fill_id for f in adopted.fills] == [
            fill_id_for("ib", ClientOrderId("c-done"), placed.executions[0].exec_id)
        ]
        assert adopted.fills[0].commission == Decimal("1")
    finally:
        await fresh.adapter.close()


async def test_cancel_reaches_tws_and_the_order_ends_canceled(rig: IbRig) -> None:
    await rig.adapter.submit(order("c-cancel", **LIMIT))
    pending = await rig.adapter.cancel(ClientOrderId("c-cancel"))
    await eventually(lambda: rig.status_of("c-cancel") is OrderStatus.CANCELED, "canceled")
    assert pending.status is OrderStatus.PENDING_CANCEL
    assert rig.fake.by_ref("c-cancel")[0].status == "Cancelled"
    stored = await rig.store.get("ib", ClientOrderId("c-cancel"))
    assert stored is not None and stored.status is OrderStatus.CANCELED


async def test_rejected_order_is_rejected_with_ibs_reason(rig: IbRig) -> None:
    rig.fake.reject_next = "YOUR ORDER IS NOT ACCEPTED. INSUFFICIENT EQUITY"
    rejected = await rig.adapter.submit(order("c-poor", quantity="100000"))
    assert rejected.status is OrderStatus.REJECTED
    assert rejected.reason == (
        "IB 201: Order rejected - reason: YOUR ORDER IS NOT ACCEPTED. INSUFFICIENT EQUITY"
    )
    assert rig.fake.placed == 0


async def test_fill_while_disconnected_is_found_by_reconciliation_and_booked_once(
    rig: IbRig,
) -> None:
    placed = await rig.adapter.submit(order("c-gap", **LIMIT))
    assert placed.status is OrderStatus.ACCEPTED
    rig.fake.accepting = False
    await rig.fake.drop_clients()
    await eventually(lambda: rig.adapter.status().state is AdapterState.REFUSING, "refusing")
    execution = await rig.fake.fill(
        rig.fake.by_ref("c-gap")[0].perm_id, Decimal(10), Decimal("150")
    )
    assert rig.adapter.tracker.require(ClientOrderId("c-gap")).filled_quantity == 0
    with pytest.raises(AdapterRefusing):
        await rig.adapter.submit(order("c-while-down"))
    rig.fake.accepting = True
    await eventually(lambda: rig.adapter.status().state is AdapterState.READY, "reconciled")
    second = await rig.reconciler.reconcile("periodic")
    fills = await rig.store.fills(client_order_id=ClientOrderId("c-gap"))
    assert [(f.fill.fill_id, f.fill.commission) for f in fills] == [
        (fill_id_for("ib", ClientOrderId("c-gap"), execution.exec_id), Decimal("1"))
    ]
    assert rig.status_of("c-gap") is OrderStatus.FILLED
    assert any(d.kind == "missing_fill" and d.client_order_id == "c-gap" for d in rig.differences)
    assert not [d for d in second.differences if d.client_order_id == "c-gap"]


async def test_replace_modifies_the_same_ib_order(rig: IbRig) -> None:
    placed = await rig.adapter.submit(order("c-mod", **LIMIT))
    await rig.adapter.replace(ClientOrderId("c-mod"), OrderChange(limit_price=Decimal("151.5")))
    await eventually(lambda: rig.status_of("c-mod") is OrderStatus.ACCEPTED, "modified")
    modified = rig.adapter.tracker.require(ClientOrderId("c-mod"))
    (at_ib,) = rig.fake.by_ref("c-mod")
    assert rig.fake.modified == 1 and rig.fake.placed == 1
    assert at_ib.limit_price == Decimal("151.5") and modified.request.limit_price == Decimal(
        "151.5"
    )
    assert modified.order_id == placed.order_id


async def test_lost_ib_connectivity_refuses_until_restored_and_reconciled(rig: IbRig) -> None:
    runs = rig.reconciler.runs
    await rig.fake.notify(1100, "Connectivity between IB and Trader Workstation has been lost.")
    await eventually(lambda: rig.adapter.status().state is AdapterState.REFUSING, "refusing")
    assert "1100" in (rig.adapter.status().reason or "")
    with pytest.raises(AdapterRefusing):
        await rig.adapter.submit(order("c-lost"))
    await rig.fake.notify(1102, "Connectivity between IB and TWS has been restored.")
    await eventually(
        lambda: rig.reconciler.runs > runs and rig.adapter.status().state is AdapterState.READY,
        "restored and reconciled",
    )
    placed = await rig.adapter.submit(order("c-back"))
    assert placed.status is not OrderStatus.UNKNOWN and rig.fake.placed == 1


async def test_unknown_status_marks_the_order_unknown_until_reconciled(rig: IbRig) -> None:
    await rig.adapter.submit(order("c-odd", **LIMIT))
    await rig.fake.announce(rig.fake.by_ref("c-odd")[0].perm_id, "Teleported")
    await eventually(lambda: rig.adapter.unknown_events["Teleported"] == 1, "the odd status")
    await rig.adapter.drain()
    assert rig.status_of("c-odd") is OrderStatus.UNKNOWN
    await rig.reconciler.reconcile("periodic")
    assert rig.status_of("c-odd") is OrderStatus.ACCEPTED


async def test_positions_and_account_come_from_tws(rig: IbRig) -> None:
    await rig.adapter.submit(order("c-pos"))
    await eventually(lambda: rig.status_of("c-pos") is OrderStatus.FILLED, "fill")
    positions = await rig.adapter.positions()
    account = await rig.adapter.account()
    assert [(p.symbol, p.quantity, p.average_cost) for p in positions] == [
        ("AAPL", Decimal(10), Decimal("189.5"))
    ]
    assert account.cash == Decimal("100000") - Decimal("1895") - Decimal("1")
    assert account.equity == account.cash + Decimal("1895") and account.venue == "ib"


async def test_dry_run_shows_the_exact_contract_and_order_and_sends_nothing(
    rig: IbRig,
) -> None:
    config = IbConfig(port=rig.fake.port, account="DU1234567")
    dry = DryRunAdapter(rig.adapter, body_serializer(config), clock=SystemClock())
    result = await dry.submit(
        order(
            "c-dry",
            order_type=OrderType.STOP_LIMIT,
            limit_price=Decimal("151.25"),
            stop_price=Decimal("150"),
            time_in_force=TimeInForce.GTC,
        )
    )
    assert result.status is OrderStatus.REJECTED
    assert dry.sent == [
        {
            "contract": {
                "secType": "STK",
                "symbol": "AAPL",
                "exchange": "SMART",
                "currency": "USD",
            },
            "order": {
                "action": "BUY",
                "totalQuantity": 10.0,
                "orderType": "STP LMT",
                "lmtPrice": 151.25,
                "auxPrice": 150.0,
                "tif": "GTC",
                "orderRef": "c-dry",
                "account": "DU1234567",
            },
        }
    ]
    assert protocol.PLACE_ORDER not in rig.fake.requests and rig.fake.placed == 0


async def test_an_unreachable_tws_refuses_to_trade_and_says_why(fake: FakeTws) -> None:
    port = fake.port
    await fake.stop()
    adapter = IbAdapter(IbConfig(port=port, request_timeout_seconds=1), clock=SystemClock())
    try:
        await adapter.connect()
        status = adapter.status()
        assert status.state is AdapterState.REFUSING
        assert f"cannot reach TWS at 127.0.0.1:{port}" in (status.reason or "")
        with pytest.raises(AdapterRefusing):
            await adapter.submit(order("c-nowhere"))
    finally:
        await adapter.close()


async def test_the_broker_service_runs_ib_when_configured_and_reconciles_it(
    fake: FakeTws,
) -> None:
    config = BrokerServiceConfig(
        adapters=("paper", "ib"),
        ib=IbConfig(port=fake.port, client_id=21, request_timeout_seconds=3),
    )
    service = await bootstrap(AtpSettings(broker_port=0), bus=InMemoryBus(), config=config)
    await service.start()
    try:
        transport = httpx.ASGITransport(app=service.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            listed = (await http.get("/adapters")).json()
        ib = next(a for a in listed if a["name"] == "ib")
        assert ib["state"] == "ready" and ib["venue"] == "ib"
        assert service.reconcilers["ib"].runs == 1
    finally:
        await service.stop()
