"""Live agent scoring: each agent's intents judged against the prices that followed.

For every buy or sell intent an agent sent (holds have no direction and are not scored), the
scorer waits `horizon_bars` further bars of the same symbol after the bar the intent answered and
then compares that bar's close with the intent's reference price. The bars are counted from the
intent's own bar, not from the moment its window closed: a window that closes after later bars
of its symbol arrived (a slow agent, a timeout) is judged on the same bar as one that closed at
once, so a score does not depend on delivery timing, and replaying the stored bars and decisions
after a restart (`rescore.py`) reproduces it. (Each bar's number within its symbol is kept
with the bars remembered against redelivery, and the closes of the newest `RECENT_BARS` bars of
each symbol; an intent recorded later than that counts its bars from its window's close.)

* hit: a buy is a hit when the close rose above the reference price, a sell when it fell below;
  an unchanged price is a miss (the agent wanted a move). Hit rate = hits / scored intents.
* P&L as if followed alone: side sign x intent quantity x (close - reference price), exact.
* Brier score: the mean of (confidence - hit)^2, 0 is perfect calibration, 0.25 is what a
  constant 0.5 earns.
* swings: decisions whose action would have been different without this agent's vote.
* skill: an exponentially decayed hit rate (prior 0.5); the adaptive weight multiplier is
  2 x skill clamped to [floor, cap], so an agent that hits half the time keeps its weight.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import Decimal

from atp.core.enums import Action
from atp.core.events import OrderIntent
from atp.core.ids import AgentId, SignalId, Symbol
from atp.core.money import ZERO
from atp.meta.config import ScoringConfig

PRIOR_SKILL = 0.5
RECENT_BARS = 128
"""Closes kept per symbol (a ring) to judge intents recorded after their horizon bar."""

# The sign of the side an action trades (`Action.as_side().sign`); a hold has none. A constant
# map: an enum method and a property per recorded intent cost more than the rest of `record`.
_SIGN: dict[Action, int] = {Action.BUY: 1, Action.SELL: -1}


@dataclass(slots=True)
class AgentScore:
    """What the scorer knows of one agent's record."""

    agent_id: AgentId
    intents: int = 0
    scored: int = 0
    hits: int = 0
    pnl: Decimal = ZERO
    brier_sum: float = 0.0
    swung: int = 0
    skill: float = PRIOR_SKILL

    @property
    def hit_rate(self) -> float | None:
        """Hits over scored intents, None before the first one is scored."""
        return self.hits / self.scored if self.scored else None

    @property
    def brier(self) -> float | None:
        """Mean squared error of the stated confidence against the hit, None before any."""
        return self.brier_sum / self.scored if self.scored else None


@dataclass(slots=True)
class _Pending:
    # The agent's own score record (created by `record`), so judging needs no lookup.
    score: AgentScore
    signal_id: SignalId
    sign: int
    quantity: Decimal
    confidence: float
    reference_price: Decimal
    bars_left: int


@dataclass(slots=True)
class _SymbolBook:
    pending: list[_Pending] = field(default_factory=list)
    # Bars seen (a bar's number, from 1, is kept in the scorer's `_seen`) and a ring of the
    # newest closes: bar number n's close is `closes[n % RECENT_BARS]` while n > bars - RING.
    bars: int = 0
    closes: list[Decimal] = field(default_factory=lambda: [ZERO] * RECENT_BARS)


