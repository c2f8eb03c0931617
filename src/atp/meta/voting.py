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
from decimal import Decimal, localcontext

from atp.core.enums import Action
from atp.core.errors import InvalidInput
from atp.core.events import Tally
from atp.core.ids import AgentId, IntentId
from atp.core.money import ZERO

MICRO = 1_000_000
ONE_LOT = Decimal(1)

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
_Units = Callable[[Ballot], int]


def _one(_ballot: Ballot) -> int:
    return 1


def _weight_units(ballot: Ballot) -> int:
    return round(ballot.weight * MICRO)


def _conviction_units(ballot: Ballot) -> int:
    return round(ballot.weight * MICRO) * round(ballot.confidence * MICRO)


@dataclass(slots=True)
class _Sums:
    buy: int = 0
    sell: int = 0
    hold: int = 0
    abstain: int = 0
    voters: int = 0

    def of(self, side: Action) -> int:
        return self.buy if side is Action.BUY else self.sell if side is Action.SELL else self.hold


def _sum(ballots: Sequence[Ballot], units: _Units, *, weighted: bool) -> _Sums:
    sums = _Sums()
    plain_weights = units is _weight_units
    for ballot in ballots:
        weight = round(ballot.weight * MICRO) if weighted else 1
        if weight <= 0:
            # A zero-weight agent is no voter in weighted votes; it cannot sway them.
            continue
        action = ballot.action
        if action is None:
            sums.abstain += weight
            continue
        sums.voters += 1
        unit = weight if plain_weights or not weighted else units(ballot)
        if action is Action.BUY:
            sums.buy += unit
        elif action is Action.SELL:
            sums.sell += unit
        else:
            sums.hold += unit
    return sums


def _tally(sums: _Sums, scale: int) -> Tally:
    return Tally(
        buy=sums.buy / scale,
        sell=sums.sell / scale,
        hold=sums.hold / scale,
        abstain=sums.abstain / (MICRO if scale > 1 else 1),
        voters=sums.voters,
    )


def combined_quantity(
    ballots: Sequence[Ballot], side: Action, units: _Units, lot: Decimal, *, weighted: bool
) -> tuple[Decimal, Decimal, tuple[AgentId, ...]]:
    """The unit-weighted mean quantity of `side`'s voters, raw and rounded down to lots."""
    numerator = ZERO
    denominator = 0
    winners: list[AgentId] = []
    # Enough digits that products of quantities and micro-unit weights are never rounded.
    with localcontext(prec=80):
        for ballot in ballots:
            if ballot.action is not side or (weighted and _weight_units(ballot) <= 0):
                continue
            unit = units(ballot)
            winners.append(ballot.agent_id)
            numerator += ballot.quantity * unit
            denominator += unit
        if denominator == 0:
            return ZERO, ZERO, tuple(sorted(winners))
        raw = numerator / denominator
        lots = numerator // (lot * denominator)
        return lots * lot, raw, tuple(sorted(winners))


def _decide(
    strategy: str,
    ballots: Sequence[Ballot],
    sums: _Sums,
    side: Action | None,
    verdict: str,
    *,
    units: _Units,
    scale: int,
    threshold: float,
    quorum: int,
    lot: Decimal,
    weighted: bool,
) -> VoteOutcome:
    tally = _tally(sums, scale)
    if side is None:
        return VoteOutcome(
            strategy, Action.HOLD, ZERO, tally, threshold, quorum, verdict, None, (), ZERO
        )
    quantity, raw, winners = combined_quantity(ballots, side, units, lot, weighted=weighted)
    if quantity <= 0:
        return VoteOutcome(
            strategy, Action.HOLD, ZERO, tally, threshold, quorum, ZERO_QUANTITY, side, winners, raw
        )
    return VoteOutcome(
        strategy, side, quantity, tally, threshold, quorum, TRADED, side, winners, raw
    )


def _check(quorum: int, lot: Decimal) -> None:
    if quorum < 1:
        raise InvalidInput(f"quorum: expected at least 1, found {quorum}")
    if lot <= 0:
        raise InvalidInput(f"lot: expected a positive lot size, found {lot}")


