"""Exact ties between two moving averages: the sign of a crossover never rests on float noise.

Prices are decimals (a 4-decimal synthetic walk, a cent tick) and the fast and slow averages
of such prices are often exactly equal. In floats their difference is then a few ulps of
noise whose sign depends on the order of the additions: a running sum and `math.fsum` disagree,
so one engine sees a cross a bar earlier than another (thousands of times on a 200,000-bar
4-decimal walk). A crossover must not depend on that, so a difference within
`TIE_TOLERANCE` of the slow average (far below any real difference of decimal prices, far
above float error) is decided exactly: each close is read as the shortest decimal that prints
it (`repr`, the price text for up to 15 significant digits) and the difference is computed in
rationals. An exact tie becomes 0.0 (touching is no cross); otherwise the float difference is
kept when its sign is right, else replaced by the exact difference rounded to a float.

`settle_difference` does it for one bar (`on_bar`), `settle_differences` for a column (the
`signals` hook), with the same result bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from atp.agents.strategy import FloatColumn

TIE_TOLERANCE = 1e-9  # relative to the slow average; float error is ~1e-15, ticks ~1e-7
_MAX_DECIMALS = 10
_MAX_SCALED = 1e15  # 15 significant digits: the scaled integer is the repr's decimal
_INT64_HEADROOM = 2**62


def exact_difference(window: Sequence[float], fast: int, slow: int) -> Fraction:
    """Mean of the last `fast` minus mean of the last `slow` values, in exact decimals."""
    values = [Fraction(repr(v)) for v in list(window)[-slow:]]
    return sum(values[-fast:], Fraction(0)) / fast - sum(values, Fraction(0)) / slow


def _settled(diff: float, exact: Fraction) -> float:
    if exact == 0:
        return 0.0
    if diff != 0.0 and (diff > 0.0) == (exact > 0):
        return diff
    return float(exact)


def settle_difference(
    diff: float, window: Sequence[float], fast: int, slow: int, slow_mean: float
) -> float:
    """`diff` (fast mean - slow mean of `window`'s tail), exact when it is a near tie."""
    if abs(diff) > TIE_TOLERANCE * abs(slow_mean):
        return diff
    return _settled(diff, exact_difference(window, fast, slow))


def settle_differences(
    closes: FloatColumn, diff: FloatColumn, slow_means: FloatColumn, fast: int, slow: int
) -> FloatColumn:
    """`settle_difference` at every bar from `slow - 1` on (`diff`, `slow_means`: full length).

    Near ties are few; they are decided on closes scaled to integers when every close has at
    most `_MAX_DECIMALS` decimals and 15 significant digits (exact int64 window sums), else
    one by one in rationals.
    """
    out = diff.copy()
    if len(closes) < slow:
        return out
    tail = slice(slow - 1, len(closes))
    near = np.abs(diff[tail]) <= TIE_TOLERANCE * np.abs(slow_means[tail])
    candidates = np.flatnonzero(near) + slow - 1
    if len(candidates) == 0:
        return out
    scaled = _scaled(closes, slow)
    if scaled is None:
        for index in candidates.tolist():
            window = closes[index - slow + 1 : index + 1].tolist()
            out[index] = _settled(float(diff[index]), exact_difference(window, fast, slow))
        return out
    numerators, denominator = _numerators(scaled, candidates, fast, slow)
    signs = np.sign(numerators)
    floats = diff[candidates]
    out[candidates[signs == 0]] = 0.0  # an exact tie
    # A float of the wrong sign (or zero) for a real difference: the exact one, rounded.
    wrong = (signs != 0) & (np.sign(floats) != signs)
    for index, numerator in zip(
        candidates[wrong].tolist(), numerators[wrong].tolist(), strict=True
    ):
        out[index] = float(Fraction(numerator, denominator))
    return out


def _scaled(closes: FloatColumn, slow: int) -> tuple[np.ndarray, int] | None:
    """(closes x 10**k as int64, k) when that is exact for every close, else None."""
    peak = float(np.max(np.abs(closes))) if len(closes) else 0.0
    for decimals in range(_MAX_DECIMALS + 1):
        scale = 10.0**decimals
        if peak * scale >= _MAX_SCALED or peak * scale * slow * slow >= _INT64_HEADROOM:
            return None
        scaled = np.round(closes * scale)
        # Division by an exact power of ten is correctly rounded, as parsing the text was.
        if np.array_equal(scaled / scale, closes):
            return scaled.astype(np.int64), decimals
    return None


def _numerators(
    scaled: tuple[np.ndarray, int], candidates: np.ndarray, fast: int, slow: int
) -> tuple[np.ndarray, int]:
    """Exact (fast mean - slow mean) at `candidates` as numerators over one denominator."""
    integers, decimals = scaled
    # Window sums from a running int64 sum: exact even if the running sum wraps, since
    # each window sum fits (checked in `_scaled`) and int64 arithmetic is modular.
    running = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(integers)])
    ends = candidates + 1
    fast_sums = running[ends] - running[ends - fast]
    slow_sums = running[ends] - running[ends - slow]
    return slow * fast_sums - fast * slow_sums, fast * slow * 10**decimals
