"""Small helpers every kind of test shares: a free port, a bar, a meta-agent decision."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta
from decimal import Decimal

from atp.core.enums import Action, OrderType, TradingState
from atp.core.events import MarketSignal, MetaDecision, Tally
from atp.core.ids import DecisionId, SignalId, Symbol, client_order_id_for


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def daily_bar(
    symbol: str, day: int, close: str, *, start: datetime, volume: str = "1000000"
) -> MarketSignal:
    """A flat daily bar (open = high = low = close) `day` days after `start`."""
    price = Decimal(close)
    return MarketSignal(
        signal_id=SignalId(f"{symbol}-{day}"),
        symbol=Symbol(symbol),
        timeframe="1d",
        timestamp=start + timedelta(days=day),
        open=price,
        high=price,
        low=price,
        close=price,
        volume=Decimal(volume),
        feed="test",
    )


def meta_decision(
    decision_id: str,
    symbol: str,
    *,
    signal_id: str,
    quantity: str,
    reference_price: str,
    decided_at: datetime,
    action: Action = Action.BUY,
    approved: bool = True,
) -> MetaDecision:
    """A one-voter market decision as the meta-agent publishes it (client order id derived)."""
    decision = DecisionId(decision_id)
    return MetaDecision(
        decision_id=decision,
        symbol=Symbol(symbol),
        signal_id=SignalId(signal_id),
        action=action,
        quantity=Decimal(quantity),
        order_type=OrderType.MARKET,
        limit_price=None,
        reference_price=Decimal(reference_price),
        voting_strategy="majority",
        parameters={},
        votes=(),
        tally=Tally(1, 0, 0, 0, 1),
        threshold=0.5,
        quorum=1,
        explanation="test",
        risk_checks=(),
        approved=approved,
        trading_state=TradingState.ACTIVE,
        client_order_id=client_order_id_for(decision),
        decided_at=decided_at,
    )
