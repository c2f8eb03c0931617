"""Backtest runs as a service: start in a worker thread, report progress, cancel, keep results.

The engine is CPU-bound and synchronous, so each run, and the check of a request's data before
it is accepted, goes to a thread and the event loop (HTTP, NATS) stays responsive. Runs are
kept in memory and under `<var_dir>/backtests/<run id>/`: run.json from the moment a run is
accepted (with the `Idempotency-Key` it was started under, so a retry finds it even after a
crash), then results.json, trades.csv, equity.csv and report.html once it ends (and run.json
its final equity, the one figure the run list shows: a run's results are built or read only
when that run is asked for). A restarted service lists the runs it finds there, and resumes
the ones that had not ended (a stop or a crash interrupted them; a run is deterministic, so
running it again gives what the first attempt would have). Each ended run is published as a
`BacktestResult` on `backtest.results` (and stored from there in the SQL `backtest_runs`
table). One manager at a time holds a store, from `open` (or its first `start` or `resume`) to
`close` (see `atp.backtest.store_lock`). A `RunObserver` is told when runs start and end.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from atp.backtest.engine import Cancelled
from atp.backtest.model import BacktestRequest
from atp.backtest.report import render_report
from atp.backtest.results import (
    BacktestOutcome,
    equity_csv,
    outcome_dict,
    results_json,
    trades_csv,
)
from atp.backtest.runner import load_data, run_backtest, validate
from atp.backtest.store_lock import StoreLock
from atp.core.clock import Clock
from atp.core.errors import Conflict, InvalidInput, NotFound, TransientError
from atp.core.events import BacktestResult
from atp.core.ids import RunId, Symbol, new_event_id
from atp.core.money import normalize

log = logging.getLogger(__name__)

Publisher = Callable[[BacktestResult], Awaitable[None]]

MAX_ATTEMPTS = 3
"""Crashed attempts after which a stored run is failed rather than resumed."""

LEGACY_KEYS_FOLDER = "idempotency"
"""Where versions before keys were kept in run.json wrote one file per `Idempotency-Key`."""


@dataclass(slots=True)
class RunState:
    """One run's status as the API shows it."""

    run_id: RunId
    request: BacktestRequest
    status: str = "queued"
    progress: float = 0.0
    error: str | None = None
    created_at: datetime | None = None
    finished_at: datetime | None = None
    outcome: BacktestOutcome | None = None
    # The one figure the run list shows, kept apart so listing never builds the results.
    final_equity: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    # A user's cancel, as opposed to the service stopping (which leaves the run to resume).
    cancelled_by_user: bool = False
    # Attempts a stop or a crash interrupted (a graceful stop gives its attempt back).
    attempts: int = 0
    # The `Idempotency-Key` the run was started under, and the SHA-256 of its request.
    idempotency_key: str | None = None
    fingerprint: str | None = None


class RunObserver(Protocol):
    """Told when an attempt at a run starts and when a run ends (for the service's metrics)."""

    def run_started(self, state: RunState) -> None:
        """An attempt at `state` starts running (a resumed run starts again)."""

    def run_ended(self, state: RunState, seconds: float | None) -> None:
        """`state` ended (finished, failed or cancelled) after running `seconds` (None: never ran).

        Not called for an attempt a stop interrupted: that run is resumed, not ended.
        """


