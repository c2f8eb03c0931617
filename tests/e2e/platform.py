"""Runs the whole platform (`python -m atp up`) as a process on free ports, for e2e tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from tests.support import free_port

SERVICE_PORTS = (
    "ATP_MARKET_DATA_PORT",
    "ATP_AGENTS_PORT",
    "ATP_META_AGENT_PORT",
    "ATP_BACKTESTER_PORT",
    "ATP_BROKER_PORT",
    "ATP_AUDIT_PORT",
)


def port_is_open(port: int) -> bool:
    """True if something accepts connections on 127.0.0.1:`port`."""
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Platform:
    """One `atp up` process and the ports it was given."""

    var_dir: Path
    extra_env: Mapping[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    def __post_init__(self) -> None:
        for name in (*SERVICE_PORTS, "ATP_EMBEDDED_NATS_PORT"):
            self.ports[name] = free_port()

    def url(self, port_name: str, path: str) -> str:
        """The URL of `path` on the service listening on `port_name`."""
        return f"http://127.0.0.1:{self.ports[port_name]}{path}"

    def start(self) -> None:
        """Starts `atp up` with its own var dir, ports and embedded nats-server."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("ATP_")}
        env.update({name: str(port) for name, port in self.ports.items()})
        env["ATP_VAR_DIR"] = str(self.var_dir)
        env.update(self.extra_env)
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.var_dir / f"atp-up-{time.monotonic_ns()}.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "atp", "up"], stdout=log, stderr=subprocess.STDOUT, env=env
            )

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Waits until every service answers `/readyz` with 200."""
        deadline = time.monotonic() + timeout
        pending = set(SERVICE_PORTS)
        while pending:
            self.assert_running()
            for name in list(pending):
                try:
                    if httpx.get(self.url(name, "/readyz"), timeout=1.0).status_code == 200:
                        pending.discard(name)
                except httpx.HTTPError:
                    pass
            if time.monotonic() > deadline:
                raise AssertionError(f"not ready after {timeout}s: {pending}\n{self.log()}")
            time.sleep(0.3)

    def get(self, port_name: str, path: str) -> Any:
        """GETs JSON from a service; fails the test on an error status."""
        response = httpx.get(self.url(port_name, path), timeout=10.0)
        assert response.status_code == 200, response.text
        return response.json()

    def stop(self, timeout: float = 40.0) -> int:
        """Sends Ctrl-C (SIGINT) and returns the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"atp up did not stop within {timeout}s\n{self.log()}") from None

    def assert_running(self) -> None:
        """Fails with the log if `atp up` has exited."""
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"atp up exited with {self.process.returncode}\n{self.log()}")

    def log(self) -> str:
        """The tail of the platform's output."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-6000:]
