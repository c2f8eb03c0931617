"""Pure parts of the backtest report: axis ticks, quantities, the data folder's notes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from atp.backtest.report import buy_and_hold, quantity_text
from atp.backtest.report_charts import axis_label, date_ticks, value_axis
from atp.backtest.report_sources import folder_notes

NEW_YORK = ZoneInfo("America/New_York")


def _weekdays(first: datetime, count: int) -> list[datetime]:
    days, moment = [], first
    while len(days) < count:
        if moment.weekday() < 5:
            days.append(moment)
        moment += timedelta(days=1)
    return days


@pytest.mark.parametrize(
    ("quantity", "shown"),
    [
        (Decimal("269.000000"), "269"),
        (Decimal("107497"), "107,497"),
        (Decimal("0.1234560"), "0.123456"),
        (Decimal("1250.5"), "1,250.5"),
        (Decimal("1E+3"), "1,000"),
    ],
)
def test_quantities_read_as_a_trader_writes_them(quantity: Decimal, shown: str) -> None:
    assert quantity_text(quantity) == shown


def test_value_axis_of_8_digit_equity_has_round_ticks_inside_the_data_margin() -> None:
    bottom, top, ticks = value_axis(8_804_852.0, 20_670_480.0, count=5)
    assert bottom < 8_804_852.0 and top > 20_670_480.0
    assert all(bottom <= t <= top for t in ticks) and len(ticks) >= 3
    steps = {round(b - a) for a, b in pairwise(ticks)}
    assert steps in ({2_000_000}, {2_500_000}, {5_000_000})
    assert [axis_label(t, ticks[1] - ticks[0]) for t in ticks[:1]] == [f"{ticks[0]:,.0f}"]


def test_axis_labels_carry_the_decimals_their_step_needs() -> None:
    assert axis_label(-20.0, 10.0, "%") == "-20%"
    assert axis_label(0.0, 0.5, "%") == "0.0%"
    assert axis_label(-0.0, 1.0) == "0"
    assert axis_label(148.25, 0.25) == "148.25"


def test_six_years_of_daily_bars_get_half_year_ticks_on_each_halfs_first_session() -> None:
    # Daily bars are stamped at midnight New York time, 04:00 or 05:00 UTC.
    days = _weekdays(datetime(2018, 1, 2, 5, tzinfo=UTC), 1509)
    ticks = date_ticks(days)
    halves = [f"{month} {year}" for year in range(2018, 2024) for month in ("Jan", "Jul")]
    assert [label for _, label in ticks] == halves[1:]
    for index, _ in ticks:
        assert days[index].month in (1, 7) and days[index - 1].month in (12, 6)


def test_fourteen_years_of_daily_bars_get_a_tick_every_other_year() -> None:
    days = _weekdays(datetime(2009, 1, 2, 5, tzinfo=UTC), 3800)  # to 2023-07-27
    labels = [label for _, label in date_ticks(days)]
    assert labels == ["2010", "2012", "2014", "2016", "2018", "2020", "2022"]


def test_one_year_of_daily_bars_gets_monthly_ticks() -> None:
    days = _weekdays(datetime(2023, 1, 3, 5, tzinfo=UTC), 250)
    labels = [label for _, label in date_ticks(days)]
    assert labels[0] == "Feb 2023" and labels[-1] == "Dec 2023" and len(labels) == 11


def test_minute_bars_are_ticked_in_exchange_time_with_sessions_labelled_by_date() -> None:
    sessions = []
    for day in (23, 24, 25):
        open_ = datetime(2021, 8, day, 9, 30, tzinfo=NEW_YORK).astimezone(UTC)
        sessions += [open_ + timedelta(minutes=m) for m in range(390)]
    ticks = date_ticks(sessions, NEW_YORK)
    labels = [label for _, label in ticks]
    assert "2021-08-24" in labels and "2021-08-25" in labels
    assert all(label.startswith("2021-08") or "09:30" <= label <= "16:00" for label in labels)
    day_two = labels.index("2021-08-24")
    assert ticks[day_two][0] == 390  # the first bar of the second session


def test_a_run_of_a_few_bars_labels_its_first_and_last_bar() -> None:
    days = _weekdays(datetime(2023, 3, 1, 5, tzinfo=UTC), 2)
    assert date_ticks(days) == [(0, "2023-03-01"), (1, "2023-03-02")]


def test_buy_and_hold_keeps_a_late_listings_share_in_cash_until_its_first_close() -> None:
    days = _weekdays(datetime(2023, 9, 12, 4, tzinfo=UTC), 3)
    closes = {"AAA": [(days[0], 10.0), (days[1], 11.0), (days[2], 12.0)], "NEW": [(days[2], 5.0)]}
    assert buy_and_hold(days, closes, 1000.0) == [1000.0, 1050.0, 1100.0]


README = """
| folder | source repository (commit) | licence of repo |
|---|---|---|
| `mag7/` | github.com/Always-03/Magnificent-7 @ `56a79f1`, folder `data/` | **no licence stated** |
| `pairs/` | github.com/x/y @ `896cbcf` | MIT |

## pairs/ (MIT)

**Adjustment: split-adj. Close (as of January 2025).** Open/High/Low/Close ...

| file | rows | notes |
|---|---|---|
| `AAPL.csv` | 2,515 | Apple, from pairs. |

## mag7/ (no licence stated)

**Adjustment: split-adj. Close as of about March 2024, with no dividend adjustment.**

| file | rows | notes |
|---|---|---|
| `AAPL.csv` | 2,768 | Close 19.61 → 192.53. |
"""


def test_folder_notes_take_the_folders_own_source_licence_adjustment_and_file_row() -> None:
    notes = folder_notes(README, "mag7")
    assert notes.source == "github.com/Always-03/Magnificent-7 @ 56a79f1, folder data/"
    assert notes.licence == "no licence stated"
    assert (
        notes.adjustment == "split-adj. Close as of about March 2024, with no dividend adjustment."
    )
    assert notes.files == (("AAPL.csv", "Close 19.61 → 192.53."),)


def test_folder_notes_of_an_undescribed_folder_are_empty() -> None:
    notes = folder_notes(README, "backtrader")
    assert (notes.source, notes.licence, notes.adjustment, notes.files) == (None, None, None, ())