class RunManager:
    """Starts, tracks, cancels and stores backtest runs."""

    def __init__(
        self,
        *,
        data_dir: Path,
        store_dir: Path,
        clock: Clock,
        publish: Publisher | None = None,
        observer: RunObserver | None = None,
    ) -> None:
        self._data_dir = data_dir
        self._observer = observer
        self._store = store_dir
        self._clock = clock
        self._publish = publish
        self._runs: dict[RunId, RunState] = {}
        self._keyed: dict[str, RunState] = {}  # Idempotency-Key -> the run first started under it
        self._tasks: set[asyncio.Task[None]] = set()
        self._checks = ThreadPoolExecutor(2, thread_name_prefix="backtest-check")
        self._unfinished: list[RunState] = []  # stored runs a stop or a crash interrupted
        self._stopping = False
        self._lock = StoreLock(store_dir)
        self._loaded = False

    @property
    def store_dir(self) -> Path:
        """Where runs (and what else the service keeps across restarts) are written."""
        return self._store

    def open(self) -> None:
        """Takes the run store, and the first time lists the runs stored there.

        `start` and `resume` open the manager too; `close` lets the store go. Nothing is read
        or written in the store before it is taken.

        Raises:
            ConfigurationError: another backtester holds the store (see `StoreLock`).
        """
        if not self._lock.held:
            self._lock.acquire()
            self._stopping = False
        if not self._loaded:
            self._load_stored()
            self._loaded = True

    async def start(
        self, request: BacktestRequest, *, idempotency_key: str | None = None
    ) -> RunState:
        """Validates `request` (InvalidInput on bad input) and starts it in the background.

        Under an `idempotency_key` already used, starts nothing and returns the run first
        started under it (InvalidInput if that run was asked for with another request). The
        key is stored in the run's run.json before the run starts, so it survives a crash at
        any point after.
        """
        self.open()
        fingerprint = None if idempotency_key is None else request_fingerprint(request)
        first = self._first_under(idempotency_key, fingerprint)
        if first is not None:
            return first
        # Reading and checking the data (refused now with a 422, not later) takes 50-100 ms a
        # daily file, more on a busy machine: in threads of their own, so the loop keeps
        # answering HTTP and NATS, and a start never queues behind the runs (which fill the
        # loop's default executor).
        await asyncio.get_running_loop().run_in_executor(self._checks, self._check, request)
        if not self._lock.held:  # closed meanwhile: the store is no longer this one's to write
            raise TransientError("the backtester is stopping; start the run once it is back")
        # A retry under the same key may have been accepted while this one read the data.
        # From this look-up to the key's registration there is no await, so concurrent retries
        # cannot both miss the key. That keeps the write of run.json (0.3-0.6 ms, 1.5 ms at p90
        # on a busy machine) on the loop: it is the one write that makes the run and its key
        # durable together, and off the loop it would need the key held as in flight meanwhile.
        first = self._first_under(idempotency_key, fingerprint)
        if first is not None:
            return first
        run_id = RunId(new_event_id())
        state = RunState(
            run_id,
            request,
            created_at=self._clock.now(),
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
        )
        self._launch(state)  # stored before it is listed: known, also to a restarted service
        self._runs[run_id] = state
        if idempotency_key is not None:
            self._keyed[idempotency_key] = state
        return state

    def _check(self, request: BacktestRequest) -> None:
        validate(request)
        load_data(request, self._data_dir)

    def _first_under(self, key: str | None, fingerprint: str | None) -> RunState | None:
        first = None if key is None else self._keyed.get(key)
        if first is not None and first.fingerprint != fingerprint:
            raise InvalidInput(
                f"Idempotency-Key {key!r} was used with a different request body; use a new key"
            )
        return first

    def resume(self) -> list[RunId]:
        """Starts again the stored runs that never ended; returns their ids.

        A run whose attempts crashed `MAX_ATTEMPTS` times is failed instead (and announced on
        `backtest.results` like any other ended run): running it again would most likely crash
        the service again.
        """
        self.open()
        unfinished, self._unfinished = self._unfinished, []
        resumed = []
        for state in unfinished:
            if state.attempts >= MAX_ATTEMPTS:
                state.status = "failed"
                state.error = (
                    f"interrupted {state.attempts} times before it ended (the service crashed "
                    "during each attempt); not started again"
                )
                state.finished_at = self._clock.now()
                self._write_meta(state)
                if self._observer is not None:
                    self._observer.run_ended(state, None)
                # Announced like any other ended run; resume is sync, so in a task that
                # close() waits for.
                self._spawn(self._publish_result(state))
                continue
            log.info("resuming backtest %s (interrupted before it ended)", state.run_id)
            state.status, state.progress = "queued", 0.0
            state.cancel.clear()
            state.done = asyncio.Event()
            self._launch(state)
            resumed.append(state.run_id)
        return resumed

    def _launch(self, state: RunState) -> None:
        # Counted before it runs: if the process dies during the attempt, the count stands.
        state.attempts += 1
        self._write_meta(state)
        self._spawn(self._execute(state))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def get(self, run_id: str) -> RunState:
        """The run `run_id`; NotFound if unknown."""
        state = self._runs.get(RunId(run_id))
        if state is None:
            raise NotFound(f"no backtest run {run_id}")
        return state

    def list(self) -> list[RunState]:
        """Every run, newest first."""
        return sorted(
            self._runs.values(),
            key=lambda s: s.created_at or datetime.min.replace(tzinfo=UTC),
            reverse=True,
        )

    def cancel(self, run_id: str) -> RunState:
        """Asks a queued or running run to stop; Conflict if it already ended."""
        state = self.get(run_id)
        if state.status not in ("queued", "running"):
            raise Conflict(f"run {run_id} is {state.status}; only a queued or running run stops")
        state.cancelled_by_user = True
        state.cancel.set()
        return state

    def file(self, run_id: str, name: str) -> str:
        """The text of one stored file of a finished run."""
        state = self.get(run_id)
        path = self._store / state.run_id / name
        if state.status != "finished" or not path.exists():
            raise Conflict(f"run {run_id} is {state.status}; its {name} exists once finished")
        return path.read_text(encoding="utf-8")

    def results(self, state: RunState) -> dict[str, Any] | None:
        """A finished run's results: from its outcome while in memory, else its results.json.

        A run loaded from the store keeps only its final equity in memory; its results are read
        when asked for.
        """
        if state.status != "finished":
            return None
        if state.outcome is not None:
            return outcome_dict(state.outcome)
        path = self._store / state.run_id / "results.json"
        if not path.exists():
            return None
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return loaded

    async def wait(self, run_id: str) -> RunState:
        """Waits for a run to end (for tests and the CLI)."""
        state = self.get(run_id)
        if state.status in ("queued", "running"):
            await state.done.wait()
        return state

    async def close(self) -> None:
        """Stops running runs, waits for them and for pending announcements, lets the store go.

        A run stopped this way is not cancelled: it stays stored as not ended, and the next
        start of the service resumes it.
        """
        self._stopping = True
        for state in self._runs.values():
            state.cancel.set()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._lock.release()

    async def _execute(self, state: RunState) -> None:
        state.status = "running"
        loop = asyncio.get_running_loop()
        if self._observer is not None:
            self._observer.run_started(state)
        began = time.perf_counter()

        def progress(percent: float) -> None:
            state.progress = round(percent, 1)

        try:
            outcome = await loop.run_in_executor(None, self._run_sync, state, progress)
        except Cancelled:
            if self._stopping and not state.cancelled_by_user:
                # Not ended: stored as such and resumed by the next start; a graceful stop
                # gives the attempt back (only crashes count towards MAX_ATTEMPTS).
                state.attempts -= 1
                self._write_meta(state)
                self._unfinished.append(state)
                state.done.set()
                return
            state.status = "cancelled"
        except Exception as exc:
            log.exception("backtest %s failed", state.run_id)
            state.status, state.error = "failed", str(exc)
        else:
            state.outcome, state.status, state.progress = outcome, "finished", 100.0
            state.final_equity = format(normalize(outcome.main.final_equity), "f")
        state.finished_at = self._clock.now()
        self._write_meta(state)
        if self._observer is not None:
            self._observer.run_ended(state, time.perf_counter() - began)
        await self._publish_result(state)
        state.done.set()

    def _run_sync(self, state: RunState, progress: Callable[[float], None]) -> BacktestOutcome:
        outcome = run_backtest(
            state.request, self._data_dir, progress=progress, cancelled=state.cancel.is_set
        )
        folder = self._store / state.run_id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "results.json").write_text(results_json(outcome), encoding="utf-8")
        (folder / "trades.csv").write_text(trades_csv(outcome.main.fills), encoding="utf-8")
        (folder / "equity.csv").write_text(equity_csv(outcome.main.equity), encoding="utf-8")
        loaded = load_data(state.request, self._data_dir)
        report = render_report(
            outcome, run_id=state.run_id, series=loaded.series, data_dir=self._data_dir
        )
        (folder / "report.html").write_text(report, encoding="utf-8")
        return outcome

    def _write_meta(self, state: RunState) -> None:
        folder = self._store / state.run_id
        folder.mkdir(parents=True, exist_ok=True)
        meta = {
            "run_id": state.run_id,
            "status": state.status,
            "error": state.error,
            "created_at": state.created_at.isoformat() if state.created_at else None,
            "finished_at": state.finished_at.isoformat() if state.finished_at else None,
            "attempts": state.attempts,
            "final_equity": state.final_equity,
            "idempotency_key": state.idempotency_key,
            "fingerprint": state.fingerprint,
            "request": state.request.model_dump(mode="json"),
        }
        # Written whole, then renamed: a crash leaves the old run.json or the new one.
        staged = folder / f"run.json.{os.getpid()}.tmp"
        staged.write_text(json.dumps(meta, indent=1), encoding="utf-8")
        os.replace(staged, folder / "run.json")

    async def _publish_result(self, state: RunState) -> None:
        if self._publish is not None:
            try:
                await self._publish(self.result_event(state))
            except Exception:
                # The run and its files stand; a bus outage must not turn it into a failure.
                log.exception("could not publish the result of backtest %s", state.run_id)

    def result_event(self, state: RunState) -> BacktestResult:
        """The `backtest.results` payload of an ended run."""
        outcome = state.outcome
        request = state.request
        return BacktestResult(
            run_id=state.run_id,
            status=state.status,
            symbols=tuple(Symbol(s) for s in request.symbols),
            strategies=tuple(request.strategies),
            voting_strategy=request.voting_strategy,
            start_date=request.start_date,
            end_date=request.end_date,
            initial_balance=request.initial_balance,
            final_equity=outcome.main.final_equity if outcome else request.initial_balance,
            metrics=dict(outcome.main.metrics) if outcome else {},
            num_trades=len(outcome.main.fills) if outcome else 0,
            seed=request.seed,
            error=state.error,
            started_at=state.created_at or self._clock.now(),
            finished_at=state.finished_at or self._clock.now(),
        )

    def _load_stored(self) -> None:
        if not self._store.exists():
            return
        for meta_path in sorted(self._store.glob("*/run.json")):
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
                state = RunState(
                    RunId(meta["run_id"]),
                    BacktestRequest.model_validate(meta["request"]),
                    status=meta["status"],
                    progress=100.0 if meta["status"] == "finished" else 0.0,
                    error=meta.get("error"),
                    created_at=datetime.fromisoformat(meta["created_at"]),
                    finished_at=(
                        datetime.fromisoformat(meta["finished_at"])
                        if meta.get("finished_at")
                        else None
                    ),
                    final_equity=_final_equity(meta, meta_path.parent),
                    attempts=int(meta.get("attempts", 0)),
                    idempotency_key=meta.get("idempotency_key"),
                    fingerprint=meta.get("fingerprint"),
                )
            except (OSError, ValueError, KeyError) as exc:
                log.warning("skipping unreadable stored run %s: %s", meta_path.parent, exc)
                continue
            self._runs[state.run_id] = state
            if state.status in ("queued", "running"):
                self._unfinished.append(state)
        for state in reversed(self.list()):  # oldest first: a key answers with its first run
            if state.idempotency_key is not None:
                self._keyed.setdefault(state.idempotency_key, state)
        self._load_legacy_keys()

    def _load_legacy_keys(self) -> None:
        # Keys kept by earlier versions, one file each: read, never written again. A run
        # resumed or ended from now on carries its key in its own run.json.
        for path in sorted((self._store / LEGACY_KEYS_FOLDER).glob("*.json")):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
                key, fingerprint = str(record["key"]), str(record["fingerprint"])
                state = self._runs.get(RunId(record["answer"]["run_id"]))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("ignoring unreadable Idempotency-Key record %s: %s", path, exc)
                continue
            if state is None or key in self._keyed:
                continue  # its run is gone (nothing to answer with), or run.json knows it
            state.idempotency_key, state.fingerprint = key, fingerprint
            self._keyed[key] = state


def _final_equity(meta: dict[str, Any], folder: Path) -> str | None:
    """A stored finished run's final equity, from run.json or else from its results.json.

    Runs stored before run.json carried the figure have it only in results.json: that file is
    read once, at load, and only the figure is kept.
    """
    if meta["status"] != "finished":
        return None
    if meta.get("final_equity") is not None:
        return str(meta["final_equity"])
    results_path = folder / "results.json"
    if not results_path.exists():
        return None
    return str(json.loads(results_path.read_text(encoding="utf-8"))["final_equity"])


def request_fingerprint(request: BacktestRequest) -> str:
    """The SHA-256 of `request` as understood: equal requests, equal fingerprints."""
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()
