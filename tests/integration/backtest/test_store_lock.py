"""One backtester per run store: a second one on the same `var/` refuses to start, touching
nothing."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

import pytest
from tests.integration.backtest.serving import SEED_BODY, serving
from tests.support import free_port

from atp.bus.memory import InMemoryBus
from atp.bus.subjects import BACKTEST_RESULTS
from atp.core.errors import ConfigurationError
from atp.services.backtester import bootstrap
from atp.services.settings import AtpSettings

# Two years: still running when its service is stopped at once, so it is left to resume.
LONG_BODY = {**SEED_BODY, "start_date": "2023-01-01T00:00:00", "end_date": "2024-12-31"}


async def _interrupted_run(var_dir: Path) -> str:
    """Starts a run under `var_dir` and stops its service at once; returns the run's id."""
    async with serving(AtpSettings(var_dir=var_dir)) as client:
        started = await client.post("/backtest/start", json=LONG_BODY)
    run_id: str = started.json()["run_id"]
    return run_id


def _files(folder: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}


async def test_a_second_backtester_on_one_store_refuses_to_start_and_touches_no_run(
    tmp_path: Path,
) -> None:
    settings = AtpSettings(var_dir=tmp_path / "var")
    store = settings.var_dir / "backtests"
    running = await bootstrap(settings, bus=InMemoryBus())
    await running.start()
    # A run a stop interrupted, put in the store behind the running service's back: whichever
    # service starts next on this store would resume it.
    run_id = await _interrupted_run(tmp_path / "elsewhere")
    shutil.move(tmp_path / "elsewhere" / "backtests" / run_id, store / run_id)
    before = _files(store)

    second_bus = InMemoryBus()
    second = await bootstrap(settings, bus=second_bus)
    with pytest.raises(ConfigurationError) as refused:
        await second.start()

    message = str(refused.value)
    assert str(store) in message and f"pid {os.getpid()}" in message
    assert _files(store) == before
    assert second.manager.list() == []
    assert await second_bus.history(BACKTEST_RESULTS) == []

    # Once the first one stops, the store is free: the next start takes it and resumes the run.
    await running.stop()
    await second.start()
    try:
        assert second.manager.get(run_id).status in ("queued", "running")
    finally:
        await second.stop()


async def test_atp_serve_backtester_on_a_store_in_use_exits_with_the_reason(
    tmp_path: Path,
) -> None:
    settings = AtpSettings(var_dir=tmp_path)
    running = await bootstrap(settings, bus=InMemoryBus())
    await running.start()
    env = {
        **os.environ,
        "ATP_VAR_DIR": str(tmp_path),
        # Never reached: the store is taken first. Nothing listens on it, should it be tried.
        "ATP_NATS_URL": f"nats://127.0.0.1:{free_port()}",
        "ATP_BACKTESTER_PORT": str(free_port()),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "atp",
        "serve",
        "backtester",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await running.stop()

    error = stderr.decode()
    assert process.returncode == 2, error
    assert "configuration error" in error and str(tmp_path / "backtests") in error
    assert f"pid {os.getpid()}" in error
