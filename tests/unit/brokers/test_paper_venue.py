"""The paper venue: fills at the right price and time, partial fills, fees, exact books."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from atp.brokers.models import OrderChange, OrderRequest
from atp.brokers.paper.config import FeeConfig, PaperVenueConfig, SlippageConfig
from atp.brokers.paper.venue import PaperVenue
from atp.core.clock import SimulatedClock
from atp.core.enums import OrderStatus, OrderType, Side, TimeInForce
from atp.core.events import MarketSignal
from atp.core.ids import ClientOrderId, SignalId, Symbol

T0 = datetime(2024, 1, 2, 21, tzinfo=UTC)
AAPL = Symbol("AAPL")


def bar(day: int, o: str, h: str, low: str, c: str, volume: str = "1000000") -> MarketSignal:
    return MarketSignal(
        signal_id=SignalId(f"s{day}"),
        symbol=AAPL,
        timeframe="1d",
        timestamp=T0 + timedelta(days=day),
        open=Decimal(o),
        high=Decimal(h),
        low=Decimal(low),
        close=Decimal(c),
        volume=Decimal(volume),
        feed="test",
    )


def venue(**config: object) -> tuple[PaperVenue, SimulatedClock]:
    clock = SimulatedClock(T0)
    return PaperVenue(PaperVenueConfig(**config), clock=clock), clock  # type: ignore[arg-type]


def order(n: int, side: Side = Side.BUY, quantity: str = "10", **kw: object) -> OrderRequest:
    return OrderRequest(ClientOrderId(f"c{n}"), AAPL, side, Decimal(quantity), **kw)  # type: ignore[arg-type]


def test_a_market_order_fills_at_once_at_the_latest_close_and_books_cash_exactly() -> None:
    paper, _ = venue(fees=FeeConfig(per_share=Decimal("0.005"), fixed=Decimal(1)))
    paper.on_signal(bar(0, "100", "102", "99", "101.50"))
    updates = paper.submit(order(1, quantity="100"))
    assert [u.status for u in updates] == [
        OrderStatus.NEW,
        OrderStatus.ACCEPTED,
        OrderStatus.FILLED,
    ]
    fill = updates[-1].fill
    assert fill is not None and fill.price == Decimal("101.50")
    assert fill.commission == Decimal("1.50")
    assert paper.ledger.cash == Decimal(100_000) - Decimal("10150") - Decimal("1.50")
    account = paper.account()
    assert account.equity == account.cash + Decimal("101.50") * 100


def test_next_open_fills_an_order_decided_on_bar_t_at_bar_t_plus_1_open() -> None:
    paper, _ = venue(fill_on="next_open")
    paper.on_signal(bar(0, "100", "102", "99", "101"))
    assert [u.status for u in paper.submit(order(1))] == [OrderStatus.NEW, OrderStatus.ACCEPTED]
    updates = paper.on_signal(bar(1, "103", "104", "102", "103.5"))
    assert updates[-1].status is OrderStatus.FILLED
    assert updates[-1].fill is not None and updates[-1].fill.price == Decimal(103)


def test_limit_and_stop_orders_trigger_on_the_bar_range_and_gaps_fill_at_the_open() -> None:
    paper, _ = venue(fill_on="next_open")
    paper.on_signal(bar(0, "100", "101", "99", "100"))
    paper.submit(
        order(
            1, order_type=OrderType.LIMIT, limit_price=Decimal("98"), time_in_force=TimeInForce.GTC
        )
    )
    paper.submit(
        order(
            2, order_type=OrderType.STOP, stop_price=Decimal("105"), time_in_force=TimeInForce.GTC
        )
    )
    assert paper.on_signal(bar(1, "100", "101", "98.5", "100")) == []  # neither reached
    touched = paper.on_signal(bar(2, "99", "100", "97", "98"))  # low 97 <= limit 98
    assert [(u.client_order_id, u.fill.price if u.fill else None) for u in touched] == [
        ("c1", Decimal(98))
    ]
    gapped = paper.on_signal(bar(3, "107", "108", "106", "107"))  # gap over the stop
    assert gapped[-1].client_order_id == "c2" and gapped[-1].fill is not None
    assert gapped[-1].fill.price == Decimal(107)


def test_a_large_order_fills_partially_against_the_bar_volume() -> None:
    paper, _ = venue(
        fill_on="next_open", max_volume_share=Decimal("0.1"), initial_cash=Decimal(10_000_000)
    )
    paper.on_signal(bar(0, "10", "10", "10", "10", volume="1000"))
    paper.submit(order(1, quantity="250", time_in_force=TimeInForce.GTC))
    first = paper.on_signal(bar(1, "10", "10", "10", "10", volume="1000"))
    assert first[-1].status is OrderStatus.PARTIALLY_FILLED and first[-1].filled_quantity == 100
    paper.on_signal(bar(2, "10", "10", "10", "10", volume="1000"))
    last = paper.on_signal(bar(3, "11", "11", "11", "11", volume="1000"))
    assert last[-1].status is OrderStatus.FILLED and last[-1].filled_quantity == 250
    assert last[-1].average_fill_price == Decimal("10.2")  # (200 x 10 + 50 x 11) / 250


def test_buying_more_than_the_cash_allows_is_rejected_with_the_reason() -> None:
    paper, _ = venue(initial_cash=Decimal(1000))
    paper.on_signal(bar(0, "100", "100", "100", "100"))
    updates = paper.submit(order(1, quantity="11"))
    assert updates[-1].status is OrderStatus.REJECTED
    assert updates[-1].reason is not None and "insufficient buying power" in updates[-1].reason
    assert paper.ledger.cash == Decimal(1000)


def test_selling_what_is_not_held_is_rejected_when_shorting_is_off() -> None:
    paper, _ = venue()
    paper.on_signal(bar(0, "100", "100", "100", "100"))
    updates = paper.submit(order(1, side=Side.SELL))
    assert updates[-1].status is OrderStatus.REJECTED
    assert updates[-1].reason is not None and "insufficient position" in updates[-1].reason


def test_an_order_without_any_price_is_rejected_not_crashed() -> None:
    paper, _ = venue()
    updates = paper.submit(order(1))
    assert updates[-1].status is OrderStatus.REJECTED
    assert updates[-1].reason == "no market price for AAPL yet"


def test_the_same_client_order_id_never_makes_a_second_order() -> None:
    paper, _ = venue()
    paper.on_signal(bar(0, "100", "100", "100", "100"))
    assert paper.submit(order(1))
    assert paper.submit(order(1)) == []
    assert paper.ledger.quantity(AAPL) == 10


def test_ioc_cancels_the_rest_and_fok_cancels_all_when_not_fillable_at_once() -> None:
    paper, _ = venue(max_volume_share=Decimal("0.01"), initial_cash=Decimal(10**9))
    paper.on_signal(bar(0, "10", "10", "10", "10", volume="1000"))
    ioc = paper.submit(order(1, quantity="50", time_in_force=TimeInForce.IOC))
    assert [u.status for u in ioc][-2:] == [OrderStatus.PARTIALLY_FILLED, OrderStatus.CANCELED]
    assert ioc[-1].filled_quantity == 10
    fok = paper.submit(order(2, quantity="50", time_in_force=TimeInForce.FOK))
    assert fok[-1].status is OrderStatus.CANCELED and fok[-1].filled_quantity == 0


def test_a_day_order_expires_when_a_bar_of_a_later_day_arrives() -> None:
    paper, _ = venue()
    paper.on_signal(bar(0, "100", "100", "100", "100"))
    paper.submit(order(1, order_type=OrderType.LIMIT, limit_price=Decimal(90)))
    expired = paper.on_signal(bar(1, "100", "100", "95", "100"))
    assert expired[-1].status is OrderStatus.EXPIRED


def test_cancel_and_replace_end_the_old_order_and_replace_carries_the_change() -> None:
    paper, _ = venue()
    paper.on_signal(bar(0, "100", "100", "100", "100"))
    paper.submit(
        order(1, order_type=OrderType.LIMIT, limit_price=Decimal(90), time_in_force=TimeInForce.GTC)
    )
    new_id, updates = paper.replace(ClientOrderId("c1"), OrderChange(limit_price=Decimal(101)))
    assert paper.tracker.require(ClientOrderId("c1")).status is OrderStatus.REPLACED
    assert updates[-1].client_order_id == new_id and updates[-1].status is OrderStatus.FILLED
    paper.submit(
        order(2, order_type=OrderType.LIMIT, limit_price=Decimal(90), time_in_force=TimeInForce.GTC)
    )
    canceled = paper.cancel(ClientOrderId("c2"))
    assert [u.status for u in canceled] == [OrderStatus.PENDING_CANCEL, OrderStatus.CANCELED]


def test_slippage_moves_the_price_against_the_trader_and_is_reproducible_by_seed() -> None:
    def run(seed: int) -> list[Decimal]:
        paper, _ = venue(
            slippage=SlippageConfig(fixed_bps=Decimal(10), random_bps=Decimal(5), seed=seed)
        )
        paper.on_signal(bar(0, "100", "100", "100", "100"))
        prices = []
        for n in range(5):
            update = paper.submit(order(n, quantity="1"))[-1]
            assert update.fill is not None
            prices.append(update.fill.price)
        return prices

    first = run(7)
    assert first == run(7)
    assert all(Decimal("100.10") <= p <= Decimal("100.15") for p in first)


def test_a_restarted_venue_rebuilt_from_its_updates_has_the_same_books() -> None:
    paper, clock = venue(fill_on="next_open", max_volume_share=Decimal("0.1"))
    paper.on_signal(bar(0, "10", "10", "10", "10", volume="1000"))
    history = paper.submit(order(1, quantity="150", time_in_force=TimeInForce.GTC))
    history += paper.on_signal(bar(1, "10", "10", "10", "10", volume="1000"))
    restarted = PaperVenue(paper.config, clock=clock)
    restarted.restore(history + history)  # redelivered twice: booked once
    assert restarted.ledger.cash == paper.ledger.cash
    assert restarted.ledger.quantity(AAPL) == 100
    more = restarted.on_signal(bar(2, "10", "10", "10", "10", volume="1000"))
    assert more[-1].status is OrderStatus.FILLED and restarted.ledger.quantity(AAPL) == 150


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([Side.BUY, Side.SELL]),
            st.integers(min_value=1, max_value=300),
            st.decimals(min_value=Decimal("1.00"), max_value=Decimal("500.00"), places=2),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_cash_plus_positions_at_the_last_price_is_equity_to_the_cent_and_never_negative(
    trades: list[tuple[Side, int, Decimal]],
) -> None:
    paper, clock = venue(
        fees=FeeConfig(per_share=Decimal("0.0035"), percent=Decimal("0.01")),
        max_volume_share=None,
        initial_cash=Decimal(50_000),
    )
    for day, (side, quantity, price) in enumerate(trades):
        clock.advance_to(T0 + timedelta(days=day))
        paper.on_signal(bar(day, str(price), str(price), str(price), str(price)))
        paper.submit(order(day, side=side, quantity=str(quantity)))
        ledger = paper.ledger
        assert ledger.cash >= 0
        assert ledger.quantity(AAPL) >= 0
        held = ledger.quantity(AAPL) * price
        assert ledger.equity == ledger.cash + held
        # Average cost is a quotient, so P&L agrees with equity to the cent, not beyond.
        pnl = ledger.realized_pnl + ledger.unrealized_pnl
        assert abs(ledger.equity - ledger.initial_cash - pnl) < Decimal("0.01")


def test_a_buy_costing_exactly_the_cash_fills_in_full() -> None:
    paper, _ = venue(initial_cash=Decimal(1000))
    paper.on_signal(bar(0, "100", "100", "100", "100"))
    assert paper.submit(order(1, quantity="10"))[-1].status is OrderStatus.FILLED
    assert paper.ledger.cash == 0


def test_a_restart_that_caught_an_order_half_way_carries_it_on_once() -> None:
    paper, clock = venue()
    paper.on_signal(bar(0, "100", "100", "100", "100"))
    done = paper.submit(order(1))
    half_way = paper.submit(order(2))[:1]  # only NEW was published before the crash
    restarted = PaperVenue(paper.config, clock=clock)
    restarted.restore(done + half_way)
    resumed = restarted.resume()
    assert [(u.client_order_id, u.status) for u in resumed] == [
        ("c2", OrderStatus.ACCEPTED),
        ("c2", OrderStatus.FILLED),
    ]
    assert restarted.ledger.quantity(AAPL) == 20
    assert restarted.submit(order(2)) == []


def test_zero_slippage_of_any_scale_fills_at_the_same_digits_as_the_rule_itself() -> None:
    """Zero bps (written `0`, `0.0` or `0.00`) move no price, never past a limit, to the digit."""
    fills = []
    for bps in ("0", "0.0", "0.00"):
        paper, clock = venue(
            fill_on="next_open",
            slippage=SlippageConfig(fixed_bps=Decimal(bps)),
            price_increment=Decimal("0.01"),
        )
        paper.on_signal(bar(0, "100", "102", "99", "101"))
        paper.submit(order(1, order_type=OrderType.LIMIT, limit_price=Decimal("99.50")))
        paper.submit(order(2, side=Side.SELL, quantity="1", order_type=OrderType.MARKET))
        clock.advance_to(T0 + timedelta(days=1))
        updates = paper.on_signal(bar(1, "100.10", "100.20", "99.00", "99.80"))
        fills.append([(u.client_order_id, u.fill) for u in updates if u.fill is not None])
    assert fills[0] == fills[1] == fills[2]
    (_, limit_fill), *_ = fills[0]
    assert limit_fill is not None
    # The limit was crossed inside the bar: the fill is at the limit, never past it, and its
    # digits are those the tick rounding gives (normalized: 99.5, not 99.50).
    assert str(limit_fill.price) == "99.5"
