"""The integer count behind every vote: one pass over the ballots, then exact rules.

`count_ballots` turns a window's ballots into integer scores per side (one per voter, weight in
micro-units, or weight x confidence in micro-micro-units). `winner` applies a strategy's rule
to scores; `SideMeans` derives the combined quantity of a side exactly. The same pieces answer
"what if this voter had abstained?" by subtracting one voter's part, so finding the voters
who swung a decision costs a few integer operations per voter instead of a whole new vote.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Context, Decimal, localcontext
from typing import TYPE_CHECKING

from atp.core.enums import ACTION_BUY, ACTION_HOLD, ACTION_SELL, Action
from atp.core.ids import AgentId
from atp.core.money import ZERO

if TYPE_CHECKING:
    from atp.meta.voting import Ballot

MICRO = 1_000_000

# How each strategy counts a voter: one each, its weight, or its weight x confidence.
PLAIN = 0
WEIGHT = 1
CONVICTION = 2

# Why an outcome followed: a stable code per case, turned into words by `explain`.
TRADED = "traded"
NO_VOTERS = "no_voters"
NO_QUORUM = "no_quorum"
NO_MAJORITY = "no_majority"
HOLD_MAJORITY = "hold_majority"
NOT_UNANIMOUS = "not_unanimous"
ALL_HOLD = "all_hold"
NO_WEIGHT = "no_weight"
BELOW_THRESHOLD = "below_threshold"
TIE = "tie"
ZERO_QUANTITY = "zero_quantity"

# Enough digits that sums of quantities x micro-unit weights are never rounded.
EXACT = Context(prec=80)

# Aliases: on Python 3.11 reading a member through its enum class costs about 70 ns, and
# these are read for every voter of every vote.


@dataclass(slots=True)
class Count:
    """Scores per side, abstentions, voters, and each voter with its score unit."""

    buy: int
    sell: int
    hold: int
    abstain: int
    voters: int
    # (ballot, unit) of every counted voter, in ballot order.
    entries: list[tuple[Ballot, int]]

    def score(self, side: Action) -> int:
        """The summed units of `side`."""
        return self.buy if side is ACTION_BUY else self.sell if side is ACTION_SELL else self.hold


def count_ballots(ballots: Sequence[Ballot], kind: int) -> Count:
    """Counts `ballots` the `kind` way (PLAIN, WEIGHT or CONVICTION) in one pass.

    Weighted kinds skip agents whose weight rounds to zero micro-units: they are no voters and
    can never sway the outcome. Abstainers add their weight (or 1) to `abstain` only.
    """
    # One loop per kind: this is the hot path of every vote, and a branch on the kind inside
    # the loop costs a third of its time.
    if kind == PLAIN:
        return _count_plain(ballots)
    return _count_weighted(ballots, conviction=kind == CONVICTION)


def _count_plain(ballots: Sequence[Ballot]) -> Count:
    buy = sell = hold = abstain = 0
    entries: list[tuple[Ballot, int]] = []
    append = entries.append
    for ballot in ballots:
        action = ballot.action
        if action is None:
            abstain += 1
            continue
        if action is ACTION_BUY:
            buy += 1
        elif action is ACTION_SELL:
            sell += 1
        else:
            hold += 1
        append((ballot, 1))
    return Count(buy, sell, hold, abstain, len(entries), entries)


def _count_weighted(ballots: Sequence[Ballot], *, conviction: bool) -> Count:
    buy = sell = hold = abstain = 0
    entries: list[tuple[Ballot, int]] = []
    append = entries.append
    for ballot in ballots:
        weight = round(ballot.weight * MICRO)
        if weight <= 0:
            continue
        action = ballot.action
        if action is None:
            abstain += weight
            continue
        unit = weight * round(ballot.confidence * MICRO) if conviction else weight
        if action is ACTION_BUY:
            buy += unit
        elif action is ACTION_SELL:
            sell += unit
        else:
            hold += unit
        append((ballot, unit))
    return Count(buy, sell, hold, abstain, len(entries), entries)


def winner(
    strategy: str,
    buy: int,
    sell: int,
    hold: int,
    voters: int,
    needed: int,
    quorum: int,
) -> tuple[Action | None, str]:
    """The side that wins under `strategy`'s rule (None: hold) and the verdict code.

    `needed` is the threshold in micro-units (weighted kinds only).
    """
    if voters == 0:
        return None, NO_VOTERS
    if voters < quorum:
        return None, NO_QUORUM
    if strategy == "majority":
        if 2 * buy > voters:
            return ACTION_BUY, TRADED
        if 2 * sell > voters:
            return ACTION_SELL, TRADED
        return None, HOLD_MAJORITY if 2 * hold > voters else NO_MAJORITY
    if strategy == "unanimous":
        if buy == voters:
            return ACTION_BUY, TRADED
        if sell == voters:
            return ACTION_SELL, TRADED
        return None, ALL_HOLD if hold == voters else NOT_UNANIMOUS
    total = buy + sell + hold
    if total == 0:
        return None, NO_WEIGHT
    # share >= threshold, compared exactly: score x 1e6 >= threshold_units x total.
    bar = needed * total
    buy_clears = buy > 0 and buy * MICRO >= bar
    sell_clears = sell > 0 and sell * MICRO >= bar
    if buy_clears and sell_clears:
        if buy == sell:
            return None, TIE
        return (ACTION_BUY if buy > sell else ACTION_SELL), TRADED
    if buy_clears:
        return ACTION_BUY, TRADED
    if sell_clears:
        return ACTION_SELL, TRADED
    return None, BELOW_THRESHOLD


def side_quantity(
    count: Count, side: Action, lot: Decimal
) -> tuple[Decimal, Decimal, tuple[AgentId, ...], Decimal]:
    """The side's mean quantity rounded down to lots, unrounded, its voters, and the numerator.

    The mean is weighted by each voter's unit: sum(quantity x unit) / sum(unit), exact.
    """
    numerator = ZERO
    winners: list[AgentId] = []
    with localcontext(EXACT):
        for ballot, unit in count.entries:
            if ballot.action is side:
                winners.append(ballot.agent_id)
                if unit:
                    numerator += ballot.quantity * unit
        winners.sort()
        denominator = count.score(side)
        if denominator == 0:
            return ZERO, ZERO, tuple(winners), numerator
        lots = numerator // (lot * denominator)
        return lots * lot, numerator / denominator, tuple(winners), numerator


class SideMeans:
    """Exact unit-weighted quantity sums per side, computed only for the sides asked about."""

    __slots__ = ("_count", "_numerators")

    def __init__(self, count: Count, known: dict[Action, Decimal] | None = None) -> None:
        self._count = count
        self._numerators: dict[Action, Decimal] = known or {}

    def numerator(self, side: Action) -> Decimal:
        """The sum of quantity x unit over `side`'s voters (exact)."""
        numerator = self._numerators.get(side)
        if numerator is None:
            numerator = ZERO
            with localcontext(EXACT):
                for ballot, unit in self._count.entries:
                    if ballot.action is side and unit:
                        numerator += ballot.quantity * unit
            self._numerators[side] = numerator
        return numerator

    def trades_without(
        self, side: Action, score: int, ballot: Ballot, unit: int, lot: Decimal
    ) -> bool:
        """True if `side` (scoring `score` without `ballot`) still trades at least one lot."""
        if score == 0:
            return False
        numerator = self.numerator(side)
        with localcontext(EXACT):
            if ballot.action is side:
                numerator -= ballot.quantity * unit
            return numerator // (lot * score) > 0


def swing_voters(
    strategy: str,
    count: Count,
    action: Action,
    *,
    needed: int,
    quorum: int,
    lot: Decimal,
    means: SideMeans | None = None,
) -> tuple[AgentId, ...]:
    """The voters whose abstention would have changed `action`, in ballot order.

    Abstaining removes the voter's unit from its side and one voter from the count; the rule
    and the lot rounding then decide as in a full vote (checked against re-voting by a
    property test).
    """
    means = means or SideMeans(count)
    swung: list[AgentId] = []
    buy, sell, hold, voters = count.buy, count.sell, count.hold, count.voters - 1
    for ballot, unit in count.entries:
        side_of = ballot.action
        side, _ = winner(
            strategy,
            buy - unit if side_of is ACTION_BUY else buy,
            sell - unit if side_of is ACTION_SELL else sell,
            hold - unit if side_of is ACTION_HOLD else hold,
            voters,
            needed,
            quorum,
        )
        if side is None:
            without = ACTION_HOLD
        else:
            score = count.score(side) - (unit if side_of is side else 0)
            traded = means.trades_without(side, score, ballot, unit, lot)
            without = side if traded else ACTION_HOLD
        if without is not action:
            swung.append(ballot.agent_id)
    return tuple(swung)
