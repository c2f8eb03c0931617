"""Several files align on one calendar; a replay resumes from its cursor and paces itself."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from atp.marketdata.align import align
from atp.marketdata.catalog import load_bars
from atp.marketdata.replay import Pacer, ReplayCursor, ReplayPlan
from atp.services.settings import DEFAULT_DATA_DIR

PAIRS = DEFAULT_DATA_DIR / "pairs_trading_system"


def _file(tmp_path: Path, name: str, dates: list[str]) -> Path:
    path = tmp_path / name
    rows = "".join(f"{d},1,2,1,{i + 1},10\n" for i, d in enumerate(dates))
    path.write_text("Date,Open,High,Low,Close,Volume\n" + rows)
    return path


def test_aligned_batches_are_time_ordered_and_a_missing_bar_is_absent_not_filled(
    tmp_path: Path,
) -> None:
    a = load_bars(_file(tmp_path, "AAA.csv", ["2024-01-02", "2024-01-03", "2024-01-04"]))
    b = load_bars(_file(tmp_path, "BBB.csv", ["2024-01-03", "2024-01-05"]), timeframe="1d")
    batches = align([a, b])
    assert [[bar.symbol for bar in batch.bars] for batch in batches] == [
        ["AAA"],
        ["AAA", "BBB"],
        ["AAA"],
        ["BBB"],
    ]
    assert all(bar.timestamp == batch.timestamp for batch in batches for bar in batch.bars)


def test_real_files_align_on_the_union_calendar_with_arm_listing_late() -> None:
    aapl, arm = load_bars(PAIRS / "AAPL.csv"), load_bars(PAIRS / "ARM.csv")
    batches = align([aapl, arm])
    assert len(batches) == 2515
    assert sum(len(batch.bars) for batch in batches) == 2515 + 338
    first_arm = next(i for i, batch in enumerate(batches) if len(batch.bars) == 2)
    assert batches[first_arm].timestamp == arm.bars[0].timestamp


def _plan_batches(tmp_path: Path):  # type: ignore[no-untyped-def]
    dates = [f"2024-01-{d:02d}" for d in range(2, 12)]
    return align([load_bars(_file(tmp_path, "AAA.csv", dates))])


def test_plan_starts_warmup_steps_early_and_stops_at_the_end(tmp_path: Path) -> None:
    batches = _plan_batches(tmp_path)
    plan = ReplayPlan(
        batches,
        start=datetime(2024, 1, 6, tzinfo=UTC),
        end=datetime(2024, 1, 9, 12, tzinfo=UTC),
        warmup_steps=2,
    )
    handed = []
    while (batch := plan.next_batch()) is not None:
        handed.append(batch.timestamp.day)
    assert handed == [4, 5, 6, 7, 8, 9]
    assert plan.done and plan.steps_done == plan.total_steps == 6


def test_plan_resumes_right_after_the_persisted_cursor(tmp_path: Path) -> None:
    batches = _plan_batches(tmp_path)
    first = ReplayPlan(batches)
    for _ in range(4):
        first.next_batch()
    cursor = first.cursor
    resumed = ReplayPlan(batches, cursor=ReplayCursor(cursor.last_bar_time))
    batch = resumed.next_batch()
    assert batch is not None and batch.timestamp.day == 6
    assert resumed.steps_done == 5


def test_a_cursor_past_the_end_leaves_the_plan_done(tmp_path: Path) -> None:
    batches = _plan_batches(tmp_path)
    plan = ReplayPlan(batches, cursor=ReplayCursor(batches[-1].timestamp))
    assert plan.done and plan.next_batch() is None


def test_pacer_paces_five_steps_per_second() -> None:
    pacer = Pacer(5.0, now=100.0)
    assert pacer.due(now=100.0, steps_done=0) == 1
    assert pacer.due(now=100.0, steps_done=1) == 0
    assert math.isclose(pacer.seconds_until_next(now=100.0, steps_done=1), 0.2)
    assert pacer.due(now=101.0, steps_done=1) == 5
    assert math.isclose(pacer.lag_seconds(now=101.0, steps_done=1), 0.8)


def test_pacer_owes_nothing_for_a_pause_after_rebase() -> None:
    pacer = Pacer(2.0, now=0.0)
    pacer.rebase(now=60.0, steps_done=3)
    assert pacer.due(now=60.0, steps_done=3) == 1


@given(
    speed=st.floats(min_value=0.01, max_value=10_000),
    elapsed=st.floats(min_value=0, max_value=10_000),
)
def test_taking_every_due_step_never_runs_ahead_of_the_schedule(
    speed: float, elapsed: float
) -> None:
    pacer = Pacer(speed, now=0.0)
    done = pacer.due(now=elapsed, steps_done=0)
    assert done <= math.floor(elapsed * speed) + 1
    assert pacer.due(now=elapsed, steps_done=done) == 0
    assert pacer.seconds_until_next(now=elapsed, steps_done=done) <= 1 / speed + 1e-9
