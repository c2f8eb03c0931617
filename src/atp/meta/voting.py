"""The four voting strategies: pure functions from one window's ballots to an outcome.

Common rules (docs/meta-agent.md has the full text and examples):

* A ballot is an agent's answer (buy, sell or hold) or its abstention (no answer in the window).
  Abstentions never count as voters. An explicit hold is a vote against trading: it counts as a
  voter and dilutes both trading sides.
* `majority` and `unanimous` give every answering agent one vote; weights are ignored.
  `weighted` and `confidence_weighted` count only answering agents with a positive weight, so a
  zero-weight agent can never change their outcome.
* Fewer counted voters than `quorum` means hold.
* Buy and sell never net out. Exactly one side can win under the strategy's rule; the other
  side's quantities are ignored. When no side wins (a tie, a split, below threshold) we hold.
* The combined quantity is the mean of the winning side's quantities, weighted like the vote
  (one per agent for majority and unanimous, weight for weighted, weight x confidence for
  confidence_weighted), computed exactly and rounded down to whole lots. A side that wins with
  a quantity that rounds down to zero lots holds.
* Weights and confidences are resolved to 1e-6 and the arithmetic is done on integers, so the
  outcome does not depend on the order ballots arrive in, and equal confidences cancel exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from atp.core.enums import ACTION_HOLD, Action
from atp.core.errors import InvalidInput
from atp.core.events import Tally
from atp.core.frozen import quick_init
from atp.core.ids import AgentId, IntentId
from atp.core.money import ZERO
from atp.meta.count import (
    ALL_HOLD,
    BELOW_THRESHOLD,
    CONVICTION,
    HOLD_MAJORITY,
    MICRO,
    NO_MAJORITY,
    NO_QUORUM,
    NO_VOTERS,
    NO_WEIGHT,
    NOT_UNANIMOUS,
    PLAIN,
    TIE,
    TRADED,
    WEIGHT,
    ZERO_QUANTITY,
    Count,
    SideMeans,
    count_ballots,
    side_quantity,
    swing_voters,
    winner,
)

ONE_LOT = Decimal(1)

__all__ = [
    "ALL_HOLD",
    "BELOW_THRESHOLD",
    "HOLD_MAJORITY",
    "MICRO",
    "NOT_UNANIMOUS",
    "NO_MAJORITY",
    "NO_QUORUM",
    "NO_VOTERS",
    "NO_WEIGHT",
    "ONE_LOT",
    "TIE",
    "TRADED",
    "ZERO_QUANTITY",
    "Ballot",
    "VoteOutcome",
    "confidence_weighted",
    "majority",
    "unanimous",
    "vote",
    "vote_with_swings",
    "weighted",
]


@quick_init
@dataclass(frozen=True, slots=True)
class Ballot:
    """One agent's part in a window: its answer (None = abstained), weight and confidence."""

    agent_id: AgentId
    action: Action | None
    quantity: Decimal
    confidence: float
    weight: float
    intent_id: IntentId | None = None
    reason: str = ""


@quick_init
@dataclass(frozen=True, slots=True)
class VoteOutcome:
    """The result of a vote: what to do, how much, the tally and why (`verdict`).

    `side` is the side that won the vote even when the quantity rounded to zero (then `action`
    is hold); `raw_quantity` is the unrounded mean of the winning side's quantities.
    """

    strategy: str
    action: Action
    quantity: Decimal
    tally: Tally
    threshold: float
    quorum: int
    verdict: str
    side: Action | None
    winners: tuple[AgentId, ...]
    raw_quantity: Decimal


Strategy = Callable[..., VoteOutcome]

# Per strategy: how voters count, the threshold it reports, and the tally's unit.
_KIND = {
    "majority": PLAIN,
    "unanimous": PLAIN,
    "weighted": WEIGHT,
    "confidence_weighted": CONVICTION,
}
_SCALE = {PLAIN: 1, WEIGHT: MICRO, CONVICTION: MICRO * MICRO}
_REPORTED = {"majority": 0.5, "unanimous": 1.0}


