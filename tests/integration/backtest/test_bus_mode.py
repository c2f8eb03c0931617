"""The NATS mode gives the same orders and fills as the in-process mode.

Real AAPL bars from `../shared/data` are replayed through `signals.normalized` to the live
chain's consumers (agent host, meta coordinator with the risk engine) on the in-memory bus and
on a real nats-server; the in-process run of the same request over the same relabeled bars is
the reference. Costs are on (commission, slippage with a seed) so prices are not trivial.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from atp.backtest.bus_mode import relabel, run_over_bus
from atp.backtest.model import BacktestRequest, RunSummary
from atp.backtest.runner import drive, load_data, new_run, summarize
from atp.backtest.wiring import InProcessPipeline
from atp.bus.memory import InMemoryBus
from atp.bus.nats import NatsBus
from atp.services.settings import AtpSettings

RUN = "equivalence"


def _request() -> BacktestRequest:
    return BacktestRequest(
        start_date="2022-01-01",
        end_date="2023-12-31",
        symbols=["AAPL"],
        strategies=["sma_crossover"],
        params={"sma_crossover": {"fast": 5, "slow": 20}},
        voting_strategy="majority",
        initial_balance=Decimal(100_000),
        sizing="equal_weight",
        seed=11,
    )


def _in_process() -> tuple[RunSummary, list[Any]]:
    request = _request()
    data = relabel(load_data(request, AtpSettings().data_dir), f"backtest-{RUN}")
    parts = new_run(request, data, strategies=request.strategies, voting_strategy="majority")
    record = drive(request, data, parts, InProcessPipeline(parts.chain))
    summary = summarize(request, record, "combined", tuple(request.strategies), "majority")
    return summary, [o.request for o in parts.venue.tracker.orders()]


async def _over(bus: Any) -> tuple[RunSummary, list[Any]]:
    request = _request()
    summary, parts = await run_over_bus(
        request,
        load_data(request, AtpSettings().data_dir),
        bus,
        strategies=list(request.strategies),
        voting_strategy="majority",
        label="combined",
        run_id=RUN,
    )
    return summary, [o.request for o in parts.venue.tracker.orders()]


async def test_in_memory_bus_replay_gives_the_in_process_orders_and_fills() -> None:
    expected_summary, expected_orders = _in_process()
    bus = InMemoryBus()
    summary, orders = await _over(bus)
    await bus.close()
    assert len(expected_summary.fills) >= 4
    assert orders == expected_orders
    assert summary.fills == expected_summary.fills
    assert summary.final_equity == expected_summary.final_equity


async def test_nats_replay_gives_the_in_process_orders_and_fills(nats_bus: NatsBus) -> None:
    expected_summary, expected_orders = _in_process()
    summary, orders = await _over(nats_bus)
    assert len(expected_summary.fills) >= 4
    assert orders == expected_orders
    assert summary.fills == expected_summary.fills
    assert summary.final_equity == expected_summary.final_equity
    assert summary.equity == expected_summary.equity
