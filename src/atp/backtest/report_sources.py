"""The report's inputs sections: set-up (parameters, costs, prices) and data (files, provenance).

A report must let its reader tell which file fed each symbol (two folders may both hold an
`AAPL.csv`), which close was traded (the file's Close as printed, or its Adj Close), and where
the file came from. The provenance is read, when there is one, from the data folder's
`README.md`: a Markdown table row whose first cell names the file's top folder (`` `mag7/` ``)
gives its source and licence, and that folder's `## mag7/ ...` section may state the prices'
adjustment (a `**Adjustment: ...**` sentence) and describe the file (a table row whose first
cell is its name). A folder without such notes simply has no provenance in the report.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from pathlib import Path

from atp.backtest.model import BacktestRequest
from atp.backtest.wiring import build_strategy
from atp.marketdata.catalog import BarSeries
from atp.marketdata.columns import ROLE_ALIASES, normalise

README = "README.md"
_MARKUP = re.compile(r"\*\*|`")
_ADJUSTMENT = re.compile(r"\*\*Adjustment:([^*]+)\*\*")


@dataclass(frozen=True, slots=True)
class SourceNote:
    """One symbol's data file as the report shows it."""

    symbol: str
    file: str
    rows: int | None = None
    first: datetime | None = None
    last: datetime | None = None
    layout: str | None = None
    price_basis: str | None = None
    corporate_actions: int = 0
    # What the data folder's notes say about the prices' adjustment, when they say it.
    adjustment: str | None = None
    provenance: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FolderNotes:
    """What a data folder's README says about one of its folders."""

    source: str | None = None
    licence: str | None = None
    adjustment: str | None = None
    files: tuple[tuple[str, str], ...] = ()


def _plain(text: str) -> str:
    return " ".join(_MARKUP.sub("", text).split())


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def folder_notes(readme: str, folder: str) -> FolderNotes:
    """The notes `readme` (a data folder's README.md) holds on `folder` (empty when none)."""
    source = licence = adjustment = None
    files: list[tuple[str, str]] = []
    in_section = False
    for line in readme.splitlines():
        if line.startswith("## "):
            in_section = _plain(line[3:]).startswith(f"{folder}/")
            continue
        if line.startswith("|"):
            cells = _cells(line)
            if cells[0] == f"`{folder}/`" and len(cells) >= 3 and source is None:
                source, licence = _plain(cells[1]), _plain(cells[-1])
            elif in_section and len(cells) >= 2 and cells[0].startswith("`"):
                files.append((_plain(cells[0]), _plain(cells[-1])))
        elif in_section and adjustment is None:
            found = _ADJUSTMENT.search(line)
            if found:
                adjustment = _plain(found.group(1))
    return FolderNotes(source, licence, adjustment, tuple(files))


def _shown_path(source: str, data_dir: Path | None) -> tuple[str, str | None]:
    """The file as the report names it (relative to the data folder when inside it), and
    its top folder there (None when outside)."""
    path = Path(source)
    if data_dir is not None:
        try:
            relative = path.resolve().relative_to(data_dir.resolve())
        except ValueError:
            return str(path), None
        return relative.as_posix(), relative.parts[0] if len(relative.parts) > 1 else None
    return str(path), None


def _column(series: BarSeries, role: str) -> str | None:
    aliases = ROLE_ALIASES[role]
    return next((name for name in series.columns if normalise(name) in aliases), None)


def price_basis_text(series: BarSeries) -> str:
    """Which close the run traded on, in the file's own column names."""
    close = _column(series, "close") or "Close"
    adjusted = _column(series, "adj_close")
    if series.price_basis == "adjusted":
        return (
            f"{adjusted or 'Adj Close'} (adjusted for splits and dividends); Open/High/Low "
            f"scaled by {adjusted or 'Adj Close'} / {close}"
        )
    if adjusted:
        return f"{close} as printed, not {adjusted}: no dividend adjustment applied"
    return f"{close} as printed (the file has no adjusted close column)"


def _provenance(shown: str, notes: FolderNotes) -> tuple[str, ...]:
    lines = []
    if notes.source:
        lines.append(f"source: {notes.source}")
    if notes.licence:
        lines.append(f"licence: {notes.licence}")
    name = shown.rsplit("/", 1)[-1]
    lines.extend(f"{name}: {text}" for file, text in notes.files if file == name and text)
    return tuple(lines)


