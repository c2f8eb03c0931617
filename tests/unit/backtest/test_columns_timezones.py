"""The column reader's local-to-UTC conversion equals the catalog's, across DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from atp.backtest.columns import _to_utc, to_ns
from atp.marketdata.timeparse import exchange_zone


@pytest.mark.parametrize(
    "timezone", ["America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Tokyo", "UTC"]
)
def test_every_wall_clock_time_converts_as_attaching_the_zone_does(timezone: str) -> None:
    zone = exchange_zone(timezone)
    start = datetime(2019, 1, 1)  # naive: wall-clock times, as a file holds them
    # Every 37 minutes over three years: every DST change, both ways, on mixed and plain days.
    local = [start + timedelta(minutes=37 * step) for step in range(3 * 365 * 24 * 60 // 37)]
    naive_ns = np.array([to_ns(moment.replace(tzinfo=UTC)) for moment in local], dtype=np.int64)

    converted = _to_utc(naive_ns, timezone)

    expected = [to_ns(moment.replace(tzinfo=zone).astimezone(UTC)) for moment in local]
    assert converted.tolist() == expected
