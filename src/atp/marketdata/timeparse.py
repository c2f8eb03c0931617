"""Parses the timestamps of bar files into aware UTC datetimes.

Accepted: ISO 8601 dates and date-times (`2024-01-02`, `2021-08-23 09:30:00-04:00`,
`2015-09-23T20:57:42.146`, `2021-01-08T00:00:00.278Z`) and US dates (`11/5/2019`,
`11/5/2019 9:30`). A timestamp with an offset keeps it; a naive one is read in the exchange
time zone the caller names (never guessed from the machine). A date without a time stands for
the session of that date and is stamped at midnight exchange time, converted to UTC
(2024-01-02 in New York becomes 2024-01-02T05:00:00Z); `session_date` turns it back.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from atp.core.errors import InvalidInput

_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")


def exchange_zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`, or InvalidInput naming what was expected."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(
            f"timezone: expected an IANA time zone such as America/New_York, found {name!r}"
        ) from exc


def parse_timestamp(text: str, zone: tzinfo) -> tuple[datetime, bool]:
    """Returns the UTC time of `text` and whether it was a date without a time.

    Raises ValueError (the caller adds file, line and column) when `text` is no timestamp.
    """
    text = text.strip()
    date_only = ":" not in text
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        match = _US_DATE.match(text)
        if match is None:
            raise
        month, day, year, hour, minute, second = match.groups()
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=zone,
        )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC), date_only


def session_date(timestamp: datetime, zone: tzinfo) -> date:
    """The exchange date of a bar timestamp (the inverse of daily stamping)."""
    return timestamp.astimezone(zone).date()
