"""Benchmarks of the meta-agent: the pure vote path, and last intent -> decisions.meta over NATS.

Run: `.venv/bin/python bench/meta_agent.py` (starts its own nats-server on a free port, and
the meta-agent in a process of its own; `--in-process` measures it in this process as well).
Prints figures; asserts nothing. Targets (issue 3): >= 100,000 decisions/s in-process,
p99 < 5 ms over NATS at 1,000 intents/s.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from atp.bus.nats import NatsBus
from atp.bus.subjects import DECISIONS_META
from atp.core.clock import SystemClock
from atp.core.enums import Action, OrderType, TradingState
from atp.core.events import Envelope, OrderIntent, envelope_for
from atp.core.ids import AgentId, IntentId, SignalId, Symbol, derive_id
from atp.core.proposals import OrderProposal, RiskVerdict
from atp.meta.config import VOTING_STRATEGIES, AgentConfig, MetaAgentConfig, VotingConfig
from atp.meta.coordinator import MetaCoordinator
from atp.meta.voting import Ballot, vote
from atp.services.embedded_nats import EmbeddedNats
from atp.services.meta_agent import MetaAgentSettings, bootstrap
from atp.services.settings import AtpSettings
from atp.telemetry.metrics import BusMetrics, new_registry

AGENTS = [AgentId(f"agent-{i}") for i in range(10)]
SYMBOLS = [Symbol(f"S{i:03d}") for i in range(500)]
NOW = datetime(2024, 1, 2, tzinfo=UTC)


class ApproveAll:
    """A gate that approves everything, so the figures are the meta-agent's own."""

    def check(self, proposal: OrderProposal) -> RiskVerdict:
        return RiskVerdict(True, (), (), TradingState.ACTIVE)


def _ballots(rng: random.Random) -> list[Ballot]:
    actions = [Action.BUY, Action.BUY, Action.SELL, Action.HOLD, None]
    return [
        Ballot(
            agent,
            rng.choice(actions),
            Decimal(rng.randint(1, 500)),
            rng.random(),
            rng.uniform(0.5, 2.0),
        )
        for agent in AGENTS
    ]


def bench_vote(rounds: int, repeats: int) -> None:
    """Decisions/s of `vote` per strategy: the best and the median of `repeats` timed runs.

    The best run is the figure least disturbed by other load on the machine (as `timeit`
    reports); the median says how much that load costs.
    """
    rng = random.Random(7)
    windows = [_ballots(rng) for _ in SYMBOLS]
    for strategy in VOTING_STRATEGIES:
        rates = []
        for _ in range(repeats):
            started = time.perf_counter()
            for _ in range(rounds):
                for ballots in windows:
                    vote(strategy, ballots, threshold=0.5, quorum=3)
            rates.append(rounds * len(windows) / (time.perf_counter() - started))
        print(
            f"vote {strategy:<20} best {max(rates):>10,.0f} decisions/s, median "
            f"{statistics.median(rates):>10,.0f} (10 agents, 500 symbols, {repeats} runs of "
            f"{rounds * len(windows)} decisions)"
        )


def _intent(agent: AgentId, symbol: Symbol, signal: str, action: Action) -> OrderIntent:
    return OrderIntent(
        IntentId(derive_id("intent", agent, symbol, signal)),
        agent,
        "bench",
        symbol,
        SignalId(signal),
        action,
        Decimal(100),
        0.6,
        Decimal("50"),
        OrderType.MARKET,
        None,
        "bench",
        NOW,
    )


