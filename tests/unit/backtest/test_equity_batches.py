"""The equity floats priced in batches of one-symbol segments are float(exact equity)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from atp.backtest import equity
from atp.backtest.columns import read_csv_columns
from atp.backtest.equity import EquityCurve, Segment, SegmentLog


def _columns(tmp_path: Path, bars: int) -> object:
    path = tmp_path / "X.csv"
    rows = ["Date,Open,High,Low,Close,Volume"]
    for day in range(bars):
        close = f"{100 + (day * 37) % 23}.{(day * 13) % 100:02d}"
        rows.append(f"2024-01-{day // 24 + 1:02d} {day % 24:02d}:00:00,{close},200,50,{close},10")
    path.write_text("\n".join(rows) + "\n")
    return read_csv_columns(path, symbol="X")


@pytest.mark.parametrize("batch_bars", [1, 7, 1 << 16])
def test_batched_floats_equal_each_bars_exact_equity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch_bars: int
) -> None:
    monkeypatch.setattr(equity, "_BATCH_BARS", batch_bars)
    columns = _columns(tmp_path, 96)
    segments = [
        Segment(0, Decimal("1000.50"), ((0, Decimal("3.123456")),)),
        Segment(10, Decimal("99999.99"), ((0, Decimal("0")),)),  # flat
        Segment(20, Decimal("0.01"), ((0, Decimal("987.000001")),)),
        # Integers past 2**53: priced in Decimals, bar by bar.
        Segment(40, Decimal("12345678901.23"), ((0, Decimal("123456789.123456")),)),
        Segment(60, Decimal("-5.5"), ((0, Decimal("12")),)),
    ]
    stamps = columns.timestamps  # type: ignore[attr-defined]
    curve = EquityCurve(
        data=[columns],  # type: ignore[list-item]
        stamps=stamps,
        latest=[np.arange(len(stamps), dtype=np.int64)],
        segments=segments,
        first=0,
        initial_cash=Decimal(1),
    )

    assert curve.floats.tolist() == [float(point.equity) for point in curve]
    assert curve.exact_segments == 3  # the three one-symbol segments that fit in 2**53


def test_one_symbols_own_rows_price_the_curve_as_an_explicit_row_per_point(
    tmp_path: Path,
) -> None:
    columns = _columns(tmp_path, 96)
    stamps = columns.timestamps  # type: ignore[attr-defined]
    first = 9  # warm-up bars before the first traded point: point i is row first + i
    segments = [
        Segment(0, Decimal("1000.50"), ((0, Decimal("3.123456")),)),
        Segment(30, Decimal("12345678901.23"), ((0, Decimal("123456789.123456")),)),
        Segment(50, Decimal("7"), ((0, Decimal("0")),)),
    ]

    def curve(latest: list[np.ndarray] | None) -> EquityCurve:
        return EquityCurve(
            data=[columns],  # type: ignore[list-item]
            stamps=stamps[first:],
            latest=latest,
            segments=segments,
            first=first,
            initial_cash=Decimal(1),
        )

    own_rows = curve(None)
    explicit = curve([np.arange(first, len(stamps), dtype=np.int64)])
    assert list(own_rows) == list(explicit)
    assert own_rows.floats.tolist() == explicit.floats.tolist()
    assert own_rows.floats.tolist() == [float(point.equity) for point in explicit]
    # The close of row first + 40 (a Decimal-priced segment), not of row 40.
    quantity = Decimal("123456789.123456")
    assert own_rows[40].equity == Decimal("12345678901.23") + quantity * columns.close(first + 40)  # type: ignore[attr-defined]


def test_a_segment_log_reads_back_what_it_kept_and_skips_an_unchanged_account(
    tmp_path: Path,
) -> None:
    columns = _columns(tmp_path, 96)
    kept = [
        Segment(0, Decimal("1000.50"), ((0, Decimal("3.123456")),)),
        Segment(10, Decimal("99999.99"), ((0, Decimal("0")),)),  # one symbol, flat
        Segment(20, Decimal("5"), ()),  # nothing in the ledger yet
        Segment(30, Decimal("7"), ((1, Decimal("2")),)),  # one symbol in another slot
        Segment(40, Decimal("7"), ((0, Decimal("1")), (1, Decimal("2")))),
    ]
    log = SegmentLog()
    for segment in kept:
        log.keep(segment.start, segment.cash, segment.held)
        # The same account a bar later (a decision bar; its fill comes next): no new segment.
        log.keep(segment.start + 1, Decimal(str(segment.cash)), tuple(segment.held))

    assert list(log) == kept
    assert [log[i] for i in (4, 0, -1)] == [kept[4], kept[0], kept[4]]
    stamps = columns.timestamps  # type: ignore[attr-defined]
    single = kept[:3]
    from_log = SegmentLog()
    for segment in single:
        from_log.keep(segment.start, segment.cash, segment.held)

    def curve(segments: list[Segment] | SegmentLog) -> EquityCurve:
        return EquityCurve(
            data=[columns],  # type: ignore[list-item]
            stamps=stamps,
            latest=None,
            segments=segments,
            first=0,
            initial_cash=Decimal(1),
        )

    assert list(curve(from_log)) == list(curve(single))
    assert curve(from_log).floats.tolist() == curve(single).floats.tolist()