def describe_sources(
    request: BacktestRequest,
    data_sources: dict[str, str],
    series: Sequence[BarSeries],
    data_dir: Path | None,
) -> list[SourceNote]:
    """Each symbol's file, rows, layout, price basis and provenance, in request order.

    Without `series` (the loaded bars) only the file names the outcome recorded are known.
    """
    readme = ""
    if data_dir is not None and (data_dir / README).is_file():
        readme = (data_dir / README).read_text(encoding="utf-8", errors="replace")
    loaded: dict[str, BarSeries] = {s.symbol: s for s in series}
    notes: list[SourceNote] = []
    for symbol in request.symbols:
        one = loaded.get(symbol)
        if one is None:
            named = request.data_files.get(symbol) or data_sources.get(symbol, "unknown")
            notes.append(SourceNote(symbol, named))
            continue
        shown, folder = _shown_path(one.source, data_dir)
        folder_says = folder_notes(readme, folder) if folder else FolderNotes()
        notes.append(
            SourceNote(
                symbol=symbol,
                file=shown,
                rows=len(one.bars),
                first=one.bars[0].timestamp if one.bars else None,
                last=one.bars[-1].timestamp if one.bars else None,
                layout=f"{one.file_format}: {', '.join(one.columns)}",
                price_basis=price_basis_text(one),
                corporate_actions=len(one.corporate_actions),
                adjustment=folder_says.adjustment,
                provenance=_provenance(shown, folder_says),
            )
        )
    return notes


def strategy_parameters(request: BacktestRequest) -> list[tuple[str, str]]:
    """(strategy, its parameters as run: given ones and defaults, e.g. `fast=10, slow=30`)."""
    rows = []
    for name in request.strategies:
        given = request.params.get(name, {})
        params = build_strategy(name, given).params.model_dump()
        shown = [
            f"{key}={value}" + ("" if key in given else " (default)")
            for key, value in params.items()
        ]
        rows.append((name, ", ".join(shown) or "none"))
    return rows


def _number(value: float) -> str:
    """A request figure without float noise: 1.0 -> 1, 2.5 -> 2.5."""
    return f"{value:,g}"


def setup_section(request: BacktestRequest, sources: Sequence[SourceNote]) -> list[str]:
    """The set-up table: period, voting, each strategy's parameters, sizing, costs, prices."""
    warmup = (
        f"{request.warmup_bars} warm-up bars"
        if request.warmup_bars is not None
        else "warm-up bars as the strategies need"
    )
    params = "".join(
        f"<tr><th>{escape(name)}</th><td>{escape(text)}</td></tr>"
        for name, text in strategy_parameters(request)
    )
    others = [v for v in request.compare_voting_strategies if v != request.voting_strategy]
    voting = request.voting_strategy + (f"; also compared: {', '.join(others)}" if others else "")
    sizing = {
        "equal_weight": "equal_weight: a buy takes whole shares worth equity / number of symbols",
        "all_in": "all_in: a buy spends all cash at the fill price (fractional shares)",
    }[request.sizing]
    risk = "configured limits" if request.risk is not None else "every limit off"
    bases = sorted({s.price_basis for s in sources if s.price_basis})
    basis = "; ".join(bases) if bases else "not recorded"
    adjustments = sorted({s.adjustment for s in sources if s.adjustment})
    if adjustments:
        basis += f". Data notes: {'; '.join(adjustments)}"
    html = [
        "<h2>Set-up</h2><table class='setup'>",
        f"<tr><th>period</th><td>{request.start_date.date()} to {request.end_date.date()} "
        f"({escape(warmup)})</td></tr>",
        f"<tr><th>voting</th><td>{escape(voting)}</td></tr>",
        params,
        f"<tr><th>sizing</th><td>{escape(sizing)}; sells close the position</td></tr>",
        f"<tr><th>costs</th><td>commission {_number(request.commission_bps)} bps of notional, "
        f"slippage {_number(request.slippage_bps)} bps against the trader</td></tr>",
        "<tr><th>fills</th><td>decided on a bar's close, filled at the next bar's open</td></tr>",
        f"<tr><th>prices</th><td>{escape(basis)}</td></tr>",
        f"<tr><th>risk</th><td>{risk} · seed {request.seed}</td></tr>",
        "</table>",
    ]
    return html


def data_section(sources: Sequence[SourceNote]) -> list[str]:
    """The data table: each symbol's file, rows, span, price basis and provenance."""
    html = [
        "<h2>Data</h2><div class='wide'><table><tr><th>symbol</th><th>file</th>"
        "<th class='n'>rows</th><th>file covers</th><th>price basis</th>"
        "<th>provenance</th></tr>"
    ]
    for note in sources:
        covers = f"{note.first.date()} to {note.last.date()}" if note.first and note.last else "-"
        layout = f"<br><span class='note'>{escape(note.layout)}</span>" if note.layout else ""
        adjustment = (
            f"<br><span class='note'>data notes: {escape(note.adjustment)}</span>"
            if note.adjustment
            else ""
        )
        actions = (
            f"<br><span class='note'>{note.corporate_actions} dividends/splits reported in the "
            "file, not applied again</span>"
            if note.corporate_actions
            else ""
        )
        provenance = "<br>".join(escape(line) for line in note.provenance) or "not known"
        html.append(
            f"<tr><td>{escape(note.symbol)}</td><td>{escape(note.file)}{layout}</td>"
            f"<td class='n'>{'-' if note.rows is None else f'{note.rows:,}'}</td>"
            f"<td class='d'>{covers}</td>"
            f"<td class='basis'>{escape(note.price_basis or 'not recorded')}"
            f"{adjustment}{actions}</td>"
            f"<td class='note'>{provenance}</td></tr>"
        )
    html.append("</table></div>")
    return html
