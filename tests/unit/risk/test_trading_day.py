"""The trading calendar alone: clock days roll at the zone's midnight, market days follow bars."""

from __future__ import annotations

from datetime import UTC, date, datetime

from atp.risk.config import DailyLossConfig
from atp.risk.trading_day import TradingCalendar

# 2025-01-06 23:30 in New York is 04:30 UTC the next day.
LATE_MONDAY_NY = datetime(2025, 1, 7, 4, 30, tzinfo=UTC)


def test_a_clock_day_is_the_zones_date_and_rolls_at_its_midnight() -> None:
    calendar = TradingCalendar(DailyLossConfig(), now=LATE_MONDAY_NY)

    assert calendar.day == date(2025, 1, 6)
    assert calendar.next_boundary == datetime(2025, 1, 7, 5, tzinfo=UTC)
    assert calendar.roll(datetime(2025, 1, 7, 5, tzinfo=UTC))
    assert calendar.day == date(2025, 1, 7)
    assert calendar.next_boundary == datetime(2025, 1, 8, 5, tzinfo=UTC)


def test_market_days_follow_later_bars_only_and_never_roll_by_the_clock() -> None:
    calendar = TradingCalendar(DailyLossConfig(day_boundary="market"), now=LATE_MONDAY_NY)

    assert not calendar.roll(datetime(2025, 1, 9, 5, tzinfo=UTC))
    assert calendar.follow(datetime(2020, 3, 13, 20, tzinfo=UTC))  # the first bar sets the day
    assert calendar.day == date(2020, 3, 13)
    assert calendar.follow(datetime(2020, 3, 16, 20, tzinfo=UTC))
    assert not calendar.follow(datetime(2020, 3, 13, 20, tzinfo=UTC))  # no rolling back
    assert calendar.day == date(2020, 3, 16)


def test_a_new_zone_keeps_the_day_and_moves_the_boundary_to_its_midnight() -> None:
    calendar = TradingCalendar(DailyLossConfig(), now=LATE_MONDAY_NY)

    calendar.reconfigure(DailyLossConfig(exchange_timezone="Asia/Tokyo"))

    assert calendar.day == date(2025, 1, 6)
    assert calendar.next_boundary == datetime(2025, 1, 6, 15, tzinfo=UTC)
