"""Order velocity: sliding one-second and one-minute windows, per agent and in total.

Each window is its own queue of times, trimmed from the old end, so counting is amortised O(1)
however many orders are in flight.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
TOTAL = "*"


class VelocityWindows:
    """Times of approved orders, per agent key and in total, for the last second and minute."""

    def __init__(self) -> None:
        self._second: dict[str, deque[datetime]] = {}
        self._minute: dict[str, deque[datetime]] = {}

    def record(self, agent: str, now: datetime) -> None:
        """Counts one approved order of `agent` (and of the total) at `now`."""
        for key in (agent, TOTAL):
            # get-then-create: setdefault would build (and drop) a deque on every call.
            second = self._second.get(key)
            if second is None:
                second = self._second[key] = deque()
                self._minute[key] = deque()
            second.append(now)
            self._minute[key].append(now)

    def counts(self, agent: str, now: datetime) -> tuple[int, int, int, int]:
        """Orders in the last second and minute: (agent/s, agent/min, total/s, total/min)."""
        second_start = now - SECOND
        minute_start = now - MINUTE
        return (
            _trimmed(self._second.get(agent), second_start),
            _trimmed(self._minute.get(agent), minute_start),
            _trimmed(self._second.get(TOTAL), second_start),
            _trimmed(self._minute.get(TOTAL), minute_start),
        )


def _trimmed(times: deque[datetime] | None, start: datetime) -> int:
    if not times:
        return 0
    while times and times[0] <= start:
        times.popleft()
    return len(times)
