"""O(1)-per-bar indicators for strategies: rolling mean and deviation over float closes.

Floats are fine here (indicator maths, never booked). Running sums drift, so each window is
re-summed exactly with `math.fsum` once every `window` pushes: amortised O(1), bounded error.
"""

from __future__ import annotations

import math
from collections import deque


class RollingWindow:
    """The last `window` values with their running sum and sum of squares."""

    __slots__ = ("_pushes", "_sum", "_sum_sq", "_values", "window")

    def __init__(self, window: int) -> None:
        if window < 1:
            raise ValueError(f"window must be >= 1, found {window}")
        self.window = window
        self._values: deque[float] = deque(maxlen=window)
        self._sum = 0.0
        self._sum_sq = 0.0
        self._pushes = 0

    def push(self, value: float) -> None:
        """Adds `value`, dropping the oldest once the window is full."""
        values = self._values
        if len(values) == self.window:
            oldest = values[0]
            self._sum -= oldest
            self._sum_sq -= oldest * oldest
        values.append(value)
        self._sum += value
        self._sum_sq += value * value
        self._pushes += 1
        if self._pushes % self.window == 0:
            self._sum = math.fsum(values)
            self._sum_sq = math.fsum(v * v for v in values)

    @property
    def full(self) -> bool:
        """True once `window` values were pushed."""
        return len(self._values) == self.window

    def __len__(self) -> int:
        return len(self._values)

    @property
    def oldest(self) -> float:
        """The oldest value in the window."""
        return self._values[0]

    def mean(self) -> float:
        """The mean of the values in the window."""
        return self._sum / len(self._values)

    def std(self) -> float:
        """The population standard deviation (ddof=0) of the values in the window."""
        n = len(self._values)
        mean = self._sum / n
        return math.sqrt(max(0.0, self._sum_sq / n - mean * mean))