def majority(ballots: Sequence[Ballot], *, quorum: int = 1, lot: Decimal = ONE_LOT) -> VoteOutcome:
    """Buy or sell when strictly more than half of the voters chose that side, else hold.

    One vote per answering agent. A tie, or a split with no side above half, holds; so does a
    majority of explicit holds.
    """
    _check(quorum, lot)
    sums = _sum(ballots, _one, weighted=False)
    side: Action | None = None
    if sums.voters == 0:
        verdict = NO_VOTERS
    elif sums.voters < quorum:
        verdict = NO_QUORUM
    elif 2 * sums.buy > sums.voters:
        side, verdict = Action.BUY, TRADED
    elif 2 * sums.sell > sums.voters:
        side, verdict = Action.SELL, TRADED
    elif 2 * sums.hold > sums.voters:
        verdict = HOLD_MAJORITY
    else:
        verdict = NO_MAJORITY
    return _decide(
        "majority",
        ballots,
        sums,
        side,
        verdict,
        units=_one,
        scale=1,
        threshold=0.5,
        quorum=quorum,
        lot=lot,
        weighted=False,
    )


def unanimous(ballots: Sequence[Ballot], *, quorum: int = 1, lot: Decimal = ONE_LOT) -> VoteOutcome:
    """Buy or sell only when every voter chose that side; any dissent (or hold) holds."""
    _check(quorum, lot)
    sums = _sum(ballots, _one, weighted=False)
    side: Action | None = None
    if sums.voters == 0:
        verdict = NO_VOTERS
    elif sums.voters < quorum:
        verdict = NO_QUORUM
    elif sums.buy == sums.voters:
        side, verdict = Action.BUY, TRADED
    elif sums.sell == sums.voters:
        side, verdict = Action.SELL, TRADED
    elif sums.hold == sums.voters:
        verdict = ALL_HOLD
    else:
        verdict = NOT_UNANIMOUS
    return _decide(
        "unanimous",
        ballots,
        sums,
        side,
        verdict,
        units=_one,
        scale=1,
        threshold=1.0,
        quorum=quorum,
        lot=lot,
        weighted=False,
    )


def _by_share(
    strategy: str,
    ballots: Sequence[Ballot],
    units: _Units,
    scale: int,
    *,
    threshold: float,
    quorum: int,
    lot: Decimal,
) -> VoteOutcome:
    _check(quorum, lot)
    if not 0.0 <= threshold <= 1.0:
        raise InvalidInput(f"threshold: expected a number in [0, 1], found {threshold}")
    sums = _sum(ballots, units, weighted=True)
    total = sums.buy + sums.sell + sums.hold
    needed = round(threshold * MICRO)
    side: Action | None = None
    if sums.voters == 0:
        verdict = NO_VOTERS
    elif sums.voters < quorum:
        verdict = NO_QUORUM
    elif total == 0:
        verdict = NO_WEIGHT
    else:
        # share >= threshold, compared exactly: score x 1e6 >= threshold_units x total.
        clears = [
            s
            for s in (Action.BUY, Action.SELL)
            if sums.of(s) > 0 and sums.of(s) * MICRO >= needed * total
        ]
        if len(clears) == 2 and sums.buy == sums.sell:
            verdict = TIE
        elif clears:
            side = max(clears, key=sums.of)
            verdict = TRADED
        else:
            verdict = BELOW_THRESHOLD
    return _decide(
        strategy,
        ballots,
        sums,
        side,
        verdict,
        units=units,
        scale=scale,
        threshold=threshold,
        quorum=quorum,
        lot=lot,
        weighted=True,
    )


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
    return _by_share(
        "weighted", ballots, _weight_units, MICRO, threshold=threshold, quorum=quorum, lot=lot
    )


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
    return _by_share(
        "confidence_weighted",
        ballots,
        _conviction_units,
        MICRO * MICRO,
        threshold=threshold,
        quorum=quorum,
        lot=lot,
    )


def vote(
    strategy: str,
    ballots: Sequence[Ballot],
    *,
    threshold: float,
    quorum: int,
    lot: Decimal = ONE_LOT,
) -> VoteOutcome:
    """Runs the strategy named `strategy` (one of VOTING_STRATEGIES) on `ballots`."""
    if strategy == "majority":
        return majority(ballots, quorum=quorum, lot=lot)
    if strategy == "unanimous":
        return unanimous(ballots, quorum=quorum, lot=lot)
    if strategy == "weighted":
        return weighted(ballots, threshold=threshold, quorum=quorum, lot=lot)
    if strategy == "confidence_weighted":
        return confidence_weighted(ballots, threshold=threshold, quorum=quorum, lot=lot)
    raise InvalidInput(
        f"strategy: expected majority, weighted, unanimous or confidence_weighted, "
        f"found {strategy!r}"
    )
