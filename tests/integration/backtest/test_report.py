"""The HTML report of real runs on the shared data: what a reader needs to trust the numbers.

Which file fed each symbol (mag7/AAPL.csv and pairs_trading_system/AAPL.csv are different
series), which close was traded, the strategies' parameters as run, y-axis labels that fit
their margin, date ticks, quantities as numbers, and nothing fetched from outside.
"""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape

import pytest

from atp.backtest.model import BacktestRequest
from atp.backtest.report import render_report
from atp.backtest.results import BacktestOutcome
from atp.backtest.runner import LoadedData, load_data, run_backtest
from atp.services.settings import AtpSettings

DATA = AtpSettings().data_dir
# DejaVu Sans at the charts' 11px: digits and signs 0.636 em, separators 0.318 em (its
# advance widths). Chromium renders the reports with it here; other sans faces are narrower.
_DIGIT_PX, _SEPARATOR_PX = 0.636 * 11, 0.318 * 11


def _run(request: BacktestRequest) -> tuple[BacktestOutcome, LoadedData]:
    return run_backtest(request, DATA), load_data(request, DATA)


@pytest.fixture(scope="module")
def mag7_run() -> tuple[BacktestOutcome, LoadedData]:
    """AAPL+MSFT from mag7/, three strategies, voting strategies compared, costs, 8-digit cash."""
    return _run(
        BacktestRequest(
            start_date="2023-01-01",
            end_date="2023-12-29",
            symbols=["AAPL", "MSFT"],
            strategies=["sma_crossover", "momentum", "mean_reversion"],
            params={"sma_crossover": {"fast": 10, "slow": 30}},
            initial_balance=Decimal(10_000_000),
            compare_voting_strategies=["weighted", "unanimous"],
            commission_bps=1,
            slippage_bps=5,
            data_files={
                "AAPL": str(DATA / "mag7" / "AAPL.csv"),
                "MSFT": str(DATA / "mag7/MSFT.csv"),
            },
        )
    )


@pytest.fixture(scope="module")
def mag7_report(mag7_run: tuple[BacktestOutcome, LoadedData]) -> str:
    outcome, data = mag7_run
    return render_report(outcome, run_id="r-mag7", series=data.series, data_dir=DATA)