def _run(
    strategy: str, ballots: Sequence[Ballot], *, threshold: float, quorum: int, lot: Decimal
) -> tuple[VoteOutcome, Count, int, Decimal]:
    """Counts once, applies the rule, and derives the quantity of the winning side."""
    if quorum < 1:
        raise InvalidInput(f"quorum: expected at least 1, found {quorum}")
    if lot <= 0:
        raise InvalidInput(f"lot: expected a positive lot size, found {lot}")
    kind = _KIND[strategy]
    if kind == PLAIN:
        needed = 0
    elif 0.0 <= threshold <= 1.0:
        needed = round(threshold * MICRO)
    else:
        raise InvalidInput(f"threshold: expected a number in [0, 1], found {threshold}")
    count = count_ballots(ballots, kind)
    buy, sell, hold = count.buy, count.sell, count.hold
    side, verdict = winner(strategy, buy, sell, hold, count.voters, needed, quorum)
    scale = _SCALE[kind]
    abstain = count.abstain / MICRO if kind != PLAIN else float(count.abstain)
    tally = Tally(buy / scale, sell / scale, hold / scale, abstain, count.voters)
    if side is None:
        outcome = VoteOutcome(
            strategy, ACTION_HOLD, ZERO, tally, threshold, quorum, verdict, None, (), ZERO
        )
        return outcome, count, needed, ZERO
    quantity, raw, winners, numerator = side_quantity(count, side, lot)
    if quantity <= 0:
        outcome = VoteOutcome(
            strategy, ACTION_HOLD, ZERO, tally, threshold, quorum, ZERO_QUANTITY, side, winners, raw
        )
    else:
        outcome = VoteOutcome(
            strategy, side, quantity, tally, threshold, quorum, TRADED, side, winners, raw
        )
    return outcome, count, needed, numerator


def _checked(strategy: str, threshold: float) -> float:
    if strategy not in _KIND:
        raise InvalidInput(
            f"strategy: expected majority, weighted, unanimous or confidence_weighted, "
            f"found {strategy!r}"
        )
    # majority and unanimous report their fixed rule, not the configured threshold.
    return _REPORTED.get(strategy, threshold)


def vote_with_swings(
    strategy: str,
    ballots: Sequence[Ballot],
    *,
    threshold: float,
    quorum: int,
    lot: Decimal = ONE_LOT,
) -> tuple[VoteOutcome, tuple[AgentId, ...]]:
    """`vote`, plus the voters whose abstention would have changed the action (ballot order).

    The swings are what re-running the vote once per voter, with that voter abstaining, would
    find (a property test holds the two equal), at the cost of a few integer operations per
    voter on the one count.
    """
    outcome, count, needed, numerator = _run(
        strategy, ballots, threshold=_checked(strategy, threshold), quorum=quorum, lot=lot
    )
    # The winning side's sum is known already; the other side's is computed if a swing needs it.
    means = SideMeans(count, {outcome.side: numerator} if outcome.side is not None else None)
    swung = swing_voters(
        strategy, count, outcome.action, needed=needed, quorum=quorum, lot=lot, means=means
    )
    return outcome, swung


def majority(ballots: Sequence[Ballot], *, quorum: int = 1, lot: Decimal = ONE_LOT) -> VoteOutcome:
    """Buy or sell when strictly more than half of the voters chose that side, else hold.

    One vote per answering agent. A tie, or a split with no side above half, holds; so does a
    majority of explicit holds.
    """
    return _run("majority", ballots, threshold=0.5, quorum=quorum, lot=lot)[0]


def unanimous(ballots: Sequence[Ballot], *, quorum: int = 1, lot: Decimal = ONE_LOT) -> VoteOutcome:
    """Buy or sell only when every voter chose that side; any dissent (or hold) holds."""
    return _run("unanimous", ballots, threshold=1.0, quorum=quorum, lot=lot)[0]


def weighted(
    ballots: Sequence[Ballot],
    *,
    threshold: float = 0.6,
    quorum: int = 1,
    lot: Decimal = ONE_LOT,
) -> VoteOutcome:
    """Buy or sell when that side's share of the voters' weight reaches `threshold`.

    The share is the side's summed weight over the summed weight of every counted voter (buy,
    sell and hold). When both trading sides reach the threshold (possible below 0.5), the
    heavier one wins and equal weights hold.
    """
    return _run("weighted", ballots, threshold=threshold, quorum=quorum, lot=lot)[0]


def confidence_weighted(
    ballots: Sequence[Ballot],
    *,
    threshold: float = 0.6,
    quorum: int = 1,
    lot: Decimal = ONE_LOT,
) -> VoteOutcome:
    """Like `weighted`, with each vote counting weight x the agent's stated confidence.

    With every confidence equal and positive it gives exactly the `weighted` outcome; when
    every voter's confidence is zero there is no conviction to act on, and it holds.
    """
    return _run("confidence_weighted", ballots, threshold=threshold, quorum=quorum, lot=lot)[0]


def vote(
    strategy: str,
    ballots: Sequence[Ballot],
    *,
    threshold: float,
    quorum: int,
    lot: Decimal = ONE_LOT,
) -> VoteOutcome:
    """Runs the strategy named `strategy` (one of VOTING_STRATEGIES) on `ballots`."""
    reported = _checked(strategy, threshold)
    return _run(strategy, ballots, threshold=reported, quorum=quorum, lot=lot)[0]
