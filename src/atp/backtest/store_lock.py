"""The lock that keeps a run store to one backtester at a time.

Two backtesters on one `var/` would both resume its interrupted runs and write the same files.
The first to start takes an exclusive `fcntl.flock` on `<store>/backtester.lock` and holds it
until it stops; the next one is refused with the store's path and the holder's pid (written in
the file). The kernel drops the lock when its holder's process ends, however it ends, so a
killed service never leaves its store locked. Locks are per open file, so two services in one
process exclude each other too.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from atp.core.errors import ConfigurationError

LOCK_FILE = "backtester.lock"


class StoreLock:
    """An exclusive lock on the run store `folder`."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this lock holds the store now."""
        return self._fd is not None

    def acquire(self) -> None:
        """Takes the store (nothing to do if already held).

        Raises:
            ConfigurationError: another backtester holds it; names the store and its pid.
            OSError: the store or its lock file cannot be created.
        """
        if self._fd is not None:
            return
        self._folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ConfigurationError(
                f"the backtest store {self._folder} is in use by another backtester "
                f"(pid {holder}); stop it, or give this one its own ATP_VAR_DIR"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Lets the store go (nothing to do if not held)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        os.close(fd)  # closing the file drops its flock
