"""The trading day the daily loss is counted over, and when the next one begins.

Two ways to tell days apart (`DailyLossConfig.day_boundary`): by the clock passing midnight in
the exchange's time zone (live), or by the market data (replays: a bar of a later day, in that
zone, starts it). This module only keeps the calendar; what a new day does (reset the day's
P&L, release the loss latch, publish the change) is the risk engine's.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from atp.risk.config import DailyLossConfig


class TradingCalendar:
    """The current trading day and the instant (UTC) the next one begins."""

    def __init__(self, config: DailyLossConfig, *, now: datetime) -> None:
        self._zone_name = config.exchange_timezone
        self._zone = ZoneInfo(config.exchange_timezone)
        self.market_days = config.day_boundary == "market"
        self._market_day_seen = False
        self.day = self.day_of(now)
        self.next_boundary = self._boundary_after(self.day)

    def reconfigure(self, config: DailyLossConfig) -> None:
        """Uses a new zone (the current day keeps its date) and day boundary from now on."""
        if config.exchange_timezone != self._zone_name:
            self._zone_name = config.exchange_timezone
            self._zone = ZoneInfo(config.exchange_timezone)
            self.next_boundary = self._boundary_after(self.day)
        self.market_days = config.day_boundary == "market"

    def day_of(self, moment: datetime) -> date:
        """The date of `moment` in the exchange's time zone."""
        return moment.astimezone(self._zone).date()

    def roll(self, now: datetime) -> bool:
        """With clock days, moves to the day of `now`; True if it did (never with market days).

        Called once `now` reached `next_boundary`.
        """
        if self.market_days:
            return False
        self.day = self.day_of(now)
        self.next_boundary = self._boundary_after(self.day)
        return True

    def follow(self, moment: datetime) -> bool:
        """Moves to the day of a bar at `moment` if it is later; True if it did.

        Bars of several symbols may interleave, so an earlier day never rolls back.
        """
        day = self.day_of(moment)
        if self._market_day_seen and day <= self.day:
            return False
        self._market_day_seen = True
        self.day = day
        self.next_boundary = self._boundary_after(day)
        return True

    def _boundary_after(self, day: date) -> datetime:
        # The same instant in UTC: the clock's times are UTC, and comparing two datetimes of
        # one tzinfo skips the zone's offset lookups (this runs on every event).
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=self._zone).astimezone(UTC)
