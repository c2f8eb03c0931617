"""Builders of one order's whole story as events: bar, intents, decision, updates and fills."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from atp.core.enums import Action, OrderStatus, OrderType, Side, TimeInForce, TradingState
from atp.core.events import (
    ControlAction,
    Envelope,
    Fill,
    MarketSignal,
    MetaDecision,
    OrderIntent,
    OrderUpdate,
    RiskCheck,
    RiskViolation,
    Tally,
    Vote,
    envelope_for,
)
from atp.core.ids import (
    AgentId,
    DecisionId,
    FillId,
    IntentId,
    OrderId,
    Symbol,
    client_order_id_for,
    derive_id,
    signal_id_for,
)

T0 = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)


@dataclass(frozen=True)
class Story:
    """The events of one traded order, in causal order."""

    signal: Envelope[Any]
    intents: tuple[Envelope[Any], ...]
    decision: Envelope[Any]
    updates: tuple[Envelope[Any], ...]

    @property
    def all(self) -> list[Envelope[Any]]:
        """Every event, in the order they happened."""
        return [self.signal, *self.intents, self.decision, *self.updates]

    @property
    def client_order_id(self) -> str:
        """The client order id of the order."""
        payload: OrderUpdate = self.updates[0].payload
        return payload.client_order_id

    @property
    def order_id(self) -> str:
        """The venue's order id."""
        payload: OrderUpdate = self.updates[0].payload
        return payload.order_id


def story(symbol: str = "AAPL", day: int = 0, quantity: str = "10") -> Story:
    """A bar, two agents buying and one holding, an approved decision, a two-part fill."""
    at = T0 + timedelta(days=day)
    sym = Symbol(symbol)
    bar = MarketSignal(
        signal_id=signal_id_for(sym, "1d", at.isoformat()),
        symbol=sym,
        timeframe="1d",
        timestamp=at,
        open=Decimal("180.10"),
        high=Decimal("182.00"),
        low=Decimal("179.50"),
        close=Decimal("181.25"),
        volume=Decimal("51234567"),
        feed="csv",
    )
    signal = envelope_for(bar, source="market-data", event_time=at)
    intents = []
    votes = []
    for agent, strategy, action in (
        ("momentum-1", "momentum", Action.BUY),
        ("sma-1", "sma_crossover", Action.BUY),
        ("meanrev-1", "mean_reversion", Action.HOLD),
    ):
        intent = OrderIntent(
            intent_id=IntentId(derive_id("intent", agent, bar.signal_id)),
            agent_id=AgentId(agent),
            strategy=strategy,
            symbol=sym,
            signal_id=bar.signal_id,
            action=action,
            quantity=Decimal(quantity),
            confidence=0.7,
            reference_price=bar.close,
            order_type=OrderType.MARKET,
            limit_price=None,
            reason=f"{strategy} says {action.value}",
            decided_at=at,
        )
        intents.append(envelope_for(intent, source="agents", event_time=at, cause=signal))
        votes.append(
            Vote(
                agent_id=AgentId(agent),
                vote=action.value,
                quantity=Decimal(quantity),
                confidence=0.7,
                weight=1.0,
                intent_id=intent.intent_id,
                reason=intent.reason,
            )
        )
    decision_id = DecisionId(derive_id("decision", sym, bar.signal_id))
    coid = client_order_id_for(decision_id)
    decision = MetaDecision(
        decision_id=decision_id,
        symbol=sym,
        signal_id=bar.signal_id,
        action=Action.BUY,
        quantity=Decimal(quantity),
        order_type=OrderType.MARKET,
        limit_price=None,
        reference_price=bar.close,
        voting_strategy="majority",
        parameters={"api_token": "s3cret-token", "window": 3},
        votes=tuple(votes),
        tally=Tally(buy=2, sell=0, hold=1, abstain=0, voters=3),
        threshold=0.5,
        quorum=2,
        explanation="2 of 3 voted buy",
        risk_checks=(
            RiskCheck("kill_switch", True, "trading active", None, None),
            RiskCheck("position_cap", True, "AAPL 0 -> 10 within 500", Decimal(500), Decimal(10)),
        ),
        approved=True,
        trading_state=TradingState.ACTIVE,
        client_order_id=coid,
        decided_at=at,
    )
    decision_env = envelope_for(decision, source="meta-agent", event_time=at, cause=intents[-1])
    updates = []
    order_id = OrderId(f"paper-{coid[-8:]}")
    half = Decimal(quantity) / 2
    steps = (
        (OrderStatus.ACCEPTED, None, Decimal(0), None),
        (OrderStatus.PARTIALLY_FILLED, OrderStatus.ACCEPTED, half, Decimal("181.30")),
        (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED, Decimal(quantity), Decimal("181.40")),
    )
    cause = decision_env
    for sequence, (status, previous, filled, price) in enumerate(steps, start=1):
        fill = (
            Fill(
                fill_id=FillId(f"{coid}-f{sequence}"),
                quantity=half,
                price=price,
                commission=Decimal("0.01"),
                filled_at=at + timedelta(seconds=sequence),
            )
            if price is not None
            else None
        )
        update = OrderUpdate(
            order_id=order_id,
            client_order_id=coid,
            venue="paper",
            symbol=sym,
            side=Side.BUY,
            order_type=OrderType.MARKET,
            time_in_force=TimeInForce.DAY,
            quantity=Decimal(quantity),
            filled_quantity=filled,
            average_fill_price=price,
            limit_price=None,
            stop_price=None,
            status=status,
            previous_status=previous,
            fill=fill,
            decision_id=decision_id,
            reason=None,
            sequence=sequence,
            updated_at=at + timedelta(seconds=sequence),
        )
        cause = envelope_for(
            update, source="broker-adapters", event_time=update.updated_at, cause=cause
        )
        updates.append(cause)
    return Story(signal, tuple(intents), decision_env, tuple(updates))


def violation(symbol: str = "AAPL", n: int = 0) -> Envelope[Any]:
    """A position-cap violation with exact limit and observed values."""
    payload = RiskViolation(
        violation_id=f"v-{symbol}-{n}",
        rule="position_cap",
        message=f"position cap {symbol} 500 would become 700",
        symbol=Symbol(symbol),
        agent_id=AgentId("momentum-1"),
        decision_id=None,
        client_order_id=None,
        limit=Decimal("500"),
        observed=Decimal("700.000000000000000000000001"),
        action_taken="denied",
        trading_state=TradingState.ACTIVE,
        occurred_at=T0 + timedelta(minutes=n),
    )
    return envelope_for(payload, source="meta-agent", event_time=payload.occurred_at)


def control_action(n: int = 0) -> Envelope[Any]:
    """An operator halting trading, with a credential among the parameters."""
    payload = ControlAction(
        action_id=f"a-{n}",
        service="meta-agent",
        action="kill_switch",
        parameters={"engaged": True, "authorization": "Bearer top-secret-value"},
        actor="token:abc123def456",
        occurred_at=T0 + timedelta(minutes=n),
    )
    return envelope_for(payload, source="meta-agent", event_time=payload.occurred_at)
