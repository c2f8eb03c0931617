"""Column versions of `atp.agents.indicators.RollingWindow`, bit for bit.

The built-ins' `signals` hooks must answer exactly what `on_bar` answers, so the running sums
are rebuilt with the very float operations `RollingWindow.push` performs, in the same order:
while filling, `sum += value`; once full, `sum -= oldest` then `sum += value`; and every
`window` pushes the sum is replaced by `math.fsum` of the window. `numpy.add.accumulate` adds
strictly left to right, so accumulating the interleaved steps (-oldest, +value) of each block
of `window` pushes from the block's fsum reproduces every intermediate rounding.
"""

from __future__ import annotations

import math

import numpy as np

from atp.agents.strategy import FloatColumn


def running_sums(values: FloatColumn, window: int) -> FloatColumn:
    """The `_sum` of a `RollingWindow(window)` after each push of `values` (same length).

    Pass `values * values` to get its `_sum_sq`.
    """
    n = len(values)
    sums = np.empty(n, dtype=np.float64)
    if n == 0:
        return sums
    filling = min(n, window - 1)
    # Pushes 1..window-1: a plain left-to-right sum from 0.0 (0.0 + v0 == v0 exactly).
    sums[:filling] = np.add.accumulate(values[:filling])
    if n < window:
        return sums
    listed = values.tolist()
    resets = n // window  # pushes window, 2*window, ... end in an fsum of the window
    bases = np.array(
        [math.fsum(listed[k * window : (k + 1) * window]) for k in range(resets)],
        dtype=np.float64,
    )
    sums[window - 1 :: window] = bases
    # Block k (k >= 1) holds pushes k*window+1 .. (k+1)*window - 1, each (s - oldest) + value.
    blocks = (n - window) // window + (1 if (n - window) % window else 0)
    if blocks == 0:
        return sums
    steps = np.zeros((blocks, 2 * window - 1), dtype=np.float64)
    for offset in range(1, window):
        first = window + offset - 1  # 0-based index of push k*window + offset for k = 1
        newest = values[first::window][:blocks]
        oldest = values[first - window :: window][: len(newest)]
        steps[: len(newest), 2 * offset - 1] = -oldest
        steps[: len(newest), 2 * offset] = newest
    steps[:, 0] = bases[:blocks]
    accumulated = np.add.accumulate(steps, axis=1)
    for offset in range(1, window):
        first = window + offset - 1
        count = len(sums[first::window][:blocks])
        sums[first::window][:count] = accumulated[:count, 2 * offset]
    return sums
