"""HTTP routes of the backtester (port 8005): start, watch, cancel and download runs.

`POST /backtest/start` takes the seed's body exactly as written (`start_date`, `end_date`,
`symbols`, `strategies`, `initial_balance`) plus the optional fields of `BacktestRequest`. Bad
input is a 422 with the reason (unknown strategy, end before start, symbol without data). The
run goes on in the background; `GET /backtest/{id}` shows its status, progress and results.

With an `Idempotency-Key` header a retry gets the first answer back unchanged and starts no
second run; the same key with a different body is refused with a 422 naming the key. The first
answers are written beside the runs (`<var_dir>/backtests/idempotency/`, one small file per key,
named by the key's SHA-256) and the newest `IDEMPOTENCY_KEYS_KEPT` are also held in memory, so a
retry after a restart of the service gets its first answer too, and its run (resumed by the
restart if it had not ended).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from pydantic import BaseModel, Field

from atp.api.auth import require_token
from atp.backtest.manager import RunManager, RunState
from atp.backtest.model import BacktestRequest
from atp.backtest.results import outcome_dict
from atp.core.errors import InvalidInput

router = APIRouter(prefix="/backtest", tags=["backtest"])
log = logging.getLogger(__name__)

RunIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]

IDEMPOTENCY_KEYS_KEPT = 10_000
"""How many `Idempotency-Key`s (the newest) keep their first answer."""


class RunStatus(BaseModel):
    """A run: its status, progress (percent) and, once finished, its results."""

    run_id: str = Field(description="The run's id.")
    status: str = Field(description="queued, running, finished, failed or cancelled.")
    progress: float = Field(description="Percent done, 0-100.")
    error: str | None = Field(description="Why the run failed, if it did.")
    created_at: datetime | None = Field(description="When the run was asked for.")
    finished_at: datetime | None = Field(description="When it ended.")
    request: dict[str, Any] = Field(description="The request as understood (defaults filled).")
    results: dict[str, Any] | None = Field(
        description="final_equity, metrics, fills, equity_curve, per_agent, comparison."
    )


class RunBrief(BaseModel):
    """One line of the run list."""

    run_id: str = Field(description="The run's id.")
    status: str = Field(description="queued, running, finished, failed or cancelled.")
    progress: float = Field(description="Percent done.")
    symbols: list[str] = Field(description="Symbols traded.")
    strategies: list[str] = Field(description="Strategies run.")
    final_equity: str | None = Field(description="Final equity once finished.")
    created_at: datetime | None = Field(description="When the run was asked for.")


class RunList(BaseModel):
    """Every run the service knows, newest first."""

    runs: list[RunBrief] = Field(description="The runs.")


@dataclass(frozen=True, slots=True)
class _FirstStart:
    """The first answer given under an `Idempotency-Key`, and the body it answered."""

    fingerprint: str
    answer: RunStatus


class StartAnswers:
    """The first answer of `POST /backtest/start` per `Idempotency-Key`, kept in `folder`.

    The newest `kept` keys are also held in memory; an older one is read back from its file.
    """

    def __init__(self, folder: FilePath, kept: int = IDEMPOTENCY_KEYS_KEPT) -> None:
        self._folder = folder
        self._kept = kept
        self._answers: OrderedDict[str, _FirstStart] = OrderedDict()

    def replay(self, key: str, fingerprint: str) -> RunStatus | None:
        """The first answer under `key`, or None; InvalidInput if it answered another body."""
        first = self._answers.get(key) or self._read(key)
        if first is None:
            return None
        if first.fingerprint != fingerprint:
            raise InvalidInput(
                f"Idempotency-Key {key!r} was used with a different request body; use a new key"
            )
        return first.answer

    def remember(self, key: str, fingerprint: str, answer: RunStatus) -> None:
        """Keeps `answer` as the first answer under `key` (on disk before it is given)."""
        first = _FirstStart(fingerprint, answer)
        self._folder.mkdir(parents=True, exist_ok=True)
        record = {"key": key, "fingerprint": fingerprint, "answer": answer.model_dump(mode="json")}
        staged = self._path(key).with_suffix(".tmp")
        staged.write_text(json.dumps(record), encoding="utf-8")
        os.replace(staged, self._path(key))  # whole or absent, even after a crash
        self._hold(key, first)

    def _read(self, key: str) -> _FirstStart | None:
        path = self._path(key)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            if record.get("key") != key:  # another key with the same SHA-256: not this one
                return None
            first = _FirstStart(record["fingerprint"], RunStatus.model_validate(record["answer"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, AttributeError) as exc:
            # Unreadable (a disk error, a file from another version): answering 500 for this
            # key for ever would be worse than treating it as new.
            log.warning("ignoring unreadable Idempotency-Key record %s: %s", path, exc)
            return None
        self._hold(key, first)
        return first

    def _hold(self, key: str, first: _FirstStart) -> None:
        self._answers[key] = first
        self._answers.move_to_end(key)
        if len(self._answers) > self._kept:
            self._answers.popitem(last=False)

    def _path(self, key: str) -> FilePath:
        return self._folder / f"{hashlib.sha256(key.encode()).hexdigest()}.json"


def _start_answers(request: Request) -> StartAnswers:
    answers: StartAnswers | None = getattr(request.app.state, "backtest_start_answers", None)
    if answers is None:
        folder = _manager(request).store_dir / "idempotency"
        answers = request.app.state.backtest_start_answers = StartAnswers(folder)
    return answers


def _manager(request: Request) -> RunManager:
    manager: RunManager = request.app.state.backtests
    return manager


def _results(state: RunState) -> dict[str, Any] | None:
    if state.outcome is not None:
        return outcome_dict(state.outcome)
    return state.summary


def _status(state: RunState) -> RunStatus:
    return RunStatus(
        run_id=state.run_id,
        status=state.status,
        progress=state.progress,
        error=state.error,
        created_at=state.created_at,
        finished_at=state.finished_at,
        request=state.request.model_dump(mode="json"),
        results=_results(state) if state.status == "finished" else None,
    )


@router.post(
    "/start",
    response_model=RunStatus,
    status_code=202,
    dependencies=[Depends(require_token)],
)
async def start_backtest(
    body: BacktestRequest,
    request: Request,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200)] = None,
) -> RunStatus:
    """Starts a backtest in the background; poll `GET /backtest/{run_id}` for its results.

    A retry with the same `Idempotency-Key` gets the first answer and starts nothing.
    """
    if not idempotency_key:
        return _status(_manager(request).start(body))
    answers = _start_answers(request)
    fingerprint = hashlib.sha256(
        json.dumps(body.model_dump(mode="json"), sort_keys=True).encode()
    ).hexdigest()
    # No await between the look-up and `remember`: concurrent retries on the event loop cannot
    # both miss the key and start two runs.
    first = answers.replay(idempotency_key, fingerprint)
    if first is not None:
        return first
    answer = _status(_manager(request).start(body))
    answers.remember(idempotency_key, fingerprint, answer)
    return answer


@router.get("", response_model=RunList)
async def list_backtests(request: Request) -> RunList:
    """Every run, newest first."""
    runs = []
    for state in _manager(request).list():
        results = _results(state) if state.status == "finished" else None
        runs.append(
            RunBrief(
                run_id=state.run_id,
                status=state.status,
                progress=state.progress,
                symbols=list(state.request.symbols),
                strategies=list(state.request.strategies),
                final_equity=results["final_equity"] if results else None,
                created_at=state.created_at,
            )
        )
    return RunList(runs=runs)


@router.get("/{run_id}", response_model=RunStatus)
async def get_backtest(run_id: RunIdPath, request: Request) -> RunStatus:
    """A run's status and progress, with its results once finished."""
    return _status(_manager(request).get(run_id))


