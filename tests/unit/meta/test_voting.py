"""The four voting strategies decide as docs/meta-agent.md says, case by case."""

from __future__ import annotations

from decimal import Decimal

import pytest

from atp.core.enums import Action
from atp.core.errors import InvalidInput
from atp.core.ids import AgentId
from atp.meta import voting
from atp.meta.voting import Ballot, confidence_weighted, majority, unanimous, vote, weighted


def b(
    agent: str,
    action: str | None,
    quantity: str = "100",
    *,
    weight: float = 1.0,
    confidence: float = 0.5,
) -> Ballot:
    return Ballot(
        AgentId(agent), Action(action) if action else None, Decimal(quantity), confidence, weight
    )


def test_majority_buys_with_more_than_half_and_averages_the_buyers_quantities() -> None:
    outcome = majority([b("a", "buy", "100"), b("b", "buy", "141"), b("c", "sell", "500")])
    assert outcome.action is Action.BUY
    assert outcome.quantity == Decimal(120)  # mean 120.5, rounded down to whole shares
    assert outcome.winners == ("a", "b")
    assert (outcome.tally.buy, outcome.tally.sell, outcome.tally.voters) == (2.0, 1.0, 3)


def test_majority_tie_between_buy_and_sell_holds() -> None:
    outcome = majority([b("a", "buy"), b("b", "sell")])
    assert outcome.action is Action.HOLD
    assert outcome.verdict == voting.NO_MAJORITY


def test_majority_counts_explicit_holds_as_voters_but_not_abstentions() -> None:
    # 2 buys of 4 voters is not more than half: the holds dilute.
    diluted = majority([b("a", "buy"), b("b", "buy"), b("c", "hold"), b("d", "hold")])
    assert diluted.action is Action.HOLD
    # 2 buys of 2 voters is; the abstainers do not count.
    abstained = majority([b("a", "buy"), b("b", "buy"), b("c", None), b("d", None)])
    assert abstained.action is Action.BUY
    assert abstained.tally.abstain == 2.0


def test_majority_ignores_weights() -> None:
    outcome = majority([b("a", "buy", weight=0.0), b("b", "buy", weight=0.0), b("c", "sell")])
    assert outcome.action is Action.BUY


def test_quorum_not_met_holds() -> None:
    outcome = majority([b("a", "buy"), b("b", None), b("c", None)], quorum=2)
    assert outcome.action is Action.HOLD
    assert outcome.verdict == voting.NO_QUORUM


def test_unanimous_trades_only_when_every_voter_agrees() -> None:
    assert unanimous([b("a", "sell", "10"), b("b", "sell", "20"), b("c", None)]).action is (
        Action.SELL
    )
    split = unanimous([b("a", "sell"), b("b", "sell"), b("c", "hold")])
    assert split.action is Action.HOLD
    assert split.verdict == voting.NOT_UNANIMOUS


def test_weighted_trades_when_the_side_weight_share_reaches_the_threshold() -> None:
    ballots = [
        b("a", "buy", "100", weight=3.0),
        b("b", "sell", weight=1.0),
        b("c", "hold", weight=1.0),
    ]
    assert weighted(ballots, threshold=0.6).action is Action.BUY  # 3 of 5 = 60%
    assert weighted(ballots, threshold=0.61).action is Action.HOLD


def test_weighted_quantity_is_the_weight_weighted_mean_of_the_winners() -> None:
    ballots = [b("a", "buy", "100", weight=3.0), b("b", "buy", "200", weight=1.0)]
    outcome = weighted(ballots, threshold=0.5)
    assert outcome.quantity == Decimal(125)


def test_weighted_heavier_side_wins_when_both_clear_a_low_threshold_and_equal_ties_hold() -> None:
    heavier = weighted([b("a", "buy", weight=2.0), b("b", "sell", weight=1.5)], threshold=0.3)
    assert heavier.action is Action.BUY
    tie = weighted([b("a", "buy", weight=2.0), b("b", "sell", weight=2.0)], threshold=0.3)
    assert tie.action is Action.HOLD
    assert tie.verdict == voting.TIE


def test_weighted_with_only_zero_weight_voters_holds_for_lack_of_voters() -> None:
    outcome = weighted([b("a", "buy", weight=0.0)], threshold=0.5)
    assert outcome.action is Action.HOLD
    assert outcome.tally.voters == 0


def test_confidence_weighted_lets_a_confident_minority_outvote_a_hesitant_majority() -> None:
    ballots = [
        b("a", "buy", confidence=0.9),
        b("b", "sell", confidence=0.2),
        b("c", "sell", confidence=0.2),
    ]
    assert weighted(ballots, threshold=0.5).action is Action.SELL
    assert confidence_weighted(ballots, threshold=0.5).action is Action.BUY


def test_confidence_weighted_holds_when_nobody_is_confident() -> None:
    outcome = confidence_weighted([b("a", "buy", confidence=0.0)], threshold=0.0)
    assert outcome.action is Action.HOLD
    assert outcome.verdict == voting.NO_WEIGHT


def test_a_winning_side_whose_quantity_rounds_to_zero_lots_holds() -> None:
    outcome = majority([b("a", "buy", "0.4"), b("b", "buy", "0.5")])
    assert outcome.action is Action.HOLD
    assert outcome.side is Action.BUY
    assert outcome.verdict == voting.ZERO_QUANTITY


def test_lot_size_rounds_down_to_whole_lots() -> None:
    outcome = majority([b("a", "buy", "157"), b("b", "buy", "250")], lot=Decimal(100))
    assert outcome.quantity == Decimal(200)
    fractional = majority([b("a", "buy", "0.125"), b("b", "buy", "0.2")], lot=Decimal("0.01"))
    assert fractional.quantity == Decimal("0.16")


def test_unknown_strategy_and_bad_threshold_are_refused() -> None:
    with pytest.raises(InvalidInput, match="strategy"):
        vote("plurality", [b("a", "buy")], threshold=0.5, quorum=1)
    with pytest.raises(InvalidInput, match="threshold"):
        vote("weighted", [b("a", "buy")], threshold=1.5, quorum=1)
