"""The pure replay core: which batch comes next, where a restart resumes, and when it is due.

Nothing here sleeps or reads a clock. `ReplayPlan` walks a merged series between a start and an
end and remembers a `ReplayCursor` (the time of the last batch replayed), so a service that
persists the cursor resumes after the last bar it published. `Pacer` turns a speed in batch
steps per second into "how many steps are due at monotonic time t", so the caller decides how
to wait.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from atp.core.clock import ensure_utc
from atp.core.errors import InvalidInput
from atp.marketdata.align import BarBatch


@dataclass(frozen=True, slots=True)
class ReplayCursor:
    """How far a replay got: the timestamp of the last batch replayed (None: nothing yet)."""

    last_bar_time: datetime | None = None


class ReplayPlan:
    """Walks `batches` from `start` (minus `warmup_steps` earlier batches) to `end` inclusive.

    A cursor at or past the first batch makes the plan resume right after the cursor's time;
    a cursor before it is ignored (the plan starts at its beginning).
    """

    def __init__(
        self,
        batches: Sequence[BarBatch],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        warmup_steps: int = 0,
        cursor: ReplayCursor | None = None,
    ) -> None:
        if warmup_steps < 0:
            raise InvalidInput(f"warmup_steps: expected >= 0, found {warmup_steps}")
        self._batches = batches
        times = [batch.timestamp for batch in batches]
        first = bisect_left(times, ensure_utc(start, field="start")) if start else 0
        self._first = max(0, first - warmup_steps)
        self._end = bisect_right(times, ensure_utc(end, field="end")) if end else len(times)
        if start is not None and end is not None and end < start:
            raise InvalidInput(f"end: expected on or after start {start}, found {end}")
        self._position = self._first
        if cursor is not None and cursor.last_bar_time is not None:
            resumed = bisect_right(times, cursor.last_bar_time)
            self._position = min(max(self._first, resumed), max(self._end, self._first))

    @property
    def cursor(self) -> ReplayCursor:
        """The cursor to persist: the last batch handed out, or the one before the start."""
        if self._position == 0:
            return ReplayCursor(None)
        return ReplayCursor(self._batches[self._position - 1].timestamp)

    @property
    def done(self) -> bool:
        """True once every batch up to `end` was handed out."""
        return self._position >= self._end

    @property
    def total_steps(self) -> int:
        """Batches between the (warm-up) start and the end."""
        return max(0, self._end - self._first)

    @property
    def steps_done(self) -> int:
        """Batches handed out so far, counting those before a resume."""
        return max(0, self._position - self._first)

    @property
    def first_time(self) -> datetime | None:
        """The timestamp of the first batch of the plan (the warm-up start)."""
        return self._batches[self._first].timestamp if self._first < self._end else None

    def next_batch(self) -> BarBatch | None:
        """Hands out the next batch and moves the cursor past it; None once done."""
        if self.done:
            return None
        batch = self._batches[self._position]
        self._position += 1
        return batch


class Pacer:
    """Pacing maths: at `steps_per_second`, how many steps are due at monotonic time `now`.

    The schedule is anchored at (time, steps done) and re-anchored on every speed change and
    on resume after a pause, so a pause or a slower speed never triggers a burst of catch-up
    steps. `math.inf` means unpaced: everything is due at once.
    """

    def __init__(self, steps_per_second: float, *, now: float, steps_done: int = 0) -> None:
        self._speed = _checked_speed(steps_per_second)
        self._anchor_time = now
        self._anchor_steps = steps_done

    @property
    def steps_per_second(self) -> float:
        """The current speed."""
        return self._speed

    def rebase(self, *, now: float, steps_done: int) -> None:
        """Restarts the schedule from `now` (after a pause): nothing is owed for the gap."""
        self._anchor_time = now
        self._anchor_steps = steps_done

    def set_speed(self, steps_per_second: float, *, now: float, steps_done: int) -> None:
        """Changes the speed from `now` on."""
        self._speed = _checked_speed(steps_per_second)
        self.rebase(now=now, steps_done=steps_done)

    def due(self, *, now: float, steps_done: int) -> int:
        """How many steps should be taken now to be on schedule (0 when ahead)."""
        if math.isinf(self._speed):
            return 1 << 30
        scheduled = self._anchor_steps + math.floor((now - self._anchor_time) * self._speed)
        # The first step is due at once, not after 1/speed seconds.
        return max(0, scheduled + 1 - steps_done)

    def seconds_until_next(self, *, now: float, steps_done: int) -> float:
        """How long to wait until the next step is due (0 when one is due already)."""
        if math.isinf(self._speed):
            return 0.0
        next_at = self._anchor_time + (steps_done - self._anchor_steps) / self._speed
        return max(0.0, next_at - now)

    def lag_seconds(self, *, now: float, steps_done: int) -> float:
        """How far behind schedule the replay is, in seconds (0 when on time)."""
        if math.isinf(self._speed):
            return 0.0
        behind = self.due(now=now, steps_done=steps_done) - 1
        return max(0, behind) / self._speed


def _checked_speed(steps_per_second: float) -> float:
    if not steps_per_second > 0 or math.isnan(steps_per_second):
        raise InvalidInput(f"speed: expected steps per second > 0, found {steps_per_second}")
    return steps_per_second
