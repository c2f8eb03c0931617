"""The `short_sale` rule: on a long-only account no sell asks for more than is held."""

from __future__ import annotations

from decimal import Decimal

from atp.core.enums import Side
from atp.core.ids import Symbol
from atp.risk.config import RiskEngineConfig, ShortSaleConfig
from atp.risk.engine import RiskEngine

from .conftest import clock_at, fill_update, proposal


def engine_holding(quantity: str, *, shorts: bool = False) -> RiskEngine:
    """The default limits (long-only unless `shorts`), holding `quantity` AAPL at 100."""
    config = RiskEngineConfig(short_sales=ShortSaleConfig(allowed=shorts))
    engine = RiskEngine(config, clock=clock_at())
    if Decimal(quantity):
        order = proposal("AAPL", Side.BUY, quantity, "100")
        assert engine.check(order).approved
        engine.on_order_update(fill_update(order, quantity, "100"))
    return engine


def refusals(engine: RiskEngine, side: Side, quantity: str) -> dict[str, str]:
    verdict = engine.check(proposal("AAPL", side, quantity, "100"))
    return {c.rule: c.message for c in verdict.checks if not c.passed}


def test_a_sell_above_the_position_is_refused_with_what_may_be_sold() -> None:
    engine = engine_holding("156.5")

    assert refusals(engine, Side.SELL, "200") == {
        "short_sale": "short sale AAPL: sell 200 with 156.5 held and 0 already being sold "
        "would leave -43.5; this account does not sell short (at most 156.5 may be sold)"
    }
    (violation,) = engine.violations
    assert (violation.rule, violation.limit, violation.observed) == (
        "short_sale",
        Decimal("156.5"),
        Decimal(200),
    )


def test_a_sell_of_nothing_held_is_refused_and_a_buy_is_not_judged_by_it() -> None:
    engine = engine_holding("0")

    assert "short_sale" in refusals(engine, Side.SELL, "25")
    assert refusals(engine, Side.BUY, "25") == {}


def test_approved_sells_not_filled_yet_count_against_what_may_be_sold() -> None:
    engine = engine_holding("10")

    assert refusals(engine, Side.SELL, "6") == {}
    assert engine.sellable(Symbol("AAPL")) == 4
    message = refusals(engine, Side.SELL, "5")["short_sale"]
    assert "with 10 held and 6 already being sold would leave -1" in message
    assert refusals(engine, Side.SELL, "4") == {}
    assert engine.sellable(Symbol("AAPL")) == 0


def test_where_short_sales_are_allowed_a_sell_may_go_below_zero() -> None:
    engine = engine_holding("0", shorts=True)

    assert refusals(engine, Side.SELL, "25") == {}
    assert engine.sellable(Symbol("AAPL")) is None


def test_the_setting_is_read_from_the_limits_json_and_can_be_changed_at_runtime() -> None:
    engine = engine_holding("0")
    config = RiskEngineConfig.model_validate({"short_sales": {"allowed": True}})

    engine.set_config(config, actor="ops")

    assert refusals(engine, Side.SELL, "25") == {}
    assert RiskEngineConfig().short_sales.allowed is False, "long-only unless told otherwise"
