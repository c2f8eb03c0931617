"""Inline SVG line charts for the backtest report: readable axes, date ticks, fill markers.

Drawn by hand so the report needs no plotting library, fetches nothing and is byte-identical
for identical runs. Choices a reader of the report can rely on:

* The x axis is the run's bar calendar, one step per bar, so nights, weekends and holidays take
  no room (minute bars would otherwise be mostly gaps). Date ticks sit on the first bar of each
  year, month, day or hour, whichever gives a handful of labels over the run's span.
* The y axis spans the data with a 4% margin and has round ticks (1, 2, 2.5 or 5 times a power
  of ten) inside it; the left margin is as wide as its longest label, so 8-digit equity reads
  in full.
* A series longer than the plot is wide keeps each pixel column's first, lowest, highest and
  last value: the picture is the same, the file stays small for 1M bars.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from html import escape
from itertools import pairwise

from atp.core.enums import Side

WIDTH = 960
_RIGHT = 16
_TOP = 10
_BOTTOM = 24
_FONT_PX = 11
# Advance widths in em of a sans-serif face (DejaVu Sans, the widest common one): digits and
# most signs 0.64, separators 0.32; used to size the margin the y labels need.
_NARROW = frozenset(",. ")
_TICK_GAP = 12  # px at least between two date labels
_MAX_DATE_TICKS = 12
_INTRADAY = timedelta(hours=20)


@dataclass(frozen=True, slots=True)
class Line:
    """One series of a chart: its times (on the chart's calendar) and values."""

    times: Sequence[datetime]
    values: Sequence[float]
    color: str
    label: str
    dashed: bool = False
    fill: bool = False


@dataclass(frozen=True, slots=True)
class Marker:
    """A fill drawn on a chart: a triangle up for a buy, down for a sell, with a tooltip."""

    moment: datetime
    value: float
    side: Side
    tooltip: str


@dataclass(frozen=True, slots=True)
class Chart:
    """A chart over `calendar` (the run's bar times): lines, markers and a unit for its axis."""

    calendar: Sequence[datetime]
    lines: Sequence[Line]
    height: int = 240
    markers: Sequence[Marker] = ()
    unit: str = ""
    aria_label: str = "chart"
    # (bar index, label) of the date ticks; default: `date_ticks(calendar)`, read in UTC.
    ticks: Sequence[tuple[int, str]] | None = None


def nice_step(span: float, count: int) -> float:
    """The 1, 2, 2.5 or 5 times a power of ten near `span / count` (up to 25% more ticks)."""
    raw = span / max(count, 1)
    if raw <= 0 or not math.isfinite(raw):
        return 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= factor * power * 1.25:
            return factor * power
    return 10.0 * power


def value_axis(low: float, high: float, count: int = 4) -> tuple[float, float, list[float]]:
    """The axis of values in [low, high]: its bounds (the data with a 4% margin) and at least
    two ticks at a nice step inside them."""
    if high <= low:
        pad = abs(low) * 0.01 or 1.0
        low, high = low - pad, high + pad
    margin = (high - low) * 0.04
    bottom, top = low - margin, high + margin
    step = nice_step(high - low, count)
    while True:
        first = math.ceil(bottom / step - 1e-9)
        last = math.floor(top / step + 1e-9)
        if last > first:
            return bottom, top, [i * step for i in range(first, last + 1)]
        step /= 2


def axis_label(value: float, step: float, unit: str = "") -> str:
    """`value` with thousands separators and as many decimals as the tick step needs."""
    decimals = 0
    while decimals < 6 and abs(step * 10**decimals - round(step * 10**decimals)) > 1e-6:
        decimals += 1
    text = f"{value:,.{decimals}f}"
    if text.lstrip("-").strip("0.,") == "":
        text = text.lstrip("-")  # no "-0"
    return text + unit


def label_width(text: str) -> float:
    """The width in px an axis label takes at the charts' font size (a generous estimate)."""
    return sum(0.32 if char in _NARROW else 0.64 for char in text) * _FONT_PX


_Key = Callable[[datetime], Hashable]


def _label_year(moment: datetime) -> str:
    return str(moment.year)


def _label_month(moment: datetime) -> str:
    return moment.strftime("%b %Y")


def _label_day(moment: datetime) -> str:
    return moment.date().isoformat()


def _label_intraday(moment: datetime) -> str:
    return moment.strftime("%H:%M")


def _minutes(n: int) -> _Key:
    return lambda m: (m.date(), (m.hour * 60 + m.minute) // n)


def _hours(n: int) -> _Key:
    return lambda m: (m.date(), m.hour // n)


def _days(n: int) -> _Key:
    return lambda m: m.toordinal() // n


def _months(n: int) -> _Key:
    return lambda m: (m.year, (m.month - 1) // n)


def _years(n: int) -> _Key:
    return lambda m: m.year // n


# Tick periods, finest first: (bucket of a moment, label of the bar that opens a bucket).
_PERIODS: tuple[tuple[_Key, Callable[[datetime], str]], ...] = (
    *((_minutes(n), _label_intraday) for n in (1, 5, 15, 30)),
    *((_hours(n), _label_intraday) for n in (1, 2, 3, 6)),
    *((_days(n), _label_day) for n in (1, 2, 7, 14)),
    *((_months(n), _label_month) for n in (1, 2, 3, 6)),
    *((_years(n), _label_year) for n in (1, 2, 5, 10, 20, 50, 100)),
)


def _in_zone(key: _Key, zone: tzinfo) -> _Key:
    return lambda moment: key(moment.astimezone(zone))


def _openings(times: Sequence[datetime], key: _Key, limit: int, zone: tzinfo) -> list[int] | None:
    """Indexes of the bars that open a new bucket, or None once there are more than `limit`."""
    if zone is not UTC:  # the calendar is in UTC already
        key = _in_zone(key, zone)
    found: list[int] = []
    previous = key(times[0])
    for index in range(1, len(times)):
        current = key(times[index])
        if current != previous:
            found.append(index)
            if len(found) > limit:
                return None
            previous = current
    return found


def date_ticks(
    times: Sequence[datetime], zone: tzinfo = UTC, max_ticks: int = _MAX_DATE_TICKS
) -> list[tuple[int, str]]:
    """(bar index, label) of the date ticks of a calendar, read in `zone`.

    The finest period that gives at most `max_ticks` ticks wins. A day change on an intraday
    axis is labelled with its date, not its clock time. With fewer than two period openings
    (a short run) the first and last bars are labelled instead.
    """
    if not times:
        return []
    for key, label in _PERIODS:
        openings = _openings(times, key, max_ticks, zone)
        if openings is None:
            continue
        if len(openings) < 2:
            break
        ticks = []
        for index in openings:
            moment = times[index].astimezone(zone)
            new_day = moment.date() != times[index - 1].astimezone(zone).date()
            text = _label_day(moment) if label is _label_intraday and new_day else label(moment)
            ticks.append((index, text))
        return ticks
    end = len(times) - 1
    fmt = "%Y-%m-%d %H:%M" if is_intraday(times) else "%Y-%m-%d"
    first, last = times[0].astimezone(zone), times[end].astimezone(zone)
    return [(0, first.strftime(fmt))] + ([(end, last.strftime(fmt))] if end else [])


def is_intraday(calendar: Sequence[datetime]) -> bool:
    """Whether bars fall closer than a day apart (daily bars, stamped at midnight exchange
    time, sit at 04:00 or 05:00 UTC as daylight saving time comes and goes)."""
    return any(later - earlier < _INTRADAY for earlier, later in pairwise(calendar))


def _decimated(points: list[tuple[int, float]], columns: int) -> list[tuple[int, float]]:
    """Per pixel column: the first, lowest, highest and last point, in bar order."""
    if len(points) <= 4 * columns:
        return points
    span = points[-1][0] - points[0][0] or 1
    kept: list[tuple[int, float]] = []
    bucket: list[tuple[int, float]] = []
    column = -1
    for point in points:
        current = (point[0] - points[0][0]) * columns // span
        if current != column and bucket:
            kept.extend(_extremes(bucket))
            bucket = []
        column = current
        bucket.append(point)
    kept.extend(_extremes(bucket))
    return kept


def _extremes(bucket: list[tuple[int, float]]) -> list[tuple[int, float]]:
    low = min(bucket, key=lambda p: p[1])
    high = max(bucket, key=lambda p: p[1])
    return sorted({bucket[0], low, high, bucket[-1]})


def _indexes(calendar: Sequence[datetime], times: Sequence[datetime]) -> Sequence[int]:
    """Where each of `times` sits on the calendar (its bar, or the next one)."""
    if times is calendar:
        return range(len(times))
    last = max(len(calendar) - 1, 0)
    return [min(bisect_left(calendar, t), last) for t in times]


@dataclass(frozen=True, slots=True)
class _Frame:
    """The plot area of one chart and how bars and values map into it."""

    left: float
    height: int
    low: float
    high: float
    last_index: int

    @property
    def inner_w(self) -> float:
        return WIDTH - self.left - _RIGHT

    @property
    def bottom(self) -> float:
        return self.height - _BOTTOM

    def x_of(self, index: float) -> float:
        return self.left + index / self.last_index * self.inner_w

    def y_of(self, value: float) -> float:
        inner_h = self.height - _TOP - _BOTTOM
        return _TOP + (self.high - value) / (self.high - self.low) * inner_h


def _y_axis(frame: _Frame, ticks: Sequence[float], labels: Sequence[str]) -> list[str]:
    parts = []
    right = WIDTH - _RIGHT
    for value, text in zip(ticks, labels, strict=True):
        y = frame.y_of(value)
        parts.append(
            f'<line x1="{frame.left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
        )
        parts.append(
            f'<text x="{frame.left - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">'
            f"{escape(text)}</text>"
        )
    return parts


def _x_axis(frame: _Frame, ticks: Sequence[tuple[int, str]]) -> list[str]:
    parts = []
    placed, placed_width = -math.inf, 0.0
    for index, text in ticks:
        x, width = frame.x_of(index), label_width(text)
        if x - placed < (placed_width + width) / 2 + _TICK_GAP:
            continue  # labels never overlap
        placed, placed_width = x, width
        anchor = "start" if index == 0 else "end" if index == frame.last_index else "middle"
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{_TOP}" y2="{frame.bottom}" class="grid"/>'
            f'<text x="{x:.1f}" y="{frame.bottom + 16}" class="axis" text-anchor="{anchor}">'
            f"{escape(text)}</text>"
        )
    return parts


def _line(frame: _Frame, calendar: Sequence[datetime], line: Line) -> list[str]:
    indexes = _indexes(calendar, line.times)
    points = _decimated(list(zip(indexes, line.values, strict=True)), round(frame.inner_w))
    if not points:
        return []
    path = " ".join(f"{frame.x_of(i):.1f},{frame.y_of(v):.1f}" for i, v in points)
    parts = []
    if line.fill:
        zero = frame.y_of(min(max(0.0, frame.low), frame.high))
        first, last = frame.x_of(points[0][0]), frame.x_of(points[-1][0])
        parts.append(
            f'<polygon points="{first:.1f},{zero:.1f} {path} {last:.1f},{zero:.1f}" '
            f'fill="{line.color}" fill-opacity="0.2" stroke="none"/>'
        )
    dash = ' stroke-dasharray="5 4"' if line.dashed else ""
    parts.append(
        f'<polyline points="{path}" fill="none" stroke="{line.color}" '
        f'stroke-width="1.4"{dash}><title>{escape(line.label)}</title></polyline>'
    )
    return parts


def _markers(frame: _Frame, calendar: Sequence[datetime], markers: Sequence[Marker]) -> list[str]:
    parts = []
    indexes = _indexes(calendar, [m.moment for m in markers])
    for index, marker in zip(indexes, markers, strict=True):
        x, y = frame.x_of(index), frame.y_of(marker.value)
        # A buy points up from below the line, a sell down from above it.
        tip, wide, css = (2, 11, "buy") if marker.side is Side.BUY else (-2, -11, "sell")
        shape = f"{x:.1f},{y + tip:.1f} {x - 5:.1f},{y + wide:.1f} {x + 5:.1f},{y + wide:.1f}"
        parts.append(
            f'<polygon points="{shape}" class="{css}">'
            f"<title>{escape(marker.tooltip)}</title></polygon>"
        )
    return parts


def render_chart(chart: Chart) -> str:
    """The chart as one `<svg>` element (inline, scales to the page width)."""
    calendar = chart.calendar
    values = [v for line in chart.lines for v in line.values if math.isfinite(v)]
    values += [m.value for m in chart.markers if math.isfinite(m.value)]
    if not calendar or not values:
        return "<p class='meta'>no data</p>"
    bottom, top, ticks = value_axis(min(values), max(values), max(3, chart.height // 40))
    labels = [axis_label(v, ticks[1] - ticks[0], chart.unit) for v in ticks]
    left = 12 + math.ceil(max(label_width(text) for text in labels))
    frame = _Frame(left, chart.height, bottom, top, max(len(calendar) - 1, 1))
    parts = [
        f'<svg viewBox="0 0 {WIDTH} {chart.height}" role="img" '
        f'aria-label="{escape(chart.aria_label)}">',
        *_y_axis(frame, ticks, labels),
        *_x_axis(frame, date_ticks(calendar) if chart.ticks is None else chart.ticks),
        f'<rect x="{left}" y="{_TOP}" width="{frame.inner_w}" '
        f'height="{frame.bottom - _TOP}" class="frame"/>',
    ]
    for line in chart.lines:
        parts.extend(_line(frame, calendar, line))
    parts.extend(_markers(frame, calendar, chart.markers))
    parts.append("</svg>")
    return "\n".join(parts)
