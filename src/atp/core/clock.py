"""Clocks. The core never reads the wall clock: it is handed one of these."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from atp.core.errors import InvalidInput


class Clock(Protocol):
    """Tells the current time as a timezone-aware UTC datetime."""

    def now(self) -> datetime:
        """Returns the current time."""
        ...


class SystemClock:
    """The wall clock, for live services."""

    def now(self) -> datetime:
        """Returns the wall-clock time in UTC."""
        return datetime.now(UTC)


class SimulatedClock:
    """A clock that moves only when told to, for backtests and tests."""

    def __init__(self, start: datetime) -> None:
        self._now = ensure_utc(start, field="start")

    def now(self) -> datetime:
        """Returns the simulated time."""
        return self._now

    def advance_to(self, moment: datetime) -> None:
        """Moves the clock forward to `moment`; time never goes backwards."""
        moment = ensure_utc(moment, field="moment")
        if moment > self._now:
            self._now = moment


def ensure_utc(moment: datetime, *, field: str = "timestamp") -> datetime:
    """Returns `moment` in UTC; a naive datetime is refused, never guessed."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(f"{field}: expected a timezone-aware datetime, found naive {moment}")
    return moment.astimezone(UTC)