@router.post("/{run_id}/cancel", response_model=RunStatus, dependencies=[Depends(require_token)])
async def cancel_backtest(run_id: RunIdPath, request: Request) -> RunStatus:
    """Stops a queued or running run (409 if it already ended)."""
    return _status(_manager(request).cancel(run_id))


@router.get("/{run_id}/trades.csv", response_model=str, response_class=PlainTextResponse)
async def trades_csv(run_id: RunIdPath, request: Request) -> PlainTextResponse:
    """The run's fills as CSV."""
    text = _manager(request).file(run_id, "trades.csv")
    return PlainTextResponse(text, media_type="text/csv")


@router.get("/{run_id}/equity.csv", response_model=str, response_class=PlainTextResponse)
async def equity_csv(run_id: RunIdPath, request: Request) -> PlainTextResponse:
    """The run's equity curve as CSV."""
    text = _manager(request).file(run_id, "equity.csv")
    return PlainTextResponse(text, media_type="text/csv")


@router.get("/{run_id}/report", response_model=str, response_class=HTMLResponse)
async def report(run_id: RunIdPath, request: Request) -> HTMLResponse:
    """The run's HTML report: equity curve, drawdown, prices with fills, tables."""
    return HTMLResponse(_manager(request).file(run_id, "report.html"))
