"""An intent is judged on the horizon-th bar after the bar it answered, whenever its window closed.

Live, the meta-agent reads bars and intents from two consumers: under load a window may close
after the next bars of its symbol have been read. Scores used to count the horizon from the
close of the window, so the same run scored differently depending on timing (measured under
load: 29 of 202 windows closed 1-3 bars late, and an agent's P&L read -1,181 live against
-3,920 from the same events replayed), and no restart could reproduce them.
"""

from __future__ import annotations

import random
from collections import defaultdict
from decimal import Decimal

from atp.core.events import OrderIntent
from atp.core.ids import AgentId, SignalId, Symbol
from atp.meta.config import ScoringConfig
from atp.meta.scoring import AgentScorer

AAPL = Symbol("AAPL")


def test_an_intent_recorded_after_later_bars_counts_them_toward_its_horizon(build) -> None:
    scorer = AgentScorer(ScoringConfig(horizon_bars=2))
    scorer.on_bar(AAPL, SignalId("b1"), Decimal(100))
    scorer.on_bar(AAPL, SignalId("b2"), Decimal(104))  # read before b1's window closed
    scorer.record(build.intent("bull", "buy", "10", signal="b1", price="100"))
    scorer.on_bar(AAPL, SignalId("b3"), Decimal(96))  # two bars after b1: judged here
    bull = scorer.score(AgentId("bull"))
    assert (bull.scored, bull.hits, bull.pnl) == (1, 0, Decimal(-40))


def test_an_intent_recorded_after_its_horizon_bar_is_judged_on_that_bar(build) -> None:
    scorer = AgentScorer(ScoringConfig(horizon_bars=2))
    for n, close in enumerate(("100", "101", "95", "120"), start=1):
        scorer.on_bar(AAPL, SignalId(f"b{n}"), Decimal(close))
    scorer.record(build.intent("bull", "buy", "10", signal="b1", price="100"))
    bull = scorer.score(AgentId("bull"))
    assert (bull.scored, bull.hits, bull.pnl) == (1, 0, Decimal(-50)), "b3's close, not b4's"


def test_scores_do_not_depend_on_how_late_windows_close(build) -> None:
    rng = random.Random(20240102)
    horizon = 5
    symbols = ("AAPL", "MSFT")
    on_time = AgentScorer(ScoringConfig(horizon_bars=horizon, decay=0.7))
    delayed = AgentScorer(ScoringConfig(horizon_bars=horizon, decay=0.7))
    closing: dict[int, list[OrderIntent]] = defaultdict(list)
    for index in range(600):
        symbol = symbols[index % len(symbols)]
        signal, close = f"bar-{index}", Decimal(10_000 + rng.randint(-500, 500)) / 100
        window = [
            build.intent(
                agent,
                rng.choice(("buy", "sell", "hold")),
                str(rng.randint(1, 50)),
                confidence=round(rng.random(), 3),
                symbol=symbol,
                signal=signal,
                price=str(close),
            )
            for agent in ("momentum", "mean_reversion", "sma_crossover")
        ]
        for scorer in (on_time, delayed):
            scorer.on_bar(Symbol(symbol), SignalId(signal), close)
        for intent in window:
            on_time.record(intent)
        # This window closes after 0 to horizon - 1 further bars of its symbol were read.
        closing[index + len(symbols) * rng.randint(0, horizon - 1)].extend(window)
        for intent in closing.pop(index, []):
            delayed.record(intent)
    for index in sorted(closing):  # the last windows close after the last bar
        for intent in closing[index]:
            delayed.record(intent)
    assert any(s.scored for s in on_time.scores().values())
    assert delayed.scores() == on_time.scores()
