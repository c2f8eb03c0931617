"""Pre-trade check latency with all six rule types on and 500 symbols held.

Prints p50, p99 and max in microseconds per `RiskEngine.check` (in-process; target p99 < 50 us).
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from atp.core.clock import SimulatedClock
from atp.core.enums import OrderStatus, OrderType, Side, TimeInForce
from atp.core.events import Fill, OrderUpdate
from atp.core.ids import AgentId, ClientOrderId, FillId, OrderId, Symbol
from atp.core.proposals import OrderProposal
from atp.risk.config import (
    ConcentrationConfig,
    CorrelationConfig,
    DailyLossConfig,
    InstrumentCap,
    PositionCapConfig,
    RiskEngineConfig,
    VelocityConfig,
)
from atp.risk.engine import RiskEngine

SYMBOLS = 500
CHECKS = 20_000


def _proposal(number: int, symbol: str, side: Side, quantity: int) -> OrderProposal:
    return OrderProposal(
        proposal_id=f"bench-{number}",
        origin="meta",
        symbol=Symbol(symbol),
        side=side,
        quantity=Decimal(quantity),
        order_type=OrderType.MARKET,
        reference_price=Decimal("101.25"),
        limit_price=None,
        agent_id=AgentId(f"agent-{number % 7}"),
        decision_id=None,
        client_order_id=ClientOrderId(f"c-{number}"),
    )


def main() -> None:
    start = datetime(2025, 1, 6, 15, tzinfo=UTC)
    clock = SimulatedClock(start)
    symbols = [f"S{index:03d}" for index in range(SYMBOLS)]
    buckets = {f"sector-{b}": symbols[b * 10 : b * 10 + 10] for b in range(SYMBOLS // 10)}
    config = RiskEngineConfig(
        initial_cash=Decimal(100_000_000),
        daily_loss=DailyLossConfig(max_loss=Decimal(1_000_000)),
        position_caps=PositionCapConfig(
            default=InstrumentCap(max_quantity=Decimal(5000), max_notional=Decimal(600_000))
        ),
        correlation=CorrelationConfig(buckets=buckets, max_bucket_gross=Decimal(5_000_000)),
        velocity=VelocityConfig(
            per_agent_per_second=1_000_000,
            per_agent_per_minute=1_000_000,
            total_per_second=1_000_000,
            total_per_minute=10_000_000,
        ),
        concentration=ConcentrationConfig(
            max_share_of_gross=Decimal("0.05"), max_share_of_equity=Decimal("0.05")
        ),
        pending_ttl_seconds=1,
    )
    engine = RiskEngine(config, clock=clock)
    for index, symbol in enumerate(symbols):
        engine.on_order_update(
            OrderUpdate(
                order_id=OrderId(f"seed-{index}"),
                client_order_id=ClientOrderId(f"seed-{index}"),
                venue="bench",
                symbol=Symbol(symbol),
                side=Side.BUY if index % 3 else Side.SELL,
                order_type=OrderType.MARKET,
                time_in_force=TimeInForce.DAY,
                quantity=Decimal(1000),
                filled_quantity=Decimal(1000),
                average_fill_price=Decimal(100),
                limit_price=None,
                stop_price=None,
                status=OrderStatus.FILLED,
                previous_status=OrderStatus.ACCEPTED,
                fill=Fill(FillId(f"seed-{index}"), Decimal(1000), Decimal(100), Decimal(1), start),
                decision_id=None,
                reason=None,
                sequence=1,
                updated_at=start,
            )
        )
    proposals = [
        _proposal(n, symbols[(n * 37) % SYMBOLS], Side.BUY if n % 2 else Side.SELL, 10 + n % 50)
        for n in range(CHECKS)
    ]
    samples: list[float] = []
    approved = 0
    gc.disable()
    for number, proposal in enumerate(proposals):
        clock.advance_to(start + timedelta(microseconds=200 * number))
        began = time.perf_counter_ns()
        verdict = engine.check(proposal)
        samples.append((time.perf_counter_ns() - began) / 1000)
        approved += verdict.approved
    gc.enable()
    samples.sort()
    p50 = statistics.median(samples)
    p99 = samples[int(len(samples) * 0.99) - 1]
    print(
        f"risk pre-trade check, 6 rule types on, {SYMBOLS} symbols held, {CHECKS} checks "
        f"({approved} approved): p50 {p50:.1f} us, p99 {p99:.1f} us, max {samples[-1]:.1f} us"
        f" (target p99 < 50 us; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
