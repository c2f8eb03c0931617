"""The HTML report of a backtest: what ran on which data, its curves, comparison and fills.

One self-contained file (no scripts, no external assets, nothing fetched) that opens in any
browser, byte-identical for identical runs. From the top: the headline figures; the run's
set-up (strategies with the parameters they ran with, voting, sizing, costs, fill rule, risk
limits) and its data (each symbol's file relative to the data folder, its price basis and
provenance, see `report_sources`); the equity curve against buy and hold with the fills
marked (up to `MAX_MARKED_FILLS`), the drawdown, each symbol's close with its fills (charts in
`report_charts`); the comparison of voting strategies and agents alone; every metric; every
fill.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from html import escape
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from atp.backtest.metrics import drawdown_series
from atp.backtest.model import FillRecord
from atp.backtest.report_charts import (
    Chart,
    Line,
    Marker,
    date_ticks,
    is_intraday,
    render_chart,
)
from atp.backtest.report_sources import data_section, describe_sources, setup_section
from atp.backtest.results import COMPARISON_METRICS, BacktestOutcome
from atp.core.money import normalize
from atp.marketdata.catalog import BarSeries

Closes = dict[str, Sequence[tuple[datetime, float]]]

_PERCENT_METRICS = frozenset(
    {"total_return", "cagr", "annual_volatility", "max_drawdown", "exposure", "win_rate"}
)
_MONEY_METRICS = frozenset({"expectancy"})
_COUNT_METRICS = frozenset({"num_trades", "num_fills", "periods_per_year"})
_LABELS = {
    "cagr": "CAGR",
    "max_drawdown_duration": "longest drawdown",
    "num_trades": "round trips",
    "num_fills": "fills",
    "periods_per_year": "periods a year",
}
# Above this many fills, markers would hide the curves: the charts leave them out.
MAX_MARKED_FILLS = 300
_CARDS = ("total_return", "cagr", "sharpe", "sortino", "max_drawdown", "win_rate")

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1100px;padding:0 1em;
color:#1f2328;line-height:1.35}
h1{font-size:1.35em;margin-bottom:.2em} h2{font-size:1.05em;margin:1.6em 0 .4em}
h3{font-size:.95em;margin:1.2em 0 .1em}
table{border-collapse:collapse;font-size:.85em}
td,th{padding:3px 8px;border-bottom:1px solid #d8dee4;vertical-align:top}
th{text-align:left;background:#f6f8fa;font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums} td.n,td.d{white-space:nowrap}
tr.main td{font-weight:600}
.wide{overflow-x:auto;max-width:100%}
svg{width:100%;height:auto;font-size:11px;display:block}
.frame{fill:none;stroke:#8c959f} .grid{stroke:#eaeef2} .axis{fill:#57606a}
.buy{fill:#1a7f37} .sell{fill:#cf222e} td.buy{color:#1a7f37} td.sell{color:#cf222e}
.meta{color:#57606a;font-size:.9em;margin:.2em 0}
.legend{color:#57606a;font-size:.8em;margin:0 0 .2em}
.legend i{display:inline-block;width:18px;height:0;border-top:2px solid;vertical-align:middle;
margin:0 4px 0 10px} .legend i.dash{border-top-style:dashed}
.cards{display:flex;flex-wrap:wrap;gap:8px;margin:.8em 0}
.card{border:1px solid #d0d7de;border-radius:6px;padding:5px 10px;min-width:90px;
font-size:.85em;color:#57606a} .card b{display:block;font-size:1.25em;color:#1f2328}
.setup th{width:9em;background:none} .setup td{font-size:1em}
.note{color:#57606a;font-size:.9em} td.basis{min-width:16em}
td.note{overflow-wrap:anywhere;min-width:18em}
"""


def _metric(key: str, value: float | None) -> str:
    if value is None:
        return "-"
    if key in _PERCENT_METRICS:
        return f"{value * 100:,.2f}%"
    if key in _MONEY_METRICS:
        return f"{value:,.2f}"
    if key in _COUNT_METRICS:
        return f"{value:,.0f}"
    if key == "max_drawdown_duration":
        return f"{value:,.0f} bars"
    return f"{value:,.3f}"


def _periods_text(periods: float | None, intraday: bool) -> str:
    """How the metrics were annualised, in words."""
    if periods is None:
        return "252 periods a year"
    if intraday:
        return (
            f"{periods:,.0f} periods a year (252 trading days x the bars of an average active "
            f"day, {periods / 252:,.1f})"
        )
    return f"{periods:,.0f} periods a year"


def _label(key: str) -> str:
    return _LABELS.get(key, key.replace("_", " "))


def quantity_text(quantity: Decimal) -> str:
    """A quantity as a trader reads it: 269, 1,250, 0.123456 (no trailing zeros)."""
    return f"{normalize(quantity):,f}"


def display_zone(series: Sequence[BarSeries]) -> tzinfo:
    """The zone the report's times are shown in: the files' own (their exchange's) when they
    all share one, else UTC."""
    names = {s.timezone for s in series}
    if len(names) == 1:
        try:
            return ZoneInfo(names.pop())
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return UTC


