"""HTTP routes of the backtester (port 8005): start, watch, cancel and download runs.

`POST /backtest/start` takes the seed's body exactly as written (`start_date`, `end_date`,
`symbols`, `strategies`, `initial_balance`) plus the optional fields of `BacktestRequest`. Bad
input is a 422 with the reason (unknown strategy, end before start, symbol without data). The
run goes on in the background; `GET /backtest/{id}` shows its status, progress and results.

With an `Idempotency-Key` header a retry gets the first answer back unchanged and starts no
second run; the same key with a different body is refused with a 422 naming the key. The key is
stored in the run's own run.json before the run starts (see `RunManager.start`), so a retry after
a restart of the service, or after a crash at any point once the run was stored, gets its first
answer too, and its run (resumed by the restart if it had not ended). The first answer is the run
as accepted (queued), whatever it has become since: a retry cannot tell the two requests apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from pydantic import BaseModel, Field

from atp.api.auth import require_token
from atp.backtest.manager import RunManager, RunState
from atp.backtest.model import BacktestRequest

router = APIRouter(prefix="/backtest", tags=["backtest"])

RunIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]


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


def _manager(request: Request) -> RunManager:
    manager: RunManager = request.app.state.backtests
    return manager


def _status(state: RunState, manager: RunManager) -> RunStatus:
    return _accepted(state).model_copy(
        update={
            "status": state.status,
            "progress": state.progress,
            "error": state.error,
            "finished_at": state.finished_at,
            "results": manager.results(state),
        }
    )


def _accepted(state: RunState) -> RunStatus:
    """The answer to the start of `state`, and to every retry under its `Idempotency-Key`."""
    return RunStatus(
        run_id=state.run_id,
        status="queued",
        progress=0.0,
        error=None,
        created_at=state.created_at,
        finished_at=None,
        request=state.request.model_dump(mode="json"),
        results=None,
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
    return _accepted(await _manager(request).start(body, idempotency_key=idempotency_key))


@router.get("", response_model=RunList)
async def list_backtests(request: Request) -> RunList:
    """Every run, newest first (each run's own figures only: its results are not built)."""
    return RunList(
        runs=[
            RunBrief(
                run_id=state.run_id,
                status=state.status,
                progress=state.progress,
                symbols=list(state.request.symbols),
                strategies=list(state.request.strategies),
                final_equity=state.final_equity if state.status == "finished" else None,
                created_at=state.created_at,
            )
            for state in _manager(request).list()
        ]
    )


@router.get("/{run_id}", response_model=RunStatus)
async def get_backtest(run_id: RunIdPath, request: Request) -> RunStatus:
    """A run's status and progress, with its results once finished."""
    manager = _manager(request)
    return _status(manager.get(run_id), manager)


@router.post("/{run_id}/cancel", response_model=RunStatus, dependencies=[Depends(require_token)])
async def cancel_backtest(run_id: RunIdPath, request: Request) -> RunStatus:
    """Stops a queued or running run (409 if it already ended)."""
    manager = _manager(request)
    return _status(manager.cancel(run_id), manager)


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
