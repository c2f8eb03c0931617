"""A process that records events and says "acked <event id>" after each commit, then waits.

Run as `python writer_process.py <database url> <first story day> <stories>`; the tests kill it
with SIGKILL at a moment of their choosing and then look at what the database kept.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from events import story

from atp.core.clock import SystemClock
from atp.storage.database import Database, migrate
from atp.storage.recorder import AuditRecorder


async def main(url: str, first_day: int, stories: int) -> None:
    await migrate(url)
    database = Database(url)
    recorder = AuditRecorder(database, SystemClock())
    for day in range(first_day, first_day + stories):
        for event in story("AAPL", day).all:
            await recorder.on_event(event)
            # The commit has returned: this is the acknowledgement a bus consumer would send.
            print(f"acked {event.event_id}", flush=True)
    print("done", flush=True)
    await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
