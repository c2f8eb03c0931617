"""The meta-agent's outbox: decisions, their violations and control actions, published in order.

Events are queued before they are published, so a publish that fails is retried (by the next
delivery or tick) and never lost, while the window a decision came from stays decided once.
Consecutive events go out pipelined in one round trip (`publish_many`) when the bus offers it;
the violations of a denied decision are handed to the risk component, which counts them.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from atp.core.events import Envelope, envelope_for
from atp.core.proposals import RiskVerdict
from atp.meta.coordinator import DecisionResult
from atp.services.risk_wiring import RiskComponent


class _RiskHandOff:
    """A verdict whose violations the risk component publishes (it also counts them)."""

    __slots__ = ("cause", "verdict")

    def __init__(self, verdict: RiskVerdict, cause: Envelope[Any]) -> None:
        self.verdict = verdict
        self.cause = cause


class DecisionOutbox:
    """Queues events and publishes them in order, keeping what could not be published."""

    def __init__(self, bus: Any, risk: RiskComponent | None, *, source: str) -> None:
        self._bus = bus
        self._risk = risk
        self._source = source
        self._queue: deque[Envelope[Any] | _RiskHandOff] = deque()
        self._flushing = asyncio.Lock()
        self._publish_many = getattr(bus, "publish_many", None)

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, envelope: Envelope[Any]) -> None:
        """Queues one event."""
        self._queue.append(envelope)

    def add_result(self, result: DecisionResult) -> None:
        """Queues a decision and, behind it, its risk violations (caused by the decision)."""
        decision = result.decision
        envelope = envelope_for(
            decision, source=self._source, event_time=decision.decided_at, cause=result.cause
        )
        self._queue.append(envelope)
        if self._risk is None:
            for violation in result.violations:
                self._queue.append(
                    envelope_for(
                        violation,
                        source=self._source,
                        event_time=violation.occurred_at,
                        cause=envelope,
                    )
                )
        elif result.violations:
            verdict = RiskVerdict(
                decision.approved, decision.risk_checks, result.violations, decision.trading_state
            )
            self._queue.append(_RiskHandOff(verdict, envelope))

    async def flush(self) -> None:
        """Publishes the queue in order; on failure keeps the rest and raises."""
        if not self._queue:
            # Most intents close no window: nothing to publish, no lock to take.
            return
        async with self._flushing:
            queue = self._queue
            while queue:
                head = queue[0]
                if isinstance(head, _RiskHandOff):
                    assert self._risk is not None
                    await self._risk.publish_verdict(head.verdict, head.cause)
                    queue.popleft()
                    continue
                batch: list[Envelope[Any]] = []
                for queued in queue:
                    if isinstance(queued, _RiskHandOff):
                        break
                    batch.append(queued)
                if len(batch) > 1 and self._publish_many is not None:
                    # One pipelined round trip for a decision and its violations, or a backlog.
                    await self._publish_many(batch)
                else:
                    batch = [head]
                    await self._bus.publish(head)
                for _ in batch:
                    queue.popleft()
