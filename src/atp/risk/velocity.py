"""Order velocity: sliding one-second and one-minute windows, per agent and in total."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
TOTAL = "*"


class VelocityWindows:
    """Times of approved orders, per agent key and in total, for the last minute."""

    def __init__(self) -> None:
        self._times: dict[str, deque[datetime]] = {}

    def record(self, agent: str, now: datetime) -> None:
        """Counts one approved order of `agent` (and of the total) at `now`."""
        for key in (agent, TOTAL):
            self._times.setdefault(key, deque()).append(now)

    def counts(self, agent: str, now: datetime) -> tuple[int, int, int, int]:
        """Orders in the last second and minute: (agent/s, agent/min, total/s, total/min)."""
        agent_second, agent_minute = self._count(agent, now)
        total_second, total_minute = self._count(TOTAL, now)
        return agent_second, agent_minute, total_second, total_minute

    def _count(self, key: str, now: datetime) -> tuple[int, int]:
        times = self._times.get(key)
        if not times:
            return 0, 0
        minute_start = now - MINUTE
        while times and times[0] <= minute_start:
            times.popleft()
        second_start = now - SECOND
        in_second = 0
        # The newest entries are at the right; walk back only over the last second.
        for moment in reversed(times):
            if moment <= second_start:
                break
            in_second += 1
        return in_second, len(times)
