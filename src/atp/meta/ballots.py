"""From a window to ballots and votes, and the sentences a decision closes with."""

from __future__ import annotations

import math

from atp.core.enums import ACTION_HOLD, ACTION_WORD, Action
from atp.core.events import OrderIntent, Vote
from atp.core.ids import AgentId
from atp.core.money import ZERO
from atp.core.proposals import RiskVerdict
from atp.meta.voting import Ballot
from atp.meta.window import DecisionWindow

COMPLETE = "complete"
TIMEOUT = "timeout"

# A ballot's answer as listed in a decision (None: abstained), read per ballot: a table, not
# `.value` (see the constants at the end of `atp.core.enums`).
_VOTE_TEXT: dict[Action | None, str] = {action: word for action, word in ACTION_WORD.items()}
_VOTE_TEXT[None] = "abstain"


def valid_intent(intent: OrderIntent) -> bool:
    """True if the intent keeps the contract: confidence in [0, 1], a positive quantity to trade."""
    confidence = intent.confidence
    if not math.isfinite(confidence) or not 0.0 <= confidence <= 1.0:
        return False
    quantity = intent.quantity
    if not quantity.is_finite() or quantity < 0:
        return False
    if quantity == 0 and intent.action is not ACTION_HOLD:
        return False
    reference_price = intent.reference_price
    return reference_price.is_finite() and reference_price >= 0


def ballot_of(window: DecisionWindow, agent_id: AgentId) -> Ballot:
    """The ballot of `agent_id` in `window`: its intent, or an abstention."""
    weight = window.weights[agent_id]
    intent = window.intents.get(agent_id)
    if intent is None:
        return Ballot(agent_id, None, ZERO, 0.0, weight, None, "no answer within the window")
    return Ballot(
        agent_id,
        intent.action,
        intent.quantity,
        intent.confidence,
        weight,
        intent.intent_id,
        intent.reason,
    )


def abstention(ballot: Ballot) -> Ballot:
    """The same agent, abstaining (used to find the decisions an agent swung)."""
    return Ballot(ballot.agent_id, None, ZERO, 0.0, ballot.weight, None, "")


def vote_of(ballot: Ballot) -> Vote:
    """The wire form of a ballot, as listed in a decision."""
    # Positional (in field order): one per ballot of every decision.
    return Vote(
        ballot.agent_id,
        _VOTE_TEXT[ballot.action],
        ballot.quantity,
        ballot.confidence,
        ballot.weight,
        ballot.intent_id,
        ballot.reason,
    )


def closing_sentence(window: DecisionWindow, closed_by: str) -> str:
    """Says why the window closed: everyone answered, or the timeout."""
    expected = len(window.expected)
    if closed_by == COMPLETE:
        return f"Window closed when all {expected} live agents had answered."
    answered = len(window.expected.intersection(window.intents))
    return f"Window timed out with {answered} of {expected} live agents answered."


def risk_sentence(verdict: RiskVerdict, client_order_id: str) -> str:
    """Says what the risk gate answered, with the failed rules\' messages on a denial."""
    if verdict.approved:
        return f"Risk: approved, client order {client_order_id}."
    failed = [c.message for c in verdict.checks if not c.passed] or ["no reason given"]
    return f"Risk: denied ({verdict.trading_state.value}): {'; '.join(failed)}."
