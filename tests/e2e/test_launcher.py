"""`atp up` refuses at once what it cannot own, and fails loudly when a service keeps dying.

A second `atp up` beside a running platform used to print "all services ready" (its probes
reached the first platform's services), crash-loop every service on "address already in use"
while sharing the first one's NATS durables and database, and end with exit code 0.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from tests.support import free_port

from atp.services.catalog import BY_NAME
from atp.services.launcher import EXIT_GAVE_UP, EXIT_IN_USE, run_platform
from atp.services.preflight import VarDirLock
from atp.services.settings import AtpSettings

from .platform import SERVICE_PORTS, port_is_open

pytestmark = pytest.mark.e2e


def _environment(var_dir: Path) -> tuple[dict[str, str], dict[str, int]]:
    ports = {name: free_port() for name in (*SERVICE_PORTS, "ATP_EMBEDDED_NATS_PORT")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATP_")}
    env.update({name: str(port) for name, port in ports.items()})
    env["ATP_VAR_DIR"] = str(var_dir)
    return env, ports


def _atp_up(env: dict[str, str], timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "atp", "up"],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize(
    ("setting", "meant_for"),
    [("ATP_AGENTS_PORT", "agents"), ("ATP_EMBEDDED_NATS_PORT", "embedded nats-server")],
)
def test_atp_up_refuses_a_port_in_use_at_once_naming_port_service_and_pid(
    tmp_path: Path, setting: str, meant_for: str
) -> None:
    env, ports = _environment(tmp_path / "var")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", ports[setting]))
        taken.listen()
        done = _atp_up(env)
    assert done.returncode == EXIT_IN_USE, done.stdout + done.stderr
    assert f"port {ports[setting]} ({meant_for}) is in use by pid {os.getpid()}" in done.stderr
    assert "all services ready" not in done.stdout
    # Nothing was started: no nats-server, no service.
    assert not (tmp_path / "var" / "nats").exists()
    assert not any(port_is_open(ports[name]) for name in SERVICE_PORTS)


def test_atp_up_refuses_a_var_dir_another_platform_holds_naming_its_pid(tmp_path: Path) -> None:
    env, ports = _environment(tmp_path / "var")
    other = VarDirLock(tmp_path / "var")  # what the running platform's launcher holds
    other.acquire()
    try:
        done = _atp_up(env)
    finally:
        other.release()
    assert done.returncode == EXIT_IN_USE, done.stdout + done.stderr
    assert f"is in use by another `atp up` (pid {os.getpid()})" in done.stderr
    assert str((tmp_path / "var").resolve()) in done.stderr
    assert not port_is_open(ports["ATP_EMBEDDED_NATS_PORT"])


async def test_a_service_that_keeps_dying_stops_the_platform_with_a_failure_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env, ports = _environment(tmp_path / "var")
    for name, value in env.items():
        if name.startswith("ATP_"):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("ATP_MARKET_DATA_SPEED", "-1")  # market-data refuses to start
    settings = AtpSettings(
        var_dir=tmp_path / "var",
        embedded_nats_port=ports["ATP_EMBEDDED_NATS_PORT"],
        market_data_port=ports["ATP_MARKET_DATA_PORT"],
    )
    code = await run_platform(settings, services=(BY_NAME["market-data"],))
    out, err = capsys.readouterr()
    assert code == EXIT_GAVE_UP, out + err
    assert "market-data keeps dying" in err
    assert "all services ready" not in out
    assert not port_is_open(ports["ATP_EMBEDDED_NATS_PORT"]), "the nats-server was left running"
    # The var dir is free again for the next `atp up`.
    VarDirLock(tmp_path / "var").acquire()
