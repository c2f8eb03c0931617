"""The results of a backtest, and their files: a deterministic JSON document and CSV exports.

`BacktestOutcome` is everything one request produced: the main run, each agent alone, and the
other voting strategies asked for. `results_json` writes it with sorted keys, Decimals as exact
strings and no wall-clock time, so the same inputs and seed give a byte-identical file.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from atp.backtest.model import BacktestRequest, EquityPoint, FillRecord, RunSummary
from atp.core.money import normalize

# The columns of the comparison table, in order.
COMPARISON_METRICS: tuple[str, ...] = (
    "total_return",
    "cagr",
    "sharpe",
    "sortino",
    "max_drawdown",
    "win_rate",
    "profit_factor",
    "num_trades",
)


@dataclass(frozen=True, slots=True)
class ComparisonRow:
    """One line of the comparison table: a strategy set under one voting strategy."""

    label: str
    strategies: tuple[str, ...]
    voting_strategy: str
    final_equity: Decimal
    metrics: dict[str, float | None]


@dataclass(frozen=True, slots=True)
class BacktestOutcome:
    """Everything one backtest request produced."""

    request: BacktestRequest
    main: RunSummary
    per_agent: dict[str, RunSummary]
    variants: tuple[RunSummary, ...]
    data_sources: dict[str, str]
    bars: int

    def comparison(self) -> list[ComparisonRow]:
        """The main run, then each voting variant, then each agent alone."""
        runs = [self.main, *self.variants]
        runs += [r for r in self.per_agent.values() if r is not self.main]
        return [
            ComparisonRow(r.label, r.strategies, r.voting_strategy, r.final_equity, r.metrics)
            for r in runs
        ]


def _number(value: int | float | None) -> int | float | None:
    if isinstance(value, int):
        return value  # a count (fills, round trips, bars, periods) stays a whole number
    if value is None or not math.isfinite(value):
        return None
    # Rounded to 12 significant digits: enough for any report, and immune to the last-bit
    # differences a different summation order could make.
    return float(f"{value:.12g}")


def _decimal(value: Decimal) -> str:
    return format(normalize(value), "f")


def fill_dict(fill: FillRecord) -> dict[str, Any]:
    """A fill as JSON-ready values."""
    return {
        "symbol": fill.symbol,
        "side": fill.side.value,
        "quantity": _decimal(fill.quantity),
        "price": _decimal(fill.price),
        "commission": _decimal(fill.commission),
        "filled_at": fill.filled_at.isoformat().replace("+00:00", "Z"),
        "decided_at": fill.decided_at.isoformat().replace("+00:00", "Z"),
        "client_order_id": fill.client_order_id,
    }


def equity_dict(point: EquityPoint) -> dict[str, Any]:
    """An equity point as JSON-ready values."""
    return {
        "timestamp": point.timestamp.isoformat().replace("+00:00", "Z"),
        "equity": _decimal(point.equity),
        "cash": _decimal(point.cash),
        "gross_exposure": _decimal(point.gross_exposure),
    }


def metrics_dict(metrics: dict[str, float | None]) -> dict[str, float | None]:
    """Metrics with non-finite values as null and a stable precision."""
    return {key: _number(value) for key, value in sorted(metrics.items())}


def summary_dict(run: RunSummary, *, detail: bool) -> dict[str, Any]:
    """A run as JSON-ready values; `detail` adds its fills and equity curve."""
    body: dict[str, Any] = {
        "label": run.label,
        "strategies": list(run.strategies),
        "voting_strategy": run.voting_strategy,
        "final_equity": _decimal(run.final_equity),
        "metrics": metrics_dict(run.metrics),
        "decisions": run.decisions,
        "approved": run.approved,
        "risk_denied": run.risk_denied,
    }
    if detail:
        body["fills"] = [fill_dict(f) for f in run.fills]
        body["equity_curve"] = [equity_dict(p) for p in run.equity]
    return body


def outcome_dict(outcome: BacktestOutcome) -> dict[str, Any]:
    """The whole outcome as JSON-ready values (the content of the results file)."""
    main = summary_dict(outcome.main, detail=True)
    return {
        "request": outcome.request.model_dump(mode="json"),
        "costs": {
            "commission_bps": outcome.request.commission_bps,
            "slippage_bps": outcome.request.slippage_bps,
            "fill": "next bar open",
        },
        "data_sources": dict(sorted(outcome.data_sources.items())),
        "bars": outcome.bars,
        "final_equity": main["final_equity"],
        "metrics": main["metrics"],
        "fills": main["fills"],
        "equity_curve": main["equity_curve"],
        "main": {k: v for k, v in main.items() if k not in ("fills", "equity_curve")},
        "per_agent": {
            name: summary_dict(run, detail=False) for name, run in outcome.per_agent.items()
        },
        "comparison": [
            {
                "label": row.label,
                "strategies": list(row.strategies),
                "voting_strategy": row.voting_strategy,
                "final_equity": _decimal(row.final_equity),
                "metrics": metrics_dict(row.metrics),
            }
            for row in outcome.comparison()
        ],
    }


def results_json(outcome: BacktestOutcome) -> str:
    """The results file: canonical JSON (sorted keys, fixed separators, trailing newline)."""
    return json.dumps(outcome_dict(outcome), sort_keys=True, indent=1, allow_nan=False) + "\n"


def trades_csv(fills: tuple[FillRecord, ...]) -> str:
    """The fills of a run as CSV, one row per fill."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns = [
        "filled_at",
        "symbol",
        "side",
        "quantity",
        "price",
        "commission",
        "decided_at",
        "client_order_id",
    ]
    writer.writerow(columns)
    for fill in fills:
        row = fill_dict(fill)
        writer.writerow([row[c] for c in columns])
    return out.getvalue()


def equity_csv(equity: Sequence[EquityPoint]) -> str:
    """The equity curve of a run as CSV, one row per bar."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns = ["timestamp", "equity", "cash", "gross_exposure"]
    writer.writerow(columns)
    for point in equity:
        row = equity_dict(point)
        writer.writerow([row[c] for c in columns])
    return out.getvalue()


def comparison_table(outcome: BacktestOutcome) -> str:
    """The comparison table as aligned text, for the CLI."""
    header = ["run", "voting", "final_equity", *COMPARISON_METRICS]
    rows = [header]
    for row in outcome.comparison():
        cells = [row.label, row.voting_strategy, f"{row.final_equity:.2f}"]
        for key in COMPARISON_METRICS:
            value = row.metrics.get(key)
            cells.append("-" if value is None else f"{value:.4g}")
        rows.append(cells)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)) for r in rows)
