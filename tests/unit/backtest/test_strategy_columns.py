"""The built-ins' `signals` hook answers exactly what `on_bar` answers, bar by bar.

The backtester's fast path trusts the hook instead of calling `on_bar`, so any difference in
an action or in a confidence's last bit would change trades; these tests compare both on real
files from the shared data folder and on generated series (ties, flat runs, tiny moves).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atp.agents.registry import build_strategy
from atp.agents.strategy import BarColumns
from atp.core.enums import Action
from atp.core.events import MarketSignal
from atp.core.ids import Symbol, signal_id_for
from atp.marketdata.catalog import load_bars
from atp.services.settings import AtpSettings

START = datetime(2024, 1, 2, 5, tzinfo=UTC)


def series(closes: list[float]) -> list[MarketSignal]:
    """Daily bars with the given closes (open, high and low equal to the close)."""
    bars = []
    for index, close in enumerate(closes):
        timestamp = START + timedelta(days=index)
        price = Decimal(str(close))
        bars.append(
            MarketSignal(
                signal_id=signal_id_for(Symbol("AAA"), "1d", timestamp.isoformat()),
                symbol=Symbol("AAA"),
                timeframe="1d",
                timestamp=timestamp,
                open=price,
                high=price,
                low=price,
                close=price,
                volume=Decimal(1000),
                feed="test",
            )
        )
    return bars


CODES = {Action.BUY: 1, Action.SELL: -1, Action.HOLD: 0}

CASES: list[tuple[str, dict[str, Any]]] = [
    ("sma_crossover", {"fast": 10, "slow": 30}),
    ("sma_crossover", {"fast": 3, "slow": 7, "long_only": False}),
    ("sma_crossover", {"fast": 20, "slow": 50}),
    ("momentum", {"lookback": 20, "threshold": 0.05}),
    ("momentum", {"lookback": 3, "threshold": 0.01}),
    ("mean_reversion", {"window": 20, "entry_z": 1.5}),
    ("mean_reversion", {"window": 7, "entry_z": 0.8}),
]

REAL_FILES = [
    "pairs_trading_system/AAPL.csv",
    "pairs_trading_system/NVDA.csv",
    "mag7/TSLA.csv",
    "pairs_trading_system/COST.csv",
]


def columns_of(bars: list[MarketSignal]) -> BarColumns:
    def column(name: str) -> np.ndarray:
        return np.array([float(getattr(b, name)) for b in bars], dtype=np.float64)

    return BarColumns(
        column("open"), column("high"), column("low"), column("close"), column("volume")
    )


def assert_same_answers(name: str, params: dict[str, Any], bars: list[MarketSignal]) -> int:
    """Asserts hook == on_bar on every bar; returns how many bars answered buy or sell."""
    hook = build_strategy(name, params).signals(columns_of(bars))
    assert hook is not None
    stepped = build_strategy(name, params)
    trades = 0
    for index, bar in enumerate(bars):
        answer = stepped.on_bar(bar)
        code = 0 if answer is None else CODES[answer.action]
        assert hook.action[index] == code, (name, params, index, answer)
        if code:
            trades += 1
            # Bit for bit: the confidence feeds the vote.
            assert hook.confidence[index] == answer.confidence, (name, index)
    return trades


@pytest.mark.parametrize("relative", REAL_FILES)
@pytest.mark.parametrize(("name", "params"), CASES)
def test_signals_hook_equals_on_bar_on_real_files(
    relative: str, name: str, params: dict[str, Any]
) -> None:
    bars = list(load_bars(AtpSettings().data_dir / relative).bars)
    assert len(bars) > 1000
    trades = assert_same_answers(name, params, bars)
    assert trades > 0  # the comparison covered real buy and sell answers


prices = st.lists(
    st.one_of(
        st.sampled_from([100.0, 100.01, 99.99, 100.5]),  # repeats: ties and flat windows
        st.floats(min_value=0.01, max_value=10_000, allow_nan=False, allow_infinity=False),
    ),
    min_size=0,
    max_size=160,
)


@settings(max_examples=150, deadline=None)
@given(closes=prices, case=st.sampled_from(CASES))
def test_signals_hook_equals_on_bar_on_generated_series(
    closes: list[float], case: tuple[str, dict[str, Any]]
) -> None:
    name, params = case
    assert_same_answers(name, params, series([round(c, 4) for c in closes]))


def test_a_strategy_without_the_hook_says_so() -> None:
    from atp.agents.example import ExampleBreakout

    assert ExampleBreakout().signals(columns_of(series([1.0, 2.0]))) is None
