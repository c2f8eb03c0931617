"""`atp up`: the whole platform in one command.

Starts the embedded nats-server (unless `ATP_NATS_URL` names one), runs every service as its own
process (`python -m atp serve <name>`, so each keeps its own composition root), prefixes their
output with their name, waits until each answers `/readyz`, restarts a service that dies, and on
Ctrl-C stops every service and then the nats-server it started. State lives under `var/`, so the
next `atp up` picks up where this one stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from dataclasses import dataclass, field

import httpx

from atp.services.catalog import SERVICES, ServiceEntry
from atp.services.embedded_nats import EmbeddedNats
from atp.services.settings import AtpSettings

log = logging.getLogger("atp.launcher")

READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0
MAX_RESTARTS = 5


@dataclass
class _Child:
    entry: ServiceEntry
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    pump: asyncio.Task[None] | None = field(default=None, repr=False)


async def run_platform(settings: AtpSettings) -> int:
    """Runs every service until SIGINT/SIGTERM; returns the exit code."""
    logging.basicConfig(level=settings.log_level.upper(), format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # readiness polls are not news
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    embedded: EmbeddedNats | None = None
    env = dict(os.environ)
    if settings.uses_embedded_nats:
        embedded = EmbeddedNats(
            store_dir=settings.var_dir / "nats", port=settings.embedded_nats_port
        )
        await asyncio.to_thread(embedded.start)
        env["ATP_NATS_URL"] = embedded.url
        print(
            f"[launcher] embedded nats-server on {embedded.url} (data in {settings.var_dir}/nats)"
        )
    else:
        print(f"[launcher] using NATS at {settings.nats_url}")
    print(f"[launcher] database: {_redact(settings.effective_database_url)}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    children = [_Child(entry) for entry in SERVICES]
    try:
        for child in children:
            await _spawn(child, env)
        ready = await _wait_ready(children, settings, stop)
        if ready:
            _print_ready(children, settings)
        await _supervise(children, env, stop)
    finally:
        await _stop_all(children)
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
            print("[launcher] nats-server stopped")
    return 0


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
                    if (await client.get(url)).status_code == 200:
                        del pending[name]
            if asyncio.get_running_loop().time() > deadline:
                print(f"[launcher] not ready after {READY_TIMEOUT_SECONDS:.0f}s: {sorted(pending)}")
                return False
            if pending:
                await asyncio.sleep(0.25)
    return not pending


def _print_ready(children: list[_Child], settings: AtpSettings) -> None:
    print("[launcher] all services ready:")
    for child in children:
        print(f"[launcher]   {child.entry.name:16} http://127.0.0.1:{child.entry.port(settings)}")
    print("[launcher] press Ctrl-C to stop")


async def _supervise(children: list[_Child], env: dict[str, str], stop: asyncio.Event) -> None:
    while not stop.is_set():
        for child in children:
            process = child.process
            if process is None or process.returncode is None:
                continue
            if child.restarts >= MAX_RESTARTS:
                print(f"[launcher] {child.entry.name} keeps dying; stopping the platform")
                stop.set()
                break
            child.restarts += 1
            print(f"[launcher] {child.entry.name} exited ({process.returncode}); restarting")
            await _spawn(child, env)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)


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
