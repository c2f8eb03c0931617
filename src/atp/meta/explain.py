"""Turns a vote's outcome into the plain words a `decisions.meta` reader sees.

The text answers "why did we buy?" (or why nothing happened) from the ballots and the outcome
alone: who voted what, the tally against the rule, and how the quantity was derived.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from functools import lru_cache

from atp.core.enums import ACTION_WORD, Action
from atp.core.money import normalize
from atp.meta import voting
from atp.meta.voting import Ballot, VoteOutcome

_MEAN_OF = {
    "majority": "mean",
    "unanimous": "mean",
    "weighted": "weight-weighted mean",
    "confidence_weighted": "weight x confidence weighted mean",
}


# Each action's word, read per decision several times: a dict lookup costs a fraction of an
# enum's `.value`.
# The answers in the order the listing gives them, with their words.
_LISTED = tuple((action, ACTION_WORD[action]) for action in (Action.BUY, Action.SELL, Action.HOLD))


def _named(ballots: Sequence[Ballot]) -> dict[Action | None, str]:
    """Each answer's voters (None: the abstainers), sorted and joined, for the answers given.

    One pass over the ballots and one sort per group: the listing and the sentences share it.
    """
    groups: dict[Action | None, list[str]] = {}
    for ballot in ballots:
        # Not `setdefault(action, [])`: that builds a list for every ballot.
        group = groups.get(ballot.action)
        if group is None:
            groups[ballot.action] = [ballot.agent_id]
        else:
            group.append(ballot.agent_id)
    return {action: ", ".join(sorted(names)) for action, names in groups.items()}


def _listing(named: dict[Action | None, str]) -> str:
    parts = [f"{word}: {named[action]}" for action, word in _LISTED if action in named]
    parts.append(f"abstained: {named.get(None, 'none')}")
    return "; ".join(parts)


def _agent_of(ballot: Ballot) -> str:
    return ballot.agent_id


def _number(value: float) -> str:
    return f"{value:.6g}"


def _percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.2f}%" if whole else "0.00%"


@lru_cache(maxsize=64)
def _lot_text(lot: Decimal) -> str:
    # A lot is a configured constant (positive: the vote refused any other), so its text is
    # formatted once; equal positive values normalize to the same text, so the value is the key.
    return str(normalize(lot))


def _quantity_sentence(
    outcome: VoteOutcome, ballots: Sequence[Ballot], lot: Decimal, side: str, quantity: str
) -> str:
    winners = outcome.winners
    # The winners' ballots, then sorted: the same list as filtering the sorted ballots (a
    # stable sort keeps equal ids in ballot order), without sorting the other ballots.
    listed = [b for b in ballots if b.agent_id in winners]
    listed.sort(key=_agent_of)
    quantities = ", ".join([f"{b.agent_id} {normalize(b.quantity)}" for b in listed])
    return (
        f"Quantity: {_MEAN_OF.get(outcome.strategy, 'mean')} of the {side} "
        f"voters' quantities ({quantities}) = {normalize(outcome.raw_quantity)}, rounded down "
        f"to lots of {_lot_text(lot)} = {quantity}."
    )


def _side_sentence(outcome: VoteOutcome, named: dict[Action | None, str], side: str) -> str:
    """Why the winning side (`side`: its word) won (for a trade, or a win rounded to zero)."""
    tally = outcome.tally
    names = named.get(outcome.side, "")
    score = getattr(tally, side)
    if outcome.strategy == "majority":
        return f"{int(score)} of {tally.voters} voters ({names}) voted {side}, more than half"
    if outcome.strategy == "unanimous":
        return f"all {tally.voters} voters ({names}) voted {side}"
    total = tally.buy + tally.sell + tally.hold
    what = "weight" if outcome.strategy == "weighted" else "weight x confidence"
    return (
        f"{side} {what} {_number(score)} of {_number(total)} ({_percent(score, total)}) from "
        f"{names} reached the threshold {_percent(outcome.threshold, 1.0)}"
    )


def _hold_sentence(outcome: VoteOutcome, named: dict[Action | None, str]) -> str:
    tally = outcome.tally
    verdict = outcome.verdict
    if verdict == voting.NO_VOTERS:
        return "no agent voted"
    if verdict == voting.NO_QUORUM:
        noun = "voter" if tally.voters == 1 else "voters"
        return f"only {tally.voters} {noun} answered, the quorum is {outcome.quorum}"
    if verdict == voting.HOLD_MAJORITY:
        holders = named.get(Action.HOLD, "")
        return f"{int(tally.hold)} of {tally.voters} voters ({holders}) voted hold, more than half"
    if verdict == voting.NO_MAJORITY:
        return (
            f"no side has more than half of {tally.voters} voters (buy {int(tally.buy)}, sell "
            f"{int(tally.sell)}, hold {int(tally.hold)}); a tie or a split holds"
        )
    if verdict == voting.ALL_HOLD:
        return f"all {tally.voters} voters voted hold"
    if verdict == voting.NOT_UNANIMOUS:
        return f"the {tally.voters} voters disagree and unanimous needs every voter on one side"
    what = "weight" if outcome.strategy == "weighted" else "weight x confidence"
    total = tally.buy + tally.sell + tally.hold
    if verdict == voting.NO_WEIGHT:
        return f"the voters' total {what} is zero"
    if verdict == voting.TIE:
        return f"buy and sell both reached the threshold with equal {what}; a tie holds"
    if verdict == voting.BELOW_THRESHOLD:
        return (
            f"no side's {what} reached the threshold {_percent(outcome.threshold, 1.0)} of "
            f"{_number(total)}: buy {_number(tally.buy)} ({_percent(tally.buy, total)}), sell "
            f"{_number(tally.sell)} ({_percent(tally.sell, total)}), hold {_number(tally.hold)} "
            f"({_percent(tally.hold, total)})"
        )
    return verdict


def explain(outcome: VoteOutcome, ballots: Sequence[Ballot], lot: Decimal) -> str:
    """Plain words for `outcome`: the rule, who voted what, why it followed, the quantity.

    Example: "buy 120: 2 of 3 voters (momentum, sma_crossover) voted buy, more than half.
    Votes: buy: momentum, sma_crossover; hold: mean_reversion; abstained: none. Quantity: ..."
    """
    named = _named(ballots)
    listing = f"Votes ({outcome.strategy}): {_listing(named)}."
    if outcome.verdict == voting.TRADED:
        assert outcome.side is not None
        # The traded quantity and the side's word appear twice in the text: formatted once.
        quantity = str(normalize(outcome.quantity))
        side = ACTION_WORD[outcome.side]
        return (
            f"{ACTION_WORD[outcome.action]} {quantity}: {_side_sentence(outcome, named, side)}. "
            f"{listing} {_quantity_sentence(outcome, ballots, lot, side, quantity)}"
        )
    if outcome.verdict == voting.ZERO_QUANTITY:
        assert outcome.side is not None
        side = ACTION_WORD[outcome.side]
        return (
            f"hold: {side} won ({_side_sentence(outcome, named, side)}) but the "
            f"combined quantity {normalize(outcome.raw_quantity)} rounds down to zero lots of "
            f"{_lot_text(lot)}. {listing}"
        )
    return f"hold: {_hold_sentence(outcome, named)}. {listing}"
