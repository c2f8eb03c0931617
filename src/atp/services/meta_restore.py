"""What a restarted meta-agent reads back before it consumes: scores, decisions and violations.

The operator's changes come back from `control.actions` (`atp.meta.restore`) and the risk
engine's state from its own reads (`risk_wiring`); this module brings back the rest of what the
control plane shows, from what JetStream holds (`Bus.history`, one-shot reads that leave no
consumer behind):

* the agents' scores and standings (hit rate, P&L, Brier, skill and so adaptive weights,
  swings, missed windows), replayed from `signals.normalized`, `decisions.order_intent` and
  `decisions.meta` (`atp.meta.rescore`), so the first vote after a restart weighs the agents as
  the old process would have, and every agent that ever voted is listed;
* the newest decisions for `GET /decisions`, and the newest violations for
  `GET /risk/violations`;
* the windows already decided: an intent or a bar of one of them, redelivered after a crash, is
  not decided a second time (`PastRun.decided`).

Decisions are read first: the intents and bars they answer were stored before them, so the reads
that follow hold all of them. The whole streams are read (see docs/meta-agent.md for the cost).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from atp.bus.subjects import (
    DECISIONS_META,
    DECISIONS_ORDER_INTENT,
    RISK_VIOLATIONS,
    SIGNALS_NORMALIZED,
)
from atp.core.events import MarketSignal, MetaDecision, OrderIntent, RiskViolation
from atp.core.ids import IntentId, SignalId, Symbol
from atp.meta.coordinator import MetaCoordinator
from atp.meta.rescore import Rescored, rescore

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(slots=True)
class PastRun:
    """The events of earlier runs the meta-agent restores from, and the windows they decided."""

    signals: list[MarketSignal] = field(default_factory=list)
    intents: dict[IntentId, OrderIntent] = field(default_factory=dict)
    decisions: list[MetaDecision] = field(default_factory=list)
    violations: list[RiskViolation] = field(default_factory=list)
    _decided: OrderedDict[tuple[Symbol, SignalId], None] = field(default_factory=OrderedDict)

    def decided(self, symbol: Symbol, signal_id: SignalId) -> bool:
        """True if an earlier run decided the window of (`symbol`, `signal_id`)."""
        return (symbol, signal_id) in self._decided

    def remember_decided(self, limit: int) -> None:
        """Remembers the newest `limit` decided windows (as the coordinator bounds its own)."""
        self._decided.clear()
        for decision in self.decisions[-limit:]:
            self._decided[(decision.symbol, decision.signal_id)] = None

    def forget_events(self) -> None:
        """Drops the events once applied; only the decided windows are kept."""
        self.signals, self.intents, self.decisions, self.violations = [], {}, [], []


async def read_past_run(bus: Any, *, violations: bool) -> PastRun:
    """Reads what earlier runs stored on the bus (see the module docstring for the order).

    Raises:
        VenueUnavailable: a stream could not be read.
    """
    decisions = [e.payload for e in await bus.history(DECISIONS_META)]
    intents = {e.payload.intent_id: e.payload for e in await bus.history(DECISIONS_ORDER_INTENT)}
    signals = [e.payload for e in await bus.history(SIGNALS_NORMALIZED)]
    found = [e.payload for e in await bus.history(RISK_VIOLATIONS)] if violations else []
    return PastRun(signals, intents, decisions, found)


def restore_past_run(
    past: PastRun,
    coordinator: MetaCoordinator,
    *,
    recent: deque[MetaDecision],
    violations: deque[RiskViolation] | None,
    remember_decided: int,
) -> Rescored:
    """Applies `past` to the scores and roster, the recent decisions and the violations."""
    started = time.perf_counter()
    rescored = rescore(
        coordinator.scorer,
        coordinator.roster,
        signals=past.signals,
        decisions=past.decisions,
        intents=past.intents,
    )
    _prepend(recent, past.decisions, key=_decision_id)
    if violations is not None:
        _prepend(violations, past.violations, key=_violation_id)
    past.remember_decided(remember_decided)
    log.info(
        "restored scores from %d bars and %d decisions (%d intents, %d not stored) in %.2fs",
        rescored.bars,
        rescored.decisions,
        rescored.intents,
        rescored.missing_intents,
        time.perf_counter() - started,
    )
    past.forget_events()
    return rescored


def _decision_id(decision: MetaDecision) -> str:
    return decision.decision_id


def _violation_id(violation: RiskViolation) -> str:
    return violation.violation_id


def _prepend(kept: deque[T], older: Iterable[T], *, key: Callable[[T], str]) -> None:
    """Puts `older` (oldest first, each key once) before what `kept` holds; its bound applies."""
    seen = {key(item) for item in kept}
    earlier: list[T] = []
    for item in older:
        marker = key(item)
        if marker not in seen:
            seen.add(marker)
            earlier.append(item)
    merged = [*earlier, *kept]
    kept.clear()
    kept.extend(merged)  # a bounded deque keeps the newest
