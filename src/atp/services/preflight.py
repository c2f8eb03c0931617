"""What `atp up` checks before it starts anything: the var dir is its own and its ports are free.

Two platforms on one var dir would share the NATS durables, the replay cursor and the SQLite
database; two on the same ports would make every service of the second die on "address already
in use" while the readiness probes reach the first. So the launcher takes an exclusive lock on
`<var_dir>/atp.lock` (held for the platform's life, released by the kernel when the launcher
dies, however it dies) and then checks that every HTTP port binds. A refusal names what is in
use: the port, the service it was meant for and, where this machine lets us see it, the pid
and command line of the process holding it.

The embedded nats-server's port may be held by a nats-server an earlier launcher of this var dir
left behind (a launcher killed with SIGKILL cannot stop it): that one is reused, as
`EmbeddedNats` always did. Any other holder is refused, since sharing its durables would take
messages from the platform that owns it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import os
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from atp.core.errors import Conflict

LOCK_FILE = "atp.lock"
_LISTEN = "0A"  # the TCP state LISTEN in /proc/net/tcp
_PROC = Path("/proc")


@dataclass(frozen=True, slots=True)
class Holder:
    """A process that listens on a port."""

    pid: int
    command: str

    def __str__(self) -> str:
        return f"pid {self.pid} ({self.command})" if self.command else f"pid {self.pid}"


class VarDirLock:
    """An exclusive, non-blocking lock on `<var_dir>/atp.lock` that records its holder's pid."""

    def __init__(self, var_dir: Path) -> None:
        self.path = var_dir / LOCK_FILE
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Takes the lock, or raises at once if another process holds it.

        Raises:
            Conflict: another process (named by pid when it wrote one) holds the lock.
        """
        if self._file is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            pid = handle.read().strip()
            handle.close()
            who = f"another `atp up` (pid {pid})" if pid.isdigit() else "another `atp up`"
            stop = f" (Ctrl-C in its terminal, or kill -INT {pid})" if pid.isdigit() else ""
            raise Conflict(
                f"var dir {self.path.parent.resolve()} is in use by {who}: stop it first{stop}, "
                "or give this platform its own ATP_VAR_DIR and ports"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        """Lets the lock go (the file stays: removing it would race with the next taker)."""
        handle, self._file = self._file, None
        if handle is not None:
            with contextlib.suppress(OSError):
                handle.seek(0)
                handle.truncate()
            handle.close()


def check_ports(host: str, ports: Mapping[str, int]) -> None:
    """Raises unless every named port binds on `host` (port 0 means any, and is skipped).

    Raises:
        Conflict: one message naming every port in use, for whom it was meant, and its holder.
    """
    problems: list[str] = []
    by_port: dict[int, list[str]] = {}
    for name, port in ports.items():
        if port:
            by_port.setdefault(port, []).append(name)
    for port, names in sorted(by_port.items()):
        if len(names) > 1:
            problems.append(f"port {port} is set for {' and '.join(names)}")
            continue
        reason = bind_error(host, port)
        if reason is not None:
            problems.append(f"port {port} ({names[0]}) {reason}")
    if problems:
        raise Conflict(
            "; ".join(problems) + ". Another platform may be running: stop it first, or choose "
            "other ports (ATP_<SERVICE>_PORT)"
        )


def check_nats_port(host: str, port: int, store_dir: Path) -> None:
    """Raises unless the embedded nats-server's port is free or held by this var dir's server.

    Raises:
        Conflict: another process listens there (named when it can be seen).
    """
    if bind_error(host, port) is None:
        return
    holders = listeners(port)
    if any(serves_store(holder, store_dir) for holder in holders):
        return  # this var dir's own server, left behind by a launcher that was killed
    who = ", ".join(str(h) for h in holders) or "a process this user cannot see"
    raise Conflict(
        f"port {port} (embedded nats-server) is in use by {who}, which does not keep its data "
        f"in {store_dir.resolve()}: stop it, choose another ATP_EMBEDDED_NATS_PORT, or set "
        "ATP_NATS_URL to use that server on purpose"
    )


def bind_error(host: str, port: int) -> str | None:
    """Why `host:port` cannot be listened on (naming the holder if known), or None if it can."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        # As uvicorn binds: a port left in TIME_WAIT by a stopped platform is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                return f"cannot be bound on {host}: {exc.strerror}"
            holders = listeners(port)
            if not holders:
                return "is in use by a process this user cannot see"
            return "is in use by " + ", ".join(str(h) for h in holders)
    return None


def listeners(port: int) -> list[Holder]:
    """The processes listening on TCP `port` (any address) that this user may inspect.

    Reads /proc (Linux); elsewhere, or without permission, the list is empty.
    """
    inodes = set(_listening_inodes(port))
    if not inodes:
        return []
    found: list[Holder] = []
    for pid in _pids():
        if any(link in inodes for link in _socket_links(pid)):
            found.append(Holder(pid, command_of(pid)))
    return found


def command_of(pid: int) -> str:
    """The command line of `pid`, space-separated ('' if it cannot be read)."""
    try:
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    return " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)


def serves_store(holder: Holder, store_dir: Path) -> bool:
    """True if `holder` is a nats-server whose JetStream store (`-sd`) is `store_dir`."""
    try:
        raw = (_PROC / str(holder.pid) / "cmdline").read_bytes()
        cwd = Path(os.readlink(_PROC / str(holder.pid) / "cwd"))
    except OSError:
        return False
    argv = [part.decode(errors="replace") for part in raw.split(b"\0") if part]
    if not argv or Path(argv[0]).name != "nats-server":
        return False
    for flag, value in itertools.pairwise(argv):
        if flag in ("-sd", "--store_dir"):
            return (cwd / value).resolve() == store_dir.resolve()
    return False


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _listening_inodes(port: int) -> Iterator[str]:
    for table in ("tcp", "tcp6"):
        try:
            lines = (_PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # sl, local_address (hex ip:port), rem_address, st, queues, ..., uid, timeout, inode
            listening = len(fields) > 9 and fields[3] == _LISTEN
            if listening and int(fields[1].rsplit(":", 1)[1], 16) == port:
                yield f"socket:[{fields[9]}]"


def _pids() -> Iterator[int]:
    with contextlib.suppress(OSError):
        for entry in _PROC.iterdir():
            if entry.name.isdigit():
                yield int(entry.name)


def _socket_links(pid: int) -> Iterator[str]:
    fd_dir = _PROC / str(pid) / "fd"
    try:
        entries = list(fd_dir.iterdir())
    except OSError:
        return
    for entry in entries:
        with contextlib.suppress(OSError):
            yield os.readlink(entry)
