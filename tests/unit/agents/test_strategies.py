"""The built-in strategies answer exactly when their documented rules say so."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atp.agents.example import ExampleBreakout
from atp.agents.registry import STRATEGIES, build_strategy
from atp.agents.strategy import API_VERSION, StrategySignal
from atp.core.enums import Action
from atp.core.errors import InvalidInput
from atp.marketdata.catalog import load_bars
from atp.services.settings import DEFAULT_DATA_DIR

from .bars import series


def _actions(strategy_name: str, params: dict[str, object], closes: list[float]) -> list[str]:
    strategy = build_strategy(strategy_name, params)
    answers = [strategy.on_bar(b) for b in series(closes)]
    return [a.action.value if a is not None else "-" for a in answers]


def _independent_crosses(closes: list[float], fast: int, slow: int) -> list[tuple[int, str]]:
    """Crossings computed from scratch: SMAs by slicing, backtrader's non-zero-difference rule."""
    crosses: list[tuple[int, str]] = []
    last_nonzero = 0.0
    for t in range(slow - 1, len(closes)):
        diff = sum(closes[t - fast + 1 : t + 1]) / fast - sum(closes[t - slow + 1 : t + 1]) / slow
        if abs(diff) < 1e-9:
            diff = 0.0
        if last_nonzero < 0 < diff:
            crosses.append((t, "buy"))
        elif last_nonzero > 0 > diff:
            crosses.append((t, "sell"))
        if diff != 0:
            last_nonzero = diff
    return crosses


def test_sma_crossover_buys_on_the_bar_where_fast_crosses_above_slow() -> None:
    closes = [10.0, 9.0, 8.0, 7.0, 6.0, 7.0, 9.0, 12.0]
    actions = _actions("sma_crossover", {"fast": 2, "slow": 4}, closes)
    # SMA2 - SMA4 at t=3..6: 7.5-8.5, 6.5-7.5, 6.5-7.0, 8.0-7.25: the cross is at t=6.
    assert _independent_crosses(closes, 2, 4) == [(6, "buy")]
    assert [i for i, a in enumerate(actions) if a == "buy"] == [6]


def test_sma_crossover_matches_an_independent_computation_on_real_data() -> None:
    bars = load_bars(DEFAULT_DATA_DIR / "backtrader" / "orcl-1995-2014.txt").bars
    closes = [float(b.close) for b in bars]
    strategy = build_strategy("sma_crossover", {"fast": 10, "slow": 30, "long_only": False})
    got = []
    for t, b in enumerate(bars):
        answer = strategy.on_bar(b)
        if answer is not None and answer.action is not Action.HOLD:
            got.append((t, answer.action.value))
    expected = _independent_crosses(closes, 10, 30)
    assert len(expected) > 100
    assert got == expected


def test_long_only_sma_crossover_never_sells_before_it_bought() -> None:
    # Starts with the fast SMA above the slow one, then crosses down: no position, no sell.
    closes = [1.0, 2.0, 3.0, 4.0, 5.0, 4.0, 2.0, 1.0, 1.0, 3.0, 6.0, 9.0, 4.0, 1.0, 0.5]
    long_only = _actions("sma_crossover", {"fast": 2, "slow": 4}, closes)
    both_ways = _actions("sma_crossover", {"fast": 2, "slow": 4, "long_only": False}, closes)
    first_buy = long_only.index("buy")
    assert "sell" not in long_only[:first_buy]
    assert "sell" in both_ways[:first_buy]
    assert long_only.count("sell") == 1


def test_sma_crossover_answers_hold_while_warming_up() -> None:
    strategy = build_strategy("sma_crossover", {"fast": 2, "slow": 4})
    answers = [strategy.on_bar(b) for b in series([1.0, 2.0, 3.0])]
    assert all(a is not None and a.action is Action.HOLD for a in answers)
    assert answers[0] is not None and "warming up: 1/4" in answers[0].reason
    assert strategy.warmup_bars == 5


def test_mean_reversion_buys_two_deviations_below_the_mean() -> None:
    strategy = build_strategy("mean_reversion", {"window": 5, "entry_z": 1.5})
    answers = [strategy.on_bar(b) for b in series([10, 10, 10, 10, 10, 5])]
    assert answers[4] is None  # zero deviation: no opinion
    # Window [10, 10, 10, 10, 5]: mean 9, population std 2, z = -2.
    last = answers[5]
    assert last is not None and last.action is Action.BUY
    assert math.isclose(last.confidence, 0.5 + 0.5 * (2 / 1.5 - 1))
    assert "-2.00 std" in last.reason


def test_mean_reversion_sells_far_above_the_mean_and_keeps_symbols_apart() -> None:
    strategy = build_strategy("mean_reversion", {"window": 5, "entry_z": 1.5})
    for b in series([10, 10, 10, 10], "AAA") + series([50, 50, 50, 50], "BBB"):
        strategy.on_bar(b)
    answer = strategy.on_bar(series([10, 10, 10, 10, 15], "AAA")[4])
    assert answer is not None and answer.action is Action.SELL


def test_momentum_buys_above_and_sells_below_the_threshold() -> None:
    params = {"lookback": 2, "threshold": 0.05}
    assert _actions("momentum", params, [100, 100, 110, 111, 112, 90]) == [
        "hold",
        "hold",
        "buy",
        "buy",
        "-",
        "sell",
    ]
    strategy = build_strategy("momentum", params)
    answer = [strategy.on_bar(b) for b in series([100, 100, 110])][-1]
    assert answer is not None and math.isclose(answer.confidence, 0.75)


def test_an_unknown_strategy_name_lists_the_known_ones() -> None:
    with pytest.raises(InvalidInput) as caught:
        build_strategy("macd", {})
    for name in ("momentum", "mean_reversion", "sma_crossover"):
        assert name in str(caught.value)


@pytest.mark.parametrize(
    ("name", "params", "fragment"),
    [
        ("sma_crossover", {"fast": 30, "slow": 10}, "must be shorter"),
        ("sma_crossover", {"fsat": 3}, "fsat: Extra inputs are not permitted"),
        ("momentum", {"threshold": -1}, "threshold"),
    ],
)
def test_bad_parameters_are_refused_with_the_field_named(
    name: str, params: dict[str, object], fragment: str
) -> None:
    with pytest.raises(InvalidInput, match=fragment):
        build_strategy(name, params)


def test_every_registered_strategy_speaks_plugin_api_version_one() -> None:
    assert API_VERSION == 1
    assert {cls.API_VERSION for cls in STRATEGIES.values()} == {1}


def test_the_example_breakout_buys_a_close_above_the_channel() -> None:
    strategy = ExampleBreakout.from_params({"window": 3})
    answers = [strategy.on_bar(b) for b in series([5, 6, 5, 7, 4])]
    assert [a.action.value if a else "-" for a in answers] == [
        "hold",
        "hold",
        "hold",
        "buy",
        "sell",
    ]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(min_value=1, max_value=1000), min_size=1, max_size=80))
def test_strategies_only_ever_answer_valid_signals(closes: list[float]) -> None:
    for name in STRATEGIES:
        strategy = build_strategy(name, {})
        for b in series(closes):
            answer = strategy.on_bar(b)
            assert answer is None or isinstance(answer, StrategySignal)
            assert answer is None or 0.0 <= answer.confidence <= 1.0
