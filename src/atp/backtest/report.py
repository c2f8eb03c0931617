"""The HTML report of a backtest: metrics, comparison, and inline SVG charts.

One self-contained file (no scripts, no external assets) that opens in any browser: the equity
curve with every fill marked, the drawdown underneath, each symbol's close with its buys and
sells, the comparison table and the fill list. SVG is drawn by hand so the report needs no
plotting library and is byte-identical for identical runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

from atp.backtest.metrics import drawdown_series
from atp.backtest.results import COMPARISON_METRICS, BacktestOutcome
from atp.core.enums import Side

_WIDTH = 960
_HEIGHT = 260
_PAD = 64  # room for axis labels such as 101,918

_PERCENT_METRICS = frozenset(
    {"total_return", "cagr", "annual_volatility", "max_drawdown", "exposure", "win_rate"}
)


def _fmt(key: str, value: float | None) -> str:
    if value is None:
        return "-"
    if key in _PERCENT_METRICS:
        return f"{value * 100:.2f}%"
    if key.startswith("num_") or key == "max_drawdown_duration":
        return f"{value:.0f}"
    return f"{value:.3f}"


def _line_chart(
    title: str,
    times: Sequence[datetime],
    values: Sequence[float],
    *,
    color: str,
    fill: bool = False,
    markers: Sequence[tuple[datetime, float, Side]] = (),
) -> str:
    """One SVG line chart with a y axis, first/last date labels and optional fill markers."""
    if not values:
        return f"<p>{escape(title)}: no data</p>"
    low, high = min(values), max(values)
    if high == low:
        high = low + 1.0
    start, end = times[0].timestamp(), times[-1].timestamp()
    span = (end - start) or 1.0
    inner_w, inner_h = _WIDTH - 2 * _PAD, _HEIGHT - 2 * _PAD

    def x_of(moment: datetime) -> float:
        return _PAD + (moment.timestamp() - start) / span * inner_w

    def y_of(value: float) -> float:
        return _PAD + (high - value) / (high - low) * inner_h

    points = " ".join(f"{x_of(t):.1f},{y_of(v):.1f}" for t, v in zip(times, values, strict=True))
    parts = [
        f'<svg viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" aria-label="{escape(title)}">',
        f'<text x="{_PAD}" y="20" class="title">{escape(title)}</text>',
        f'<rect x="{_PAD}" y="{_PAD}" width="{inner_w}" height="{inner_h}" class="frame"/>',
    ]
    for i in range(5):
        value = low + (high - low) * i / 4
        y = y_of(value)
        parts.append(
            f'<line x1="{_PAD}" x2="{_WIDTH - _PAD}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
        )
        parts.append(
            f'<text x="{_PAD - 4}" y="{y + 4:.1f}" class="axis" text-anchor="end">'
            f"{_axis_label(value, (high - low) / 4)}</text>"
        )
    parts.append(f'<text x="{_PAD}" y="{_HEIGHT - 12}" class="axis">{times[0].date()}</text>')
    parts.append(
        f'<text x="{_WIDTH - _PAD}" y="{_HEIGHT - 12}" class="axis" '
        f'text-anchor="end">{times[-1].date()}</text>'
    )
    if fill:
        base = y_of(max(min(0.0, high), low))
        parts.append(
            f'<polygon points="{_PAD:.1f},{base:.1f} {points} {x_of(times[-1]):.1f},{base:.1f}" '
            f'fill="{color}" fill-opacity="0.25" stroke="none"/>'
        )
    parts.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="1.5"/>')
    for moment, value, side in markers:
        x, y = x_of(moment), y_of(value)
        if side is Side.BUY:
            shape = f"{x:.1f},{y + 2:.1f} {x - 5:.1f},{y + 11:.1f} {x + 5:.1f},{y + 11:.1f}"
            parts.append(
                f'<polygon points="{shape}" class="buy"><title>buy {moment.date()}'
                "</title></polygon>"
            )
        else:
            shape = f"{x:.1f},{y - 2:.1f} {x - 5:.1f},{y - 11:.1f} {x + 5:.1f},{y - 11:.1f}"
            parts.append(
                f'<polygon points="{shape}" class="sell"><title>sell {moment.date()}'
                "</title></polygon>"
            )
    parts.append("</svg>")
    return "\n".join(parts)


_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1000px;color:#222}
h1{font-size:1.4em} h2{font-size:1.1em;margin-top:2em}
table{border-collapse:collapse;font-size:.85em} td,th{padding:3px 8px;border-bottom:1px solid #ddd}
th{text-align:left;background:#f4f4f4} td.n{text-align:right;font-variant-numeric:tabular-nums}
svg{width:100%;height:auto;font-size:11px} .frame{fill:none;stroke:#999}
.grid{stroke:#eee} .axis{fill:#666} .title{font-weight:bold;fill:#333}
.buy{fill:#1a7f37} .sell{fill:#cf222e} .meta{color:#555;font-size:.9em}
.cards{display:flex;flex-wrap:wrap;gap:8px} .card{border:1px solid #ddd;border-radius:6px;
padding:6px 12px;min-width:110px} .card b{display:block;font-size:1.2em}
"""