def bench_coordinator(bars: int) -> None:
    rng = random.Random(11)
    config = MetaAgentConfig(agents={a: AgentConfig() for a in AGENTS})
    coordinator = MetaCoordinator(config, clock=SystemClock(), gate=ApproveAll())
    intents = [
        _intent(agent, symbol, f"bar-{bar}", rng.choice([Action.BUY, Action.SELL, Action.HOLD]))
        for bar in range(bars)
        for symbol in SYMBOLS
        for agent in AGENTS
    ]
    started = time.perf_counter()
    decided = 0
    for intent in intents:
        decided += len(coordinator.on_intent(intent)[1])
    elapsed = time.perf_counter() - started
    print(
        f"coordinator (windows+vote+explain+swings+risk+scoring) {decided / elapsed:>10,.0f} "
        f"decisions/s, {len(intents) / elapsed:,.0f} intents/s ({decided} decisions)"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _serve(url: str, agents: list[AgentId]) -> None:
    """The meta-agent as its own process would run it (approve-all gate), until SIGTERM."""
    config = MetaAgentConfig(
        agents={a: AgentConfig() for a in agents}, voting=VotingConfig(strategy="majority")
    )
    service = await bootstrap(
        AtpSettings(nats_url=url),
        config=config,
        gate=ApproveAll(),
        meta_settings=MetaAgentSettings(restore=False),
    )
    await service.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    started = time.process_time()
    await stop.wait()
    # The CPU the service spent on the run: robust to other load on the machine.
    print(f"cpu {time.process_time() - started}", flush=True)
    await service.stop()


async def _start_service(url: str, agents: list[AgentId], in_process: bool) -> Any:
    if in_process:
        config = MetaAgentConfig(
            agents={a: AgentConfig() for a in agents}, voting=VotingConfig(strategy="majority")
        )
        service = await bootstrap(
            AtpSettings(nats_url=url),
            config=config,
            gate=ApproveAll(),
            meta_settings=MetaAgentSettings(restore=False),
        )
        await service.start()
        return service
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--serve",
        url,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
    if line.strip() != b"ready":
        raise RuntimeError(f"the meta-agent process did not start: {line!r}")
    return process


async def _stop_service(service: Any) -> float | None:
    """Stops the service; returns the CPU seconds its process spent on the run, if separate."""
    if isinstance(service, asyncio.subprocess.Process):
        service.send_signal(signal.SIGTERM)
        assert service.stdout is not None
        line = await asyncio.wait_for(service.stdout.readline(), timeout=30)
        try:
            await asyncio.wait_for(service.wait(), timeout=30)
        except TimeoutError:
            print("  (the meta-agent process did not stop within 30 s; killed)")
            service.kill()
            await service.wait()
        return float(line.split()[1])
    await service.stop()
    return None


async def bench_nats(windows: int, rate: float, *, in_process: bool) -> None:
    with tempfile.TemporaryDirectory() as store, EmbeddedNats(Path(store), _free_port()) as server:
        agents = AGENTS[:3]
        service = await _start_service(server.url, agents, in_process)
        bus = await NatsBus.connect(
            server.url, client_name="bench", metrics=BusMetrics(new_registry())
        )
        sent_at: dict[str, float] = {}
        latencies: list[float] = []
        done = asyncio.Event()

        async def on_decision(envelope: Envelope[Any]) -> None:
            started = sent_at.get(envelope.payload.signal_id)
            if started is not None:
                latencies.append(time.perf_counter() - started)
            if len(latencies) >= windows:
                done.set()

        await bus.subscribe(DECISIONS_META, durable="bench-decisions", handler=on_decision)
        interval = 1.0 / rate
        next_at = time.perf_counter()
        for window in range(windows):
            signal_id = f"bar-{window}"
            symbol = SYMBOLS[window % len(SYMBOLS)]
            for agent in agents:
                next_at += interval
                delay = next_at - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                envelope = envelope_for(
                    _intent(agent, symbol, signal_id, Action.BUY), source="bench", event_time=NOW
                )
                if agent == agents[-1]:
                    sent_at[signal_id] = time.perf_counter()
                await bus.publish(envelope)
        await asyncio.wait_for(done.wait(), timeout=60)
        cpu = await _stop_service(service)
        await bus.close()
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    where = "in-process" if in_process else "own process"
    print(
        f"nats last intent -> decisions.meta at {rate:,.0f} intents/s over {windows} windows "
        f"(meta-agent {where}): p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
        f"max {latencies[-1] * 1000:.2f} ms"
    )
    if cpu is not None:
        intents = windows * len(AGENTS[:3])
        print(
            f"  meta-agent process CPU: {cpu * 1e6 / intents:.0f} us per intent, "
            f"{cpu * 1e6 / windows:.0f} us per decision (3 intents), {cpu / (intents / rate):.0%} "
            f"of one core at this rate"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=40, help="vote rounds over 500 symbols")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per strategy")
    parser.add_argument("--bars", type=int, default=4, help="coordinator bars over 500 symbols")
    parser.add_argument("--windows", type=int, default=1000, help="windows over NATS")
    parser.add_argument("--rate", type=float, default=1000.0, help="intents/s over NATS")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run the meta-agent in the benchmark's own process and event loop as well",
    )
    parser.add_argument("--serve", metavar="NATS_URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.serve, AGENTS[:3]))
        return
    bench_vote(args.rounds, args.repeats)
    bench_coordinator(args.bars)
    # By default the meta-agent runs in a process of its own, as deployed: the publisher and
    # the decision consumer here do not share its event loop.
    asyncio.run(bench_nats(args.windows, args.rate, in_process=False))
    if args.in_process:
        asyncio.run(bench_nats(args.windows, args.rate, in_process=True))


if __name__ == "__main__":
    main()