def _text(html: str) -> str:
    """What a reader sees: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _svg(html: str, label: str) -> str:
    found = re.search(rf'<svg[^>]*aria-label="{re.escape(label)}">(.*?)</svg>', html, re.S)
    assert found, f"no {label} chart"
    return found.group(1)


def _axis_labels(svg: str, anchor: str) -> list[tuple[float, str]]:
    pattern = rf'<text x="([\d.]+)" y="[\d.]+" class="axis" text-anchor="{anchor}">([^<]*)</text>'
    return [(float(x), unescape(text)) for x, text in re.findall(pattern, svg)]


def test_report_names_each_file_relative_to_the_data_folder_with_its_provenance(
    mag7_report: str,
) -> None:
    text = _text(mag7_report)
    assert "mag7/AAPL.csv" in text and "mag7/MSFT.csv" in text
    assert "pairs_trading_system" not in text
    # From the data folder's README: the source repository at its commit, and its licence.
    assert (
        "github.com/Always-03/Magnificent-7-Backtesting @ 56a79f154d04e9377954e0339b4c12b7efb0eb15"
        in text
    )
    assert "licence: no licence stated" in text
    assert "AAPL.csv: Close 19.61 → 192.53" in text


def test_report_shows_the_strategy_parameters_as_run(mag7_report: str) -> None:
    text = _text(mag7_report)
    assert "sma_crossover fast=10, slow=30, long_only=True (default)" in text
    assert "momentum lookback=20 (default), threshold=0.05 (default)" in text
    assert "mean_reversion window=20 (default), entry_z=1.5 (default)" in text
    assert "commission 1 bps of notional, slippage 5 bps" in text
    assert "majority; also compared: weighted, unanimous" in text


def test_report_states_the_price_basis_of_a_file_without_adjusted_close(
    mag7_report: str,
) -> None:
    text = _text(mag7_report)
    assert "prices Close as printed (the file has no adjusted close column)" in text
    assert "split-adj. Close as of about March 2024, with no dividend adjustment" in text


def test_report_says_adj_close_is_not_used_when_the_file_has_one() -> None:
    request = BacktestRequest(
        start_date="2024-01-01",
        end_date="2024-03-28",
        symbols=["AAPL"],
        strategies=["sma_crossover"],
        params={"sma_crossover": {"fast": 5, "slow": 20}},
        initial_balance=Decimal(100_000),
    )
    outcome, data = _run(request)
    text = _text(render_report(outcome, run_id="r-pts", series=data.series, data_dir=DATA))
    # Found by the catalog in the preferred folder, not the mag7 copy.
    assert "pairs_trading_system/AAPL.csv" in text and "mag7/" not in text
    assert "Close as printed, not Adj_Close: no dividend adjustment applied" in text
    assert "licence: MIT" in text


def test_y_axis_labels_of_8_digit_equity_are_whole_and_fit_the_margin(
    mag7_run: tuple[BacktestOutcome, LoadedData], mag7_report: str
) -> None:
    outcome, _ = mag7_run
    equity = [float(p.equity) for p in outcome.main.equity]
    labels = _axis_labels(_svg(mag7_report, "equity"), "end")
    values = [float(text.replace(",", "")) for _, text in labels]
    assert len(values) >= 3
    assert min(values) <= max(equity) and max(values) >= min(equity)
    assert all(value >= 1_000_000 for value in values)  # 8 digits, none cut to "l6,127,500"
    for right_edge, text in labels:
        width = sum(_SEPARATOR_PX if c in ",." else _DIGIT_PX for c in text)
        assert right_edge - width >= 0, f"{text!r} is cut at the left edge"


def test_charts_have_date_ticks_between_the_first_and_last_bar(mag7_report: str) -> None:
    ticks = [text for _, text in _axis_labels(_svg(mag7_report, "equity"), "middle")]
    assert ticks == [
        "Feb 2023",
        "Mar 2023",
        "Apr 2023",
        "May 2023",
        "Jun 2023",
        "Jul 2023",
        "Aug 2023",
        "Sep 2023",
        "Oct 2023",
        "Nov 2023",
        "Dec 2023",
    ]


def test_fill_quantities_read_as_numbers(
    mag7_run: tuple[BacktestOutcome, LoadedData], mag7_report: str
) -> None:
    outcome, _ = mag7_run
    fills = re.search(r"<h2>Fills.*?</table>", mag7_report, re.S)
    assert fills and outcome.main.fills
    text = _text(fills.group(0))
    for fill in outcome.main.fills:
        assert f"{int(fill.quantity):,}" in text  # 17,893 (whole shares), not 17893.000000
    assert ".000000" not in mag7_report


def test_report_fetches_nothing(mag7_report: str) -> None:
    assert not re.search(r"""(src|href)\s*=|url\(|@import|<script|<link""", mag7_report)


def test_report_without_the_loaded_bars_still_names_the_recorded_files(
    mag7_run: tuple[BacktestOutcome, LoadedData],
) -> None:
    outcome, _ = mag7_run
    text = _text(render_report(outcome, run_id="r-bare"))
    assert "mag7/AAPL.csv" in text  # the request's explicit file
    assert "fast=10, slow=30" in text
    assert "not recorded" in text  # the price basis is not guessed


def test_intraday_report_shows_exchange_times() -> None:
    minute = DATA / "lumibot" / "AAPL_Minute.csv"
    request = BacktestRequest(
        start_date="2021-08-23",
        end_date="2021-08-25",
        symbols=["AAPL"],
        strategies=["momentum"],
        params={"momentum": {"lookback": 10, "threshold": 0.002}},
        initial_balance=Decimal(100_000),
        warmup_bars=20,
        data_files={"AAPL": str(minute)},
    )
    outcome, data = _run(request)
    html = render_report(outcome, run_id="r-min", series=data.series, data_dir=DATA)
    ticks = [text for _, text in _axis_labels(_svg(html, "equity"), "middle")]
    # The second and third sessions open at 09:30 New York time and are labelled by date;
    # clock ticks read in New York time (the regular session), not UTC (13:30-20:00).
    assert "2021-08-24" in ticks and "2021-08-25" in ticks
    clock = [t for t in ticks if ":" in t]
    assert clock and all("09:30" <= t <= "16:00" for t in clock)
    assert "filled at (America/New_York)" in html
