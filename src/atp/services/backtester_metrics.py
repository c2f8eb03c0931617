"""The backtester's Prometheus metrics: runs started and ended, their duration, bars, in progress.

Names follow `atp.telemetry.metrics`: `atp_backtest_` prefix, seconds, `_total` on counters, and
labels of bounded cardinality only (a run's status, never its id).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from atp.backtest.manager import RunManager, RunState
from atp.telemetry.metrics import RUN_DURATION_BUCKETS

ENDED_STATUSES = ("finished", "failed", "cancelled")


class BacktestMetrics:
    """What the backtester measures; the run manager's `RunObserver`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.started = Counter(
            "atp_backtest_runs_started_total",
            "Attempts at runs that started running (a run resumed after a restart counts again).",
            registry=registry,
        )
        self.ended = Counter(
            "atp_backtest_runs_ended_total",
            "Runs that ended, by status (finished, failed or cancelled).",
            ["status"],
            registry=registry,
        )
        for status in ENDED_STATUSES:  # present at 0 from the start, so rate() and alerts work
            self.ended.labels(status)
        self.duration = Histogram(
            "atp_backtest_run_duration_seconds",
            "Time a run ran, from its start to its end, by status.",
            ["status"],
            buckets=RUN_DURATION_BUCKETS,
            registry=registry,
        )
        self.bars = Counter(
            "atp_backtest_bars_processed_total",
            "Bar steps (one timestamp of every symbol) of the traded range of finished runs.",
            registry=registry,
        )
        self.in_progress = Gauge(
            "atp_backtest_runs_in_progress",
            "Runs accepted or resumed that have not ended (queued or running).",
            registry=registry,
        )

    def watch(self, manager: RunManager) -> None:
        """Reads the runs in progress from `manager` at each scrape."""
        self.in_progress.set_function(
            lambda: sum(1 for s in manager.list() if s.status in ("queued", "running"))
        )

    def run_started(self, state: RunState) -> None:
        """Counts an attempt that starts running."""
        self.started.inc()

    def run_ended(self, state: RunState, seconds: float | None) -> None:
        """Counts an ended run, its duration (if it ran) and, once finished, its bars."""
        self.ended.labels(state.status).inc()
        if seconds is not None:
            self.duration.labels(state.status).observe(seconds)
        if state.outcome is not None:
            self.bars.inc(state.outcome.bars)
