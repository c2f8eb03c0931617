"""`atp up`: the whole platform in one command.

Starts the embedded nats-server (unless `ATP_NATS_URL` names one), runs every service as its own
process (`python -m atp serve <name>`, so each keeps its own composition root), prefixes their
output with their name, waits until each answers `/readyz`, restarts a service that dies, and on
Ctrl-C stops every service and then the nats-server it started. State lives under `var/`, so the
next `atp up` picks up where this one stopped.

Before it starts anything it takes the var dir's lock and checks its ports (`preflight.py`): a
second `atp up` beside a running one exits at once, non-zero, naming what is in use. A service
that keeps dying (`MAX_RESTARTS` restarts, each within `STABLE_SECONDS` of its start) stops the
platform with a non-zero exit code too.

The services get the launcher's environment plus the defaults of a replay (`replay_defaults`):
market-data replays history, so the risk engine's trading day follows the bars
(`daily_loss.day_boundary = market`, docs/risk.md) unless the operator set a day boundary.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from atp.core.errors import Conflict
from atp.services.catalog import SERVICES, ServiceEntry
from atp.services.embedded_nats import EmbeddedNats
from atp.services.preflight import VarDirLock, check_nats_port, check_ports, listeners
from atp.services.settings import AtpSettings

log = logging.getLogger("atp.launcher")

READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0
MAX_RESTARTS = 5
STABLE_SECONDS = 60.0
"""A service that ran this long before it died is restarted with a clean record."""
EXIT_IN_USE = 3
"""`atp up`'s exit code when another platform holds its var dir or ports."""
EXIT_GAVE_UP = 1
"""`atp up`'s exit code when a service kept dying and the platform was stopped."""
DAY_BOUNDARY_VARIABLE = "ATP_RISK_LIMITS__DAILY_LOSS__DAY_BOUNDARY"


@dataclass
class _Child:
    entry: ServiceEntry
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    started_at: float = 0.0
    pump: asyncio.Task[None] | None = field(default=None, repr=False)