def render_report(
    outcome: BacktestOutcome,
    *,
    run_id: str,
    closes: dict[str, Sequence[tuple[datetime, float]]] | None = None,
) -> str:
    """The report of `outcome` as one HTML document; `closes` adds a price chart per symbol."""
    request, main = outcome.request, outcome.main
    times = [p.timestamp for p in main.equity]
    equity = [float(p.equity) for p in main.equity]
    drawdown = [d * 100 for d in drawdown_series(float(request.initial_balance), equity)]
    equity_at = {p.timestamp: float(p.equity) for p in main.equity}
    markers = [
        (f.filled_at, equity_at[f.filled_at], f.side)
        for f in main.fills
        if f.filled_at in equity_at
    ]
    html = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>ATP backtest {escape(run_id)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Backtest {escape(', '.join(request.symbols))}: "
        f"{escape(' + '.join(request.strategies))}</h1>",
        f"<p class='meta'>Run {escape(run_id)} · {request.start_date.date()} to "
        f"{request.end_date.date()} · {outcome.bars} bars · voting "
        f"{escape(request.voting_strategy)} · seed {request.seed} · initial balance "
        f"{request.initial_balance:,.2f} · costs: commission {request.commission_bps} bps, "
        f"slippage {request.slippage_bps} bps · orders decided on a bar's close fill at the "
        "next bar's open</p>",
        "<div class='cards'>",
        f"<div class='card'>final equity<b>{main.final_equity:,.2f}</b></div>",
    ]
    for key in ("total_return", "cagr", "sharpe", "sortino", "max_drawdown", "win_rate"):
        html.append(
            f"<div class='card'>{key.replace('_', ' ')}<b>"
            f"{_fmt(key, main.metrics.get(key))}</b></div>"
        )
    html.append("</div>")
    html.append(
        _line_chart("Equity (fills marked)", times, equity, color="#0969da", markers=markers)
    )
    html.append(_line_chart("Drawdown (%)", times, drawdown, color="#cf222e", fill=True))
    for symbol, series in sorted((closes or {}).items()):
        if not series:
            continue
        fills = [(f.filled_at, float(f.price), f.side) for f in main.fills if f.symbol == symbol]
        html.append(
            _line_chart(
                f"{symbol} close, fills at their prices",
                [t for t, _ in series],
                [v for _, v in series],
                color="#57606a",
                markers=fills,
            )
        )
    html.append("<h2>Metrics</h2><table><tr><th>metric</th><th>value</th></tr>")
    for key, value in sorted(main.metrics.items()):
        html.append(f"<tr><td>{escape(key)}</td><td class='n'>{_fmt(key, value)}</td></tr>")
    html.append(
        "</table><h2>Comparison</h2><table><tr><th>run</th><th>voting</th><th>final equity</th>"
    )
    html.extend(f"<th>{escape(k)}</th>" for k in COMPARISON_METRICS)
    html.append("</tr>")
    for row in outcome.comparison():
        html.append(
            f"<tr><td>{escape(row.label)}</td><td>{escape(row.voting_strategy)}</td>"
            f"<td class='n'>{row.final_equity:,.2f}</td>"
        )
        html.extend(f"<td class='n'>{_fmt(k, row.metrics.get(k))}</td>" for k in COMPARISON_METRICS)
        html.append("</tr>")
    html.append(
        f"</table><h2>Fills ({len(main.fills)})</h2><table><tr><th>filled at</th>"
        "<th>symbol</th><th>side</th><th>quantity</th><th>price</th><th>commission</th>"
        "</tr>"
    )
    for fill in main.fills:
        html.append(
            f"<tr><td>{fill.filled_at.date()}</td><td>{escape(fill.symbol)}</td>"
            f"<td class='{fill.side.value}'>{fill.side.value}</td>"
            f"<td class='n'>{fill.quantity:.6f}</td><td class='n'>{fill.price:.4f}</td>"
            f"<td class='n'>{fill.commission:.2f}</td></tr>"
        )
    html.append("</table></body></html>\n")
    return "\n".join(html)


def _axis_label(value: float, step: float) -> str:
    """`value` with thousands separators and as many decimals as the tick step needs."""
    decimals = 0 if step >= 10 else 1 if step >= 1 else 2 if step >= 0.01 else 4
    return f"{value:,.{decimals}f}"
