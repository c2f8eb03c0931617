"""The run manager across stops: a user's cancel, a stop and start in one process, crash loops."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from atp.backtest.manager import MAX_ATTEMPTS, RunManager
from atp.backtest.model import BacktestRequest
from atp.core.clock import SimulatedClock
from atp.core.errors import TransientError
from atp.services.settings import AtpSettings

REQUEST = BacktestRequest.model_validate(
    {
        "start_date": "2023-01-01T00:00:00",
        "end_date": "2024-12-31T23:59:59",
        "symbols": ["AAPL", "MSFT"],
        "strategies": ["sma_crossover", "momentum", "mean_reversion"],
        "initial_balance": 100000,
    }
)


def _manager(store: Path) -> RunManager:
    clock = SimulatedClock(datetime(2026, 1, 1, tzinfo=UTC))
    return RunManager(data_dir=AtpSettings().data_dir, store_dir=store, clock=clock)


def _stored_runs(store: Path) -> list[Path]:
    return sorted(store.glob("*/run.json"))


def _stored(store: Path, run_id: str) -> dict[str, object]:
    record: dict[str, object] = json.loads((store / run_id / "run.json").read_text())
    return record


async def test_a_users_cancel_wins_over_a_stop_and_is_not_resumed(tmp_path: Path) -> None:
    manager = _manager(tmp_path)
    state = await manager.start(REQUEST)
    manager.cancel(state.run_id)
    await manager.close()

    assert state.status == "cancelled"
    assert _stored(tmp_path, state.run_id)["status"] == "cancelled"
    again = _manager(tmp_path)
    assert again.resume() == []
    assert again.get(state.run_id).status == "cancelled"
    await again.close()


async def test_a_stop_then_a_start_in_one_process_resumes_the_run(tmp_path: Path) -> None:
    manager = _manager(tmp_path)
    state = await manager.start(REQUEST)
    await manager.close()  # interrupted, not cancelled
    assert _stored(tmp_path, state.run_id)["status"] in ("queued", "running")

    assert manager.resume() == [state.run_id]
    ended = await manager.wait(state.run_id)

    assert ended.status == "finished" and ended.outcome is not None
    assert _stored(tmp_path, state.run_id)["status"] == "finished"
    assert _stored(tmp_path, state.run_id)["attempts"] == 1  # the stop gave its attempt back


async def test_a_run_that_crashed_every_attempt_is_failed_not_resumed(tmp_path: Path) -> None:
    manager = _manager(tmp_path)
    state = await manager.start(REQUEST)
    await manager.close()
    record = _stored(tmp_path, state.run_id)
    # As a process killed during its attempts leaves it: counted, never ended.
    record.update(status="running", attempts=MAX_ATTEMPTS)
    (tmp_path / state.run_id / "run.json").write_text(json.dumps(record))

    restarted = _manager(tmp_path)
    assert restarted.resume() == []
    failed = restarted.get(state.run_id)
    await restarted.close()

    assert failed.status == "failed"
    assert f"interrupted {MAX_ATTEMPTS} times" in (failed.error or "")
    assert _stored(tmp_path, state.run_id)["status"] == "failed"


async def test_a_run_that_cannot_be_stored_is_refused_and_not_listed(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the run store should be")
    manager = _manager(blocked)

    with pytest.raises(OSError):
        await manager.start(REQUEST)

    assert manager.list() == []


async def test_concurrent_starts_under_one_key_start_one_run(tmp_path: Path) -> None:
    manager = _manager(tmp_path)
    # Each reads its data off the event loop; the first to come back is the run, the others
    # find it under the key.
    started = await asyncio.gather(
        *(manager.start(REQUEST, idempotency_key="one-key") for _ in range(4))
    )
    await manager.close()

    assert len({state.run_id for state in started}) == 1
    assert [state.run_id for state in manager.list()] == [started[0].run_id]
    assert _stored(tmp_path, started[0].run_id)["idempotency_key"] == "one-key"


async def test_a_start_still_checking_its_data_when_the_manager_closes_is_refused(
    tmp_path: Path,
) -> None:
    manager = _manager(tmp_path)
    starting = asyncio.create_task(manager.start(REQUEST))
    await asyncio.sleep(0)  # it is reading its data in a thread
    await manager.close()  # nothing runs yet: returns at once, and lets the store go

    with pytest.raises(TransientError, match="stopping"):
        await starting
    assert manager.list() == []
    assert _stored_runs(tmp_path) == []
