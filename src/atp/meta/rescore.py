"""Rebuilding the agents' scores and standings after a restart from what earlier runs published.

The scorer learns from two things only: the bars on `signals.normalized` and the intents of every
decided window, which `decisions.meta` lists as votes (with the weights they were counted with).
Replaying both through the same `AgentScorer` and `AgentRoster` methods the coordinator calls
leads a new process to the hit rates, P&L, Brier scores, skill (so adaptive weights), intents,
swings and missed-window counts the old one had, and its agents are known again (an agent
discovered by its intents is listed before it sends another one).

Order: bars in stream order; decisions in the order they closed, each after the bar it answered
and every bar stored before that one. That is the order a live run sees when a window closes
before the next bar of its symbol arrives, the normal case: the replay is exact then. A window
that closed by timeout after later bars of its symbol had been seen is scored from the first
bar after its own in the replay, where the live run counted from its close; skill (a decayed
mean) may then differ in its last digits. The swings are counted again from the votes, with
the threshold, quorum and lot the decision was taken with (its parameters).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from atp.core.enums import Action, OrderType
from atp.core.errors import AtpError
from atp.core.events import MarketSignal, MetaDecision, OrderIntent, Vote
from atp.core.ids import AgentId, DecisionId, IntentId, SignalId, Symbol
from atp.meta.roster import AgentRoster
from atp.meta.scoring import AgentScorer
from atp.meta.voting import Ballot, vote_with_swings

log = logging.getLogger(__name__)

ABSTAIN = "abstain"


@dataclass(frozen=True, slots=True)
class Rescored:
    """What a replay went through."""

    bars: int
    decisions: int
    intents: int
    missing_intents: int


def rescore(
    scorer: AgentScorer,
    roster: AgentRoster,
    *,
    signals: Sequence[MarketSignal],
    decisions: Iterable[MetaDecision],
    intents: Mapping[IntentId, OrderIntent],
) -> Rescored:
    """Replays stored bars and decisions into `scorer` and `roster` (see the module docstring).

    Args:
        signals: the bars, in stream order (a redelivered bar is ignored by the scorer).
        decisions: the decisions, in stream order; a repeated decision id counts once.
        intents: the stored intents by id; a vote whose intent is missing is scored from the
            vote and the decision's reference price.
    """
    position: dict[tuple[Symbol, SignalId], int] = {}
    for index, signal in enumerate(signals):
        position.setdefault((signal.symbol, signal.signal_id), index)
    done = 0
    applied: set[DecisionId] = set()
    recorded = missing = 0
    for decision in decisions:
        if decision.decision_id in applied:
            continue
        applied.add(decision.decision_id)
        answered_at = position.get((decision.symbol, decision.signal_id))
        if answered_at is not None:
            while done <= answered_at:
                _bar(scorer, signals[done])
                done += 1
        counted, absent = _decision(scorer, roster, decision, intents)
        recorded += counted
        missing += absent
    for signal in signals[done:]:
        _bar(scorer, signal)
    return Rescored(len(signals), len(applied), recorded, missing)


def _bar(scorer: AgentScorer, signal: MarketSignal) -> None:
    scorer.on_bar(signal.symbol, signal.signal_id, signal.close)


def _decision(
    scorer: AgentScorer,
    roster: AgentRoster,
    decision: MetaDecision,
    intents: Mapping[IntentId, OrderIntent],
) -> tuple[int, int]:
    """Does what closing the decision's window did to scores and standings; (intents, missing)."""
    ballots: list[Ballot] = []
    for vote in decision.votes:
        roster.join(vote.agent_id)
        action = None if vote.vote == ABSTAIN else Action(vote.vote)
        ballots.append(
            Ballot(
                vote.agent_id,
                action,
                vote.quantity,
                vote.confidence,
                vote.weight,
                vote.intent_id,
                vote.reason,
            )
        )
    for agent_id in _swung(decision, ballots):
        scorer.record_swing(agent_id)
    # The agents a window waited for were the live ones when it opened: those among its voters.
    expected = roster.live().intersection(vote.agent_id for vote in decision.votes)
    answered: set[AgentId] = set()
    missing = 0
    for vote in decision.votes:
        if vote.intent_id is None:
            continue
        intent = intents.get(vote.intent_id)
        if intent is None:
            missing += 1
            intent = _intent_of(decision, vote)
        scorer.record(intent)
        answered.add(vote.agent_id)
    roster.record_window(expected, frozenset(answered))
    return len(answered), missing


def _swung(decision: MetaDecision, ballots: list[Ballot]) -> tuple[AgentId, ...]:
    parameters = decision.parameters
    try:
        lot = Decimal(str(parameters.get("lot_size", "1")))
        threshold = float(parameters.get("threshold", decision.threshold))
        quorum = int(parameters.get("quorum", decision.quorum))
        _, swung = vote_with_swings(
            decision.voting_strategy, ballots, threshold=threshold, quorum=quorum, lot=lot
        )
    except (AtpError, InvalidOperation, TypeError, ValueError) as exc:
        log.warning("decision %s: swings not restored: %s", decision.decision_id, exc)
        return ()
    return swung


def _intent_of(decision: MetaDecision, vote: Vote) -> OrderIntent:
    """The intent a vote came from, as far as the decision tells (its intent was not stored)."""
    assert vote.intent_id is not None
    return OrderIntent(
        vote.intent_id,
        vote.agent_id,
        "",
        decision.symbol,
        decision.signal_id,
        Action(vote.vote),
        vote.quantity,
        vote.confidence,
        decision.reference_price,
        OrderType.MARKET,
        None,
        vote.reason,
        decision.decided_at,
    )
