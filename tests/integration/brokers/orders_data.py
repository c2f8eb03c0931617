"""Bars and decisions for the broker integration tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from atp.core.enums import Action, OrderType, TradingState
from atp.core.events import MarketSignal, MetaDecision, Tally
from atp.core.ids import DecisionId, SignalId, Symbol, client_order_id_for

T0 = datetime(2024, 3, 1, 21, tzinfo=UTC)


def signal_for(day: int, close: str = "50.25", symbol: str = "KILL") -> MarketSignal:
    price = Decimal(close)
    return MarketSignal(
        signal_id=SignalId(f"{symbol}-{day}"),
        symbol=Symbol(symbol),
        timeframe="1d",
        timestamp=T0 + timedelta(days=day),
        open=price,
        high=price,
        low=price,
        close=price,
        volume=Decimal(10_000_000),
        feed="test",
    )


def decision(n: int, symbol: str = "KILL", quantity: str = "2") -> MetaDecision:
    decision_id = DecisionId(f"kill-decision-{n}")
    return MetaDecision(
        decision_id=decision_id,
        symbol=Symbol(symbol),
        signal_id=SignalId(f"{symbol}-0"),
        action=Action.BUY,
        quantity=Decimal(quantity),
        order_type=OrderType.MARKET,
        limit_price=None,
        reference_price=Decimal("50.25"),
        voting_strategy="majority",
        parameters={},
        votes=(),
        tally=Tally(1, 0, 0, 0, 1),
        threshold=0.5,
        quorum=1,
        explanation="test",
        risk_checks=(),
        approved=True,
        trading_state=TradingState.ACTIVE,
        client_order_id=client_order_id_for(decision_id),
        decided_at=T0,
    )
