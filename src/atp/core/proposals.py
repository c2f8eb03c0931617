"""What the risk gate is asked, and what it answers.

Every order, coordinated or manual, is put to the risk engine as an `OrderProposal` before it
may reach a venue. The answer is a `RiskVerdict`: approved or not, each rule's check, and the
violations to publish. Denials are answers, never exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from atp.core.enums import OrderType, Side, TradingState
from atp.core.events import RiskCheck, RiskViolation
from atp.core.frozen import quick_init
from atp.core.ids import AgentId, ClientOrderId, DecisionId, Symbol


@quick_init
@dataclass(frozen=True, slots=True)
class OrderProposal:
    """An order that wants to exist; `origin` is `meta` (a coordinated decision) or `manual`."""

    proposal_id: str
    origin: str
    symbol: Symbol
    side: Side
    quantity: Decimal
    order_type: OrderType
    reference_price: Decimal
    limit_price: Decimal | None
    agent_id: AgentId | None
    decision_id: DecisionId | None
    client_order_id: ClientOrderId | None


@quick_init
@dataclass(frozen=True, slots=True)
class RiskVerdict:
    """The risk engine's answer to one proposal."""

    approved: bool
    checks: tuple[RiskCheck, ...]
    violations: tuple[RiskViolation, ...]
    trading_state: TradingState


class RiskGate(Protocol):
    """Pre-trade checks: a pure, synchronous call with no I/O."""

    def check(self, proposal: OrderProposal) -> RiskVerdict:
        """Judges `proposal` against every rule; records it if approved."""
        ...