class AgentScorer:
    """Keeps every agent's score up to date from intents and later closes."""

    def __init__(self, config: ScoringConfig, *, remember_signals: int = 200_000) -> None:
        self._config = config
        self._scores: dict[AgentId, AgentScore] = {}
        self._symbols: dict[Symbol, _SymbolBook] = {}
        # Every remembered bar with its number within its symbol (see `_SymbolBook`).
        self._seen: OrderedDict[SignalId, int] = OrderedDict()
        self._remember = remember_signals

    def reconfigure(self, config: ScoringConfig) -> None:
        """Uses `config` for intents recorded from now on and for the adaptive multiplier."""
        self._config = config

    def score(self, agent_id: AgentId) -> AgentScore:
        """The score of `agent_id` (an empty record if it never sent anything)."""
        score = self._scores.get(agent_id)
        if score is None:
            score = self._scores[agent_id] = AgentScore(agent_id)
        return score

    def scores(self) -> dict[AgentId, AgentScore]:
        """Every agent's score, by id."""
        return {a: self._scores[a] for a in sorted(self._scores)}

    def multiplier(self, agent_id: AgentId) -> float:
        """The adaptive weight multiplier: 2 x decayed hit rate, clamped to [floor, cap]."""
        skill = self._scores[agent_id].skill if agent_id in self._scores else PRIOR_SKILL
        return min(max(2.0 * skill, self._config.weight_floor), self._config.weight_cap)

    def last_close(self, symbol: Symbol) -> Decimal | None:
        """The latest close seen for `symbol`."""
        book = self._symbols.get(symbol)
        if book is None or not book.bars:
            return None
        return book.closes[book.bars % RECENT_BARS]

    def record(self, intent: OrderIntent) -> None:
        """Starts following a decided intent; holds are counted but have nothing to score."""
        score = self.score(intent.agent_id)
        score.intents += 1
        sign = _SIGN.get(intent.action)
        if sign is None:
            return
        book = self._book(intent.symbol)
        horizon = self._config.horizon_bars
        # Positional (in field order): this runs for every decided intent.
        pending = _Pending(
            score,
            intent.signal_id,
            sign,
            intent.quantity,
            intent.confidence,
            intent.reference_price,
            horizon,
        )
        number = self._seen.get(intent.signal_id)
        if number is not None and book.bars > number:
            # Bars of its symbol arrived after its own before its window closed: they count.
            late = book.bars - number
            if late < horizon:
                pending.bars_left = horizon - late
            elif late - horizon < RECENT_BARS:
                # Its horizon bar has passed: judged on that bar's close, now.
                self._judge(pending, book.closes[(number + horizon) % RECENT_BARS])
                return
        book.pending.append(pending)

    def record_swing(self, agent_id: AgentId) -> None:
        """Counts a decision whose action this agent's vote changed."""
        self.score(agent_id).swung += 1

    def on_bar(self, symbol: Symbol, signal_id: SignalId, close: Decimal) -> list[AgentId]:
        """Marks `symbol` at `close` and scores the intents whose horizon this bar reaches.

        A redelivered bar is ignored. Returns the agents whose score changed.
        """
        seen = self._seen
        if signal_id in seen:
            return []
        book = self._book(symbol)
        book.bars = seen[signal_id] = number = book.bars + 1
        book.closes[number % RECENT_BARS] = close
        if len(seen) > self._remember:
            seen.popitem(last=False)
        if not book.pending:
            return []
        changed: list[AgentId] = []
        waiting: list[_Pending] = []
        for pending in book.pending:
            # The bar an intent answered is not one of the bars after it.
            if pending.signal_id != signal_id:
                pending.bars_left -= 1
            if pending.bars_left > 0:
                waiting.append(pending)
                continue
            self._judge(pending, close)
            changed.append(pending.score.agent_id)
        book.pending = waiting
        # Usually one intent comes due per bar: a single id needs no dedup or sort.
        return sorted(set(changed)) if len(changed) > 1 else changed

    def _book(self, symbol: Symbol) -> _SymbolBook:
        # Not `setdefault(symbol, _SymbolBook())`: that builds a book on every bar.
        book = self._symbols.get(symbol)
        if book is None:
            book = self._symbols[symbol] = _SymbolBook()
        return book

    def _judge(self, pending: _Pending, close: Decimal) -> None:
        move = close - pending.reference_price
        hit = 1 if move * pending.sign > 0 else 0
        score = pending.score
        score.scored += 1
        score.hits += hit
        score.pnl += pending.sign * pending.quantity * move
        score.brier_sum += (pending.confidence - hit) ** 2
        decay = self._config.decay
        score.skill = decay * score.skill + (1.0 - decay) * hit