def buy_and_hold(
    calendar: Sequence[datetime], closes: Closes, initial: float
) -> list[float] | None:
    """Equal weight bought at each symbol's first close on the calendar, held, no costs.

    A symbol that starts trading later keeps its share in cash until its first close.
    """
    series = [list(s) for _, s in sorted(closes.items()) if s]
    if not calendar or not series:
        return None
    budget = initial / len(series)
    held = [0.0] * len(series)
    cash = initial
    cursor = [0] * len(series)
    last = [0.0] * len(series)
    values = []
    for moment in calendar:
        worth = 0.0
        for i, points in enumerate(series):
            while cursor[i] < len(points) and points[cursor[i]][0] <= moment:
                last[i] = points[cursor[i]][1]
                cursor[i] += 1
            if held[i] == 0.0 and last[i] > 0:
                held[i], cash = budget / last[i], cash - budget
            worth += held[i] * last[i]
        values.append(cash + worth)
    return values


@dataclass(frozen=True, slots=True)
class _TimeAxis:
    """The run's bar times and how the report shows them."""

    calendar: Sequence[datetime]
    zone: tzinfo
    intraday: bool
    ticks: Sequence[tuple[int, str]]

    def show(self, moment: datetime) -> str:
        """A bar time as the tables show it: the date, and the clock time for intraday bars."""
        return moment.astimezone(self.zone).strftime(
            "%Y-%m-%d %H:%M" if self.intraday else "%Y-%m-%d"
        )


def _tooltip(fill: FillRecord, axis: _TimeAxis) -> str:
    return (
        f"{fill.side.value} {quantity_text(fill.quantity)} {fill.symbol} @ {fill.price:,.4f} "
        f"on {axis.show(fill.filled_at)}"
    )


def _charts(
    outcome: BacktestOutcome,
    axis: _TimeAxis,
    equity: list[float],
    closes: Closes,
    held: list[float] | None,
) -> list[str]:
    request, main, calendar = outcome.request, outcome.main, axis.calendar
    equity_at = dict(zip(calendar, equity, strict=True))
    marked = len(main.fills) <= MAX_MARKED_FILLS
    markers = [
        Marker(f.filled_at, equity_at[f.filled_at], f.side, _tooltip(f, axis))
        for f in (main.fills if marked else ())
        if f.filled_at in equity_at
    ]
    lines = [Line(calendar, equity, "#0969da", f"{main.label} ({main.voting_strategy})")]
    legend = f"<i style='color:#0969da'></i>{escape(main.label)} ({escape(main.voting_strategy)})"
    if held is not None:
        lines.append(Line(calendar, held, "#8c959f", "buy and hold", dashed=True))
        legend += (
            "<i class='dash' style='color:#8c959f'></i>buy and hold (equal weight at the first "
            "close, no costs)"
        )
    if marked:
        legend += " · <span class='buy'>▲</span> buy · <span class='sell'>▼</span> sell"
    else:
        legend += f" · {len(main.fills):,} fills, too many to mark (see the fills table)"
    if axis.intraday:
        legend += f" · times in {escape(str(axis.zone))}"
    drawdown = [d * 100 for d in drawdown_series(float(request.initial_balance), equity)]
    html = [
        "<h3>Equity</h3>",
        f"<p class='legend'>{legend}</p>",
        render_chart(Chart(calendar, lines, 280, markers, aria_label="equity", ticks=axis.ticks)),
        "<h3>Drawdown</h3>",
        render_chart(
            Chart(
                calendar,
                [Line(calendar, drawdown, "#cf222e", "drawdown", fill=True)],
                150,
                unit="%",
                aria_label="drawdown",
                ticks=axis.ticks,
            )
        ),
    ]
    for symbol, series in sorted(closes.items()):
        if not series:
            continue
        times = [t for t, _ in series]
        fills = [
            Marker(f.filled_at, float(f.price), f.side, _tooltip(f, axis))
            for f in (main.fills if marked else ())
            if f.symbol == symbol
        ]
        title = f"{symbol} close" + (f", with the {main.label} run's fills" if marked else "")
        html.append(f"<h3>{escape(title)}</h3>")
        html.append(
            render_chart(
                Chart(
                    calendar or times,
                    [Line(times, [v for _, v in series], "#57606a", f"{symbol} close")],
                    200,
                    fills,
                    aria_label=f"{symbol} close",
                    ticks=axis.ticks,
                )
            )
        )
    return html


def _comparison(outcome: BacktestOutcome) -> list[str]:
    html = [
        "<h2>Comparison</h2><p class='note'>The combined run under each voting strategy, then "
        "each strategy alone (same data, costs and sizing).</p>",
        "<div class='wide'><table><tr><th>run</th><th>voting</th><th class='n'>final equity</th>",
        *(f"<th class='n'>{escape(_label(k))}</th>" for k in COMPARISON_METRICS),
        "</tr>",
    ]
    for number, row in enumerate(outcome.comparison()):
        css = " class='main'" if number == 0 else ""
        html.append(
            f"<tr{css}><td>{escape(row.label)}</td><td>{escape(row.voting_strategy)}</td>"
            f"<td class='n'>{row.final_equity:,.2f}</td>"
        )
        html.extend(
            f"<td class='n'>{_metric(k, row.metrics.get(k))}</td>" for k in COMPARISON_METRICS
        )
        html.append("</tr>")
    html.append("</table></div>")
    return html


