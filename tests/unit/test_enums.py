"""The enums' derived readings, member by member."""

from __future__ import annotations

from atp.core.enums import Action, OrderStatus, Side


def test_side_sign() -> None:
    assert Side.BUY.sign == 1
    assert Side.SELL.sign == -1
    assert all(type(side.sign) is int for side in Side)


def test_action_as_side() -> None:
    assert Action.BUY.as_side() is Side.BUY
    assert Action.SELL.as_side() is Side.SELL
    assert Action.HOLD.as_side() is None
    assert Action("buy").as_side() is Side.BUY


def test_order_status_is_terminal() -> None:
    terminal = {status for status in OrderStatus if status.is_terminal}
    assert terminal == {
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
        OrderStatus.REPLACED,
        OrderStatus.REJECTED,
        OrderStatus.EXPIRED,
    }
