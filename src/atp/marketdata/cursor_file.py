"""Persists a replay cursor as a small JSON file, written atomically and fsynced.

The file names the replay it belongs to by a fingerprint (files, start, warm-up, basis, zone):
a cursor written for other data is ignored, never applied to the wrong series.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime
from pathlib import Path

from atp.marketdata.replay import ReplayCursor

log = logging.getLogger(__name__)


def load_cursor(path: Path, fingerprint: str) -> ReplayCursor | None:
    """The cursor saved at `path` for `fingerprint`, or None (no file, unreadable, other data)."""
    try:
        saved = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable cursor %s: %s", path, exc)
        return None
    if not isinstance(saved, dict) or saved.get("fingerprint") != fingerprint:
        log.info("cursor %s belongs to another replay; starting from the beginning", path)
        return None
    last = saved.get("last_bar_time")
    try:
        return ReplayCursor(datetime.fromisoformat(last) if last else None)
    except (TypeError, ValueError):
        log.warning("ignoring cursor %s with a bad last_bar_time %r", path, last)
        return None


def save_cursor(path: Path, fingerprint: str, cursor: ReplayCursor, files: list[str]) -> None:
    """Writes the cursor so that `path` holds either the old or the new one, never a mix."""
    last = cursor.last_bar_time
    body = {
        "version": 1,
        "fingerprint": fingerprint,
        "files": files,
        "last_bar_time": last.isoformat() if last else None,
    }
    write_atomically(path, json.dumps(body, indent=2).encode())


def write_atomically(path: Path, data: bytes) -> None:
    """Temp file, fsync, rename over `path`, fsync the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    with temporary.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