async def run_platform(
    settings: AtpSettings, *, services: Sequence[ServiceEntry] = SERVICES
) -> int:
    """Runs every service until SIGINT/SIGTERM; returns the exit code.

    0 after a stop by signal; `EXIT_IN_USE` without starting anything when another platform
    holds the var dir or a port; `EXIT_GAVE_UP` when a service kept dying.
    """
    logging.basicConfig(level=settings.log_level.upper(), format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # readiness polls are not news
    lock = VarDirLock(settings.var_dir)
    try:
        lock.acquire()
        check_ports(settings.host, {entry.name: entry.port(settings) for entry in services})
        if settings.uses_embedded_nats:
            check_nats_port("127.0.0.1", settings.embedded_nats_port, _nats_store(settings))
    except Conflict as exc:
        lock.release()
        print(f"[launcher] cannot start: {exc}", file=sys.stderr, flush=True)
        return EXIT_IN_USE
    try:
        return await _run(settings, services)
    finally:
        lock.release()


def replay_defaults() -> dict[str, str]:
    """The settings `atp up` adds for its services because market-data replays history.

    The risk engine's trading day follows the replayed bars (`day_boundary=market`), so the
    day's P&L is the replayed day's, not the wall-clock day's; a day boundary the operator set
    (`ATP_RISK_LIMITS` or `ATP_RISK_LIMITS__DAILY_LOSS__...`) is left alone. Limits that do not
    validate are left to the meta-agent, which names the bad field when it starts.
    """
    from atp.services.risk_wiring import RiskSettings

    try:
        limits = RiskSettings().limits
    except ValueError:  # pydantic's ValidationError and SettingsError are ValueErrors
        return {}
    if "day_boundary" in limits.daily_loss.model_fields_set:
        return {}
    return {DAY_BOUNDARY_VARIABLE: "market"}


def _nats_store(settings: AtpSettings) -> Path:
    return settings.var_dir / "nats"


async def _run(settings: AtpSettings, services: Sequence[ServiceEntry]) -> int:
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    embedded: EmbeddedNats | None = None
    env = {**os.environ, **replay_defaults()}
    if settings.uses_embedded_nats:
        embedded = EmbeddedNats(store_dir=_nats_store(settings), port=settings.embedded_nats_port)
        await asyncio.to_thread(embedded.start)
        env["ATP_NATS_URL"] = embedded.url
        reused = " (reused: left running by an earlier launcher)" if embedded.reused else ""
        print(
            f"[launcher] embedded nats-server on {embedded.url} "
            f"(data in {settings.var_dir}/nats){reused}"
        )
    else:
        print(f"[launcher] using NATS at {settings.nats_url}")
    print(f"[launcher] database: {_redact(settings.effective_database_url)}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    children = [_Child(entry) for entry in services]
    supervisor: asyncio.Task[bool] | None = None
    try:
        for child in children:
            await _spawn(child, env)
        # Supervised from the first second: a service that dies while others start is restarted
        # (or stops the platform) instead of being waited for until the readiness timeout.
        supervisor = asyncio.create_task(_supervise(children, env, stop))
        if await _wait_ready(children, settings, stop):
            _print_ready(children, settings)
        gave_up = await supervisor
    finally:
        if supervisor is not None and not supervisor.done():
            supervisor.cancel()
            await asyncio.gather(supervisor, return_exceptions=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await _stop_all(children)
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
            print("[launcher] nats-server stopped")
    return EXIT_GAVE_UP if gave_up else 0


async def _spawn(child: _Child, env: dict[str, str]) -> None:
    child.process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "atp",
        "serve",
        child.entry.name,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
        start_new_session=True,  # Ctrl-C reaches the launcher only; it stops children in order
    )
    child.started_at = asyncio.get_running_loop().time()
    child.pump = asyncio.create_task(_pump_output(child.entry.name, child.process))


async def _pump_output(name: str, process: asyncio.subprocess.Process) -> None:
    assert process.stdout is not None
    while line := await process.stdout.readline():
        sys.stdout.write(f"[{name}] {line.decode(errors='replace')}")
        sys.stdout.flush()


async def _wait_ready(children: list[_Child], settings: AtpSettings, stop: asyncio.Event) -> bool:
    deadline = asyncio.get_running_loop().time() + READY_TIMEOUT_SECONDS
    pending = {child.entry.name: child for child in children}
    async with httpx.AsyncClient(timeout=2.0) as client:
        while pending and not stop.is_set():
            for name, child in list(pending.items()):
                url = f"http://127.0.0.1:{child.entry.port(settings)}/readyz"
                with contextlib.suppress(httpx.HTTPError):
                    answered = (await client.get(url)).status_code == 200
                    # Only our own child's answer counts: a port that answers while the child
                    # is dead is someone else's.
                    if answered and _alive(child) and _listens(child, settings):
                        del pending[name]
            if asyncio.get_running_loop().time() > deadline:
                print(f"[launcher] not ready after {READY_TIMEOUT_SECONDS:.0f}s: {sorted(pending)}")
                return False
            if pending:
                await asyncio.sleep(0.25)
    return not pending


def _alive(child: _Child) -> bool:
    return child.process is not None and child.process.returncode is None


def _listens(child: _Child, settings: AtpSettings) -> bool:
    """True if the child's port is held by the child (or if holders cannot be seen)."""
    assert child.process is not None
    holders = listeners(child.entry.port(settings))
    return not holders or any(holder.pid == child.process.pid for holder in holders)


def _print_ready(children: list[_Child], settings: AtpSettings) -> None:
    print("[launcher] all services ready:")
    for child in children:
        print(f"[launcher]   {child.entry.name:16} http://127.0.0.1:{child.entry.port(settings)}")
    print("[launcher] press Ctrl-C to stop")


async def _supervise(children: list[_Child], env: dict[str, str], stop: asyncio.Event) -> bool:
    """Restarts children that die until `stop` is set; True if one kept dying (we gave up)."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        for child in children:
            process = child.process
            if process is None or process.returncode is None:
                continue
            if loop.time() - child.started_at >= STABLE_SECONDS:
                child.restarts = 0  # it ran fine for a while: this is not a crash loop
            if child.restarts >= MAX_RESTARTS:
                print(
                    f"[launcher] {child.entry.name} keeps dying (exit code {process.returncode} "
                    f"after {child.restarts} restarts); stopping the platform",
                    file=sys.stderr,
                    flush=True,
                )
                stop.set()
                return True
            child.restarts += 1
            print(f"[launcher] {child.entry.name} exited ({process.returncode}); restarting")
            await _spawn(child, env)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)
    return False


async def _stop_all(children: list[_Child]) -> None:
    # Producers first, so consumers can finish what is in flight.
    for child in reversed(children):
        process = child.process
        if process is None or process.returncode is not None:
            continue
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
    for child in children:
        process = child.process
        if process is None:
            continue
        try:
            await asyncio.wait_for(process.wait(), timeout=STOP_TIMEOUT_SECONDS)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        if child.pump is not None:
            await asyncio.gather(child.pump, return_exceptions=True)
    print("[launcher] services stopped")


def _redact(url: str) -> str:
    """The URL without its password, for logs."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url
