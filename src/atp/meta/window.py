"""Decision windows: the intents of every agent for one (symbol, signal), until it closes.

A window opens on the signal or on the first intent that answers it, whichever comes first. It
takes a snapshot of the voting strategy and of the agents' weights when it opens, so a change
through the control plane applies from the next window on. It closes when every live agent has
answered or when its deadline passes (checked by `tick`, the core has no timers). A closed
window is remembered so that a late or redelivered intent is counted and ignored: a
(symbol, signal) is never decided twice.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from atp.core.events import Envelope, MarketSignal, OrderIntent
from atp.core.ids import AgentId, SignalId, Symbol
from atp.meta.config import VotingConfig

WindowKey = tuple[Symbol, SignalId]


class Admission(StrEnum):
    """What became of an intent offered to the windows."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    LATE = "late"
    DISABLED = "disabled"
    INVALID = "invalid"


@dataclass(slots=True)
class DecisionWindow:
    """One open window: the snapshot it decides with and the intents it has collected."""

    symbol: Symbol
    signal_id: SignalId
    opened_at: datetime
    deadline: datetime
    voting: VotingConfig
    weights: dict[AgentId, float]
    expected: frozenset[AgentId]
    disabled: frozenset[AgentId]
    intents: dict[AgentId, OrderIntent] = field(default_factory=dict)
    signal: MarketSignal | None = None
    cause: Envelope[Any] | None = None

    @property
    def key(self) -> WindowKey:
        """The (symbol, signal) the window decides."""
        return (self.symbol, self.signal_id)

    @property
    def complete(self) -> bool:
        """True once every agent the window waits for has answered (and it waits for some)."""
        return bool(self.expected) and self.expected.issubset(self.intents)


class WindowBook:
    """The open windows, and a bounded memory of the closed ones."""

    def __init__(self, *, timeout_seconds: float, remember_closed: int) -> None:
        self._timeout = timedelta(seconds=timeout_seconds)
        self._remember = remember_closed
        self._open: dict[WindowKey, DecisionWindow] = {}
        self._closed: OrderedDict[WindowKey, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._open)

    def get(self, key: WindowKey) -> DecisionWindow | None:
        """The open window of `key`, if any."""
        return self._open.get(key)

    def is_closed(self, key: WindowKey) -> bool:
        """True if `key` was already decided (as far as memory reaches)."""
        return key in self._closed

    def open(
        self,
        key: WindowKey,
        *,
        now: datetime,
        voting: VotingConfig,
        weights: dict[AgentId, float],
        expected: frozenset[AgentId],
        disabled: frozenset[AgentId],
    ) -> DecisionWindow:
        """Opens the window of `key` with the given snapshot; its deadline is now + timeout."""
        window = DecisionWindow(
            symbol=key[0],
            signal_id=key[1],
            opened_at=now,
            deadline=now + self._timeout,
            voting=voting,
            weights=weights,
            expected=expected,
            disabled=disabled,
        )
        self._open[key] = window
        return window

    def close(self, window: DecisionWindow) -> None:
        """Removes the window and remembers its key."""
        key = window.key
        self._open.pop(key, None)
        self._closed[key] = None
        if len(self._closed) > self._remember:
            self._closed.popitem(last=False)

    def due(self, now: datetime) -> list[DecisionWindow]:
        """The open windows whose deadline has passed, oldest deadline first."""
        due = [w for w in self._open.values() if w.deadline <= now]
        due.sort(key=lambda w: (w.deadline, w.symbol, w.signal_id))
        return due

    def set_timeout(self, timeout_seconds: float) -> None:
        """Changes the timeout of windows opened from now on."""
        self._timeout = timedelta(seconds=timeout_seconds)