def _metrics(outcome: BacktestOutcome, intraday: bool) -> list[str]:
    main = outcome.main
    html = [
        f"<h2>Metrics of the {escape(main.label)} run</h2>"
        "<table><tr><th>metric</th><th class='n'>value</th></tr>"
    ]
    for key, value in sorted(main.metrics.items()):
        html.append(
            f"<tr><td>{escape(_label(key))}</td><td class='n'>{_metric(key, value)}</td></tr>"
        )
    for label, count in (
        ("decisions", main.decisions),
        ("approved by risk", main.approved),
        ("denied by risk", main.risk_denied),
    ):
        html.append(f"<tr><td>{label}</td><td class='n'>{count:,}</td></tr>")
    html.append(
        "</table><p class='note'>Simple returns per bar, annualised with "
        f"{_periods_text(main.metrics.get('periods_per_year'), intraday)}, sample standard "
        "deviation, risk-free rate 0; the starting cash counts as a drawdown peak." + "</p>"
    )
    return html


def _fills(fills: Sequence[FillRecord], axis: _TimeAxis) -> list[str]:
    shown_zone = f" ({axis.zone})" if axis.intraday else ""
    html = [
        f"<h2>Fills ({len(fills):,})</h2><div class='wide'><table>"
        f"<tr><th>filled at{shown_zone}</th>"
        "<th>symbol</th><th>side</th><th class='n'>quantity</th><th class='n'>price</th>"
        "<th class='n'>notional</th><th class='n'>commission</th></tr>"
    ]
    for fill in fills:
        html.append(
            f"<tr><td>{axis.show(fill.filled_at)}</td><td>{escape(fill.symbol)}</td>"
            f"<td class='{fill.side.value}'>{fill.side.value}</td>"
            f"<td class='n'>{quantity_text(fill.quantity)}</td>"
            f"<td class='n'>{fill.price:,.4f}</td>"
            f"<td class='n'>{fill.quantity * fill.price:,.2f}</td>"
            f"<td class='n'>{fill.commission:,.2f}</td></tr>"
        )
    html.append("</table></div>")
    return html


def render_report(
    outcome: BacktestOutcome,
    *,
    run_id: str,
    series: Sequence[BarSeries] = (),
    data_dir: Path | None = None,
) -> str:
    """The report of `outcome` as one HTML document.

    Args:
        outcome: the run's results.
        run_id: shown in the title.
        series: the loaded bars (`LoadedData.series`): each symbol's file, layout and price
            basis. Without them the report names only the file names the outcome recorded.
        data_dir: the data folder: files are named relative to it, and its README.md gives
            their provenance.
    """
    request, main = outcome.request, outcome.main
    # Each symbol's (time, close) inside the traded range: its price chart, buy and hold.
    closes: Closes = {
        s.symbol: [
            (b.timestamp, float(b.close))
            for b in s.bars
            if request.start_date <= b.timestamp <= request.end_date
        ]
        for s in series
    }
    initial = float(request.initial_balance)
    calendar: list[datetime] = []
    equity: list[float] = []
    for point in main.equity:  # once: a fast run's curve builds each point on demand
        calendar.append(point.timestamp)
        equity.append(float(point.equity))
    zone = display_zone(series)
    axis = _TimeAxis(calendar, zone, is_intraday(calendar), date_ticks(calendar, zone))
    held = buy_and_hold(calendar, closes, initial)
    html = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>ATP backtest {escape(run_id)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Backtest {escape(', '.join(request.symbols))}: "
        f"{escape(' + '.join(request.strategies))}</h1>",
        f"<p class='meta'>Run {escape(run_id)} · {request.start_date.date()} to "
        f"{request.end_date.date()} · {outcome.bars:,} bars · voting "
        f"{escape(request.voting_strategy)} · initial balance "
        f"{request.initial_balance:,.2f}</p>",
        "<div class='cards'>",
        f"<div class='card'>final equity<b>{main.final_equity:,.2f}</b></div>",
        *(
            f"<div class='card'>{escape(_label(k))}<b>{_metric(k, main.metrics.get(k))}</b></div>"
            for k in _CARDS
        ),
    ]
    if held:
        held_return = _metric("total_return", held[-1] / initial - 1)
        html.append(f"<div class='card'>buy and hold return<b>{held_return}</b></div>")
    html.append("</div>")
    sources = describe_sources(request, outcome.data_sources, series, data_dir)
    html += setup_section(request, sources)
    html += data_section(sources)
    html += _charts(outcome, axis, equity, closes, held)
    html += _comparison(outcome)
    html += _metrics(outcome, axis.intraday)
    html += _fills(main.fills, axis)
    html.append("</body></html>\n")
    return "\n".join(html)
