"""Invariants of the voting strategies, checked on generated ballots (issue 3, item 7)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from atp.core.enums import Action
from atp.core.ids import AgentId
from atp.meta.ballots import abstention
from atp.meta.config import VOTING_STRATEGIES
from atp.meta.voting import Ballot, majority, unanimous, vote, vote_with_swings, weighted

ACTIONS = st.sampled_from([Action.BUY, Action.SELL, Action.HOLD, None])
QUANTITIES = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10_000), places=2)
WEIGHTS = st.floats(min_value=0.0, max_value=10.0, allow_nan=False)
CONFIDENCES = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
THRESHOLDS = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
QUORUMS = st.integers(min_value=1, max_value=4)
LOTS = st.sampled_from([Decimal(1), Decimal("0.01"), Decimal(10)])


@st.composite
def ballot_lists(draw: st.DrawFn, max_size: int = 9) -> list[Ballot]:
    size = draw(st.integers(min_value=0, max_value=max_size))
    return [
        Ballot(
            AgentId(f"agent-{i}"),
            draw(ACTIONS),
            draw(QUANTITIES),
            draw(CONFIDENCES),
            draw(WEIGHTS),
        )
        for i in range(size)
    ]


def _decision(
    strategy: str, ballots: list[Ballot], threshold: float, quorum: int, lot: Decimal
) -> tuple[Action, Decimal, tuple[AgentId, ...]]:
    outcome = vote(strategy, ballots, threshold=threshold, quorum=quorum, lot=lot)
    return outcome.action, outcome.quantity, outcome.winners


@given(
    st.sampled_from(VOTING_STRATEGIES),
    ballot_lists(),
    THRESHOLDS,
    QUORUMS,
    LOTS,
    st.randoms(use_true_random=False),
)
def test_the_outcome_does_not_depend_on_the_order_votes_arrive_in(
    strategy: str, ballots: list[Ballot], threshold: float, quorum: int, lot: Decimal, rnd: object
) -> None:
    shuffled = list(ballots)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert _decision(strategy, ballots, threshold, quorum, lot) == _decision(
        strategy, shuffled, threshold, quorum, lot
    )


@given(ballot_lists(), ACTIONS, QUANTITIES, CONFIDENCES, THRESHOLDS, QUORUMS, LOTS)
def test_a_zero_weight_agent_never_changes_a_weighted_outcome(
    ballots: list[Ballot],
    action: Action | None,
    quantity: Decimal,
    confidence: float,
    threshold: float,
    quorum: int,
    lot: Decimal,
) -> None:
    silent = Ballot(AgentId("zero"), action, quantity, confidence, 0.0)
    for strategy in ("weighted", "confidence_weighted"):
        assert _decision(strategy, [*ballots, silent], threshold, quorum, lot) == _decision(
            strategy, ballots, threshold, quorum, lot
        )


@given(ballot_lists(), QUORUMS, LOTS)
def test_whatever_unanimous_trades_majority_trades_the_same_way(
    ballots: list[Ballot], quorum: int, lot: Decimal
) -> None:
    strict = unanimous(ballots, quorum=quorum, lot=lot)
    if strict.action is not Action.HOLD:
        loose = majority(ballots, quorum=quorum, lot=lot)
        assert (loose.action, loose.quantity) == (strict.action, strict.quantity)


@given(
    ballot_lists(),
    st.floats(min_value=0.000001, max_value=1.0, allow_nan=False),
    THRESHOLDS,
    QUORUMS,
    LOTS,
)
def test_confidence_weighted_equals_weighted_when_every_confidence_is_equal(
    ballots: list[Ballot], confidence: float, threshold: float, quorum: int, lot: Decimal
) -> None:
    same = [Ballot(x.agent_id, x.action, x.quantity, confidence, x.weight) for x in ballots]
    plain = weighted(same, threshold=threshold, quorum=quorum, lot=lot)
    scaled = vote("confidence_weighted", same, threshold=threshold, quorum=quorum, lot=lot)
    assert (scaled.action, scaled.quantity, scaled.winners) == (
        plain.action,
        plain.quantity,
        plain.winners,
    )


@given(st.sampled_from(VOTING_STRATEGIES), ballot_lists(), THRESHOLDS, QUORUMS, LOTS)
def test_a_trade_is_whole_lots_within_the_winning_voters_quantities(
    strategy: str, ballots: list[Ballot], threshold: float, quorum: int, lot: Decimal
) -> None:
    outcome = vote(strategy, ballots, threshold=threshold, quorum=quorum, lot=lot)
    if outcome.action is Action.HOLD:
        assert outcome.quantity == 0
        return
    winners = [x for x in ballots if x.agent_id in outcome.winners]
    assert all(x.action is outcome.action for x in winners)
    assert outcome.quantity % lot == 0
    assert 0 < outcome.quantity <= max(x.quantity for x in winners)
    assert outcome.tally.voters >= quorum


@given(st.sampled_from(VOTING_STRATEGIES), ballot_lists(), THRESHOLDS, QUORUMS, LOTS)
def test_the_swing_voters_are_exactly_those_whose_abstention_changes_the_action(
    strategy: str, ballots: list[Ballot], threshold: float, quorum: int, lot: Decimal
) -> None:
    outcome, swung = vote_with_swings(
        strategy, ballots, threshold=threshold, quorum=quorum, lot=lot
    )
    assert outcome == vote(strategy, ballots, threshold=threshold, quorum=quorum, lot=lot)
    # The definition: re-run the whole vote with one voter abstaining instead.
    expected = tuple(
        ballot.agent_id
        for index, ballot in enumerate(ballots)
        if ballot.action is not None
        and vote(
            strategy,
            [*ballots[:index], abstention(ballot), *ballots[index + 1 :]],
            threshold=threshold,
            quorum=quorum,
            lot=lot,
        ).action
        is not outcome.action
    )
    assert swung == expected
