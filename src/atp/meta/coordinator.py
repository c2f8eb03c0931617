"""The meta-agent's engine: intents and signals in, explained and risk-checked decisions out.

`MetaCoordinator` is pure and synchronous. The service calls `on_signal`, `on_intent` and
`tick` with what arrives on the bus and publishes the `DecisionResult`s they return; the
control plane calls `execute` and publishes the `ControlAction` it returns. Every decision to
trade is put to the `RiskGate` before it becomes an order, and only an approved one carries a
client order id. Where the gate knows the positions, a sell is first capped at what is held
(`selling.py`). The control plane's part (`execute`, the agent reports) is in `control.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from atp.core.clock import Clock
from atp.core.enums import ORDER_MARKET, SIDE_SELL, Action, TradingState
from atp.core.events import (
    Envelope,
    MarketSignal,
    MetaDecision,
    OrderIntent,
    RiskCheck,
    RiskViolation,
    Vote,
)
from atp.core.frozen import quick_init
from atp.core.ids import AgentId, DecisionId, client_order_id_for, derive_id
from atp.core.money import ZERO, normalize
from atp.core.proposals import OrderProposal, RiskGate, RiskVerdict
from atp.meta.ballots import (
    COMPLETE,
    TIMEOUT,
    ballot_of,
    closing_sentence,
    risk_sentence,
    valid_intent,
    vote_of,
)
from atp.meta.config import MetaAgentConfig, VotingConfig
from atp.meta.control import SERVICE, AgentReport, MetaControl
from atp.meta.explain import explain
from atp.meta.roster import AgentRoster, AgentStanding
from atp.meta.scoring import AgentScorer
from atp.meta.selling import Holdings, cap_sell
from atp.meta.voting import VoteOutcome, vote_with_swings
from atp.meta.window import Admission, DecisionWindow, WindowBook, WindowKey

log = logging.getLogger(__name__)

# The control plane's names are the coordinator's: it is the meta-agent core's one entry.
__all__ = ["SERVICE", "AgentReport", "DecisionResult", "MetaCoordinator", "WindowCounters"]


# Every answer a ballot can hold (None: abstained), counted for each decision's agreement.
_ANSWERS: tuple[Action | None, ...] = (*Action, None)


@quick_init
@dataclass(frozen=True, slots=True)
class DecisionResult:
    """A closed window's decision, the violations to publish, and figures for the metrics."""

    decision: MetaDecision
    violations: tuple[RiskViolation, ...]
    cause: Envelope[Any] | None
    closed_by: str
    latency_seconds: float
    abstentions: int
    agreement: float
    swung_by: tuple[AgentId, ...]


@dataclass(slots=True)
class WindowCounters:
    """How many windows opened and closed, and what became of intents that did not count."""

    opened: int = 0
    decided: int = 0
    late: int = 0
    duplicates: int = 0
    disabled: int = 0
    invalid: int = 0


class MetaCoordinator(MetaControl):
    """Groups intents into windows, votes, explains, and puts trades to the risk gate."""

    def __init__(
        self,
        config: MetaAgentConfig,
        *,
        clock: Clock,
        gate: RiskGate,
        trading_state: Callable[[], TradingState] | None = None,
    ) -> None:
        self._config = config
        self._clock = clock
        self._gate = gate
        # A gate that knows the positions (the risk engine) caps sells at what is held.
        self._sellable = gate.sellable if isinstance(gate, Holdings) else None
        self._trading_state_of = trading_state
        self._last_state = TradingState.ACTIVE
        self._voting = config.voting
        self.roster = AgentRoster(config)
        self.scorer = AgentScorer(config.scoring)
        self.counters = WindowCounters()
        # A decision's parameters other than `closed_by`, per lot, for `_templates_voting`.
        self._templates: dict[Decimal, dict[str, Any]] = {}
        self._templates_voting: VotingConfig | None = None
        self._book = WindowBook(
            timeout_seconds=config.window.timeout_seconds,
            remember_closed=config.window.remember_closed,
        )

    @property
    def voting(self) -> VotingConfig:
        """The strategy new windows will use."""
        return self._voting

    @property
    def open_windows(self) -> int:
        """How many windows are waiting for answers."""
        return len(self._book)

    def on_signal(
        self, signal: MarketSignal, *, cause: Envelope[Any] | None = None
    ) -> list[DecisionResult]:
        """Marks the price for scoring and opens the signal's window (if not decided yet)."""
        self.scorer.on_bar(signal.symbol, signal.signal_id, signal.close)
        key = (signal.symbol, signal.signal_id)
        if self._book.is_closed(key):
            return []
        window = self._book.get(key) or self._open(key)
        window.signal = signal
        return []

    def on_intent(
        self, intent: OrderIntent, *, cause: Envelope[Any] | None = None
    ) -> tuple[Admission, list[DecisionResult]]:
        """Adds an intent to its window; returns the decision if that completed the window."""
        if not valid_intent(intent):
            self.counters.invalid += 1
            return Admission.INVALID, []
        key = (intent.symbol, intent.signal_id)
        if self._book.is_closed(key):
            self.counters.late += 1
            return Admission.LATE, []
        window = self._book.get(key) or self._open(key)
        agent_id = intent.agent_id
        if agent_id not in window.weights:
            # Disabled when the window opened, or disabled on discovery: not part of this vote.
            standing = self.roster.join(agent_id)
            if agent_id in window.disabled or not standing.enabled:
                self.counters.disabled += 1
                return Admission.DISABLED, []
            window.weights[agent_id] = self._effective_weight(agent_id, window.voting)
        if agent_id in window.intents:
            self.counters.duplicates += 1
            return Admission.DUPLICATE, []
        window.intents[agent_id] = intent
        window.cause = cause if cause is not None else window.cause
        if window.complete:
            return Admission.ACCEPTED, [self._close(window, COMPLETE)]
        return Admission.ACCEPTED, []

    def tick(self, now: datetime | None = None) -> list[DecisionResult]:
        """Closes every window whose deadline has passed at `now` (the clock's time if None)."""
        moment = now if now is not None else self._clock.now()
        return [self._close(window, TIMEOUT, moment) for window in self._book.due(moment)]

    def _effective_weight(self, agent_id: AgentId, voting: VotingConfig) -> float:
        return self._weight_of(self.roster.join(agent_id), voting)

    def _weight_of(self, standing: AgentStanding, voting: VotingConfig) -> float:
        weight = standing.weight
        if voting.adaptive_weights:
            weight *= self.scorer.multiplier(standing.agent_id)
        return weight

    def _open(self, key: WindowKey) -> DecisionWindow:
        self.counters.opened += 1
        voting = self._voting
        # One pass over the roster for the three snapshots (a window opens on every bar).
        enabled, live, disabled = self.roster.snapshot()
        return self._book.open(
            key,
            now=self._clock.now(),
            voting=voting,
            weights={s.agent_id: self._weight_of(s, voting) for s in enabled},
            expected=live,
            disabled=disabled,
        )

    def _close(
        self, window: DecisionWindow, closed_by: str, now: datetime | None = None
    ) -> DecisionResult:
        closed_at = now if now is not None else self._clock.now()
        agent_ids = sorted(window.weights)
        ballots = [ballot_of(window, agent_id) for agent_id in agent_ids]
        lot = self._config.lot_for(window.symbol)
        voting = window.voting
        # The swings come from the same count as the vote: a few integer steps per voter.
        outcome, swung = vote_with_swings(
            voting.strategy, ballots, threshold=voting.threshold, quorum=voting.quorum, lot=lot
        )
        decision_id = DecisionId(derive_id("decision", window.symbol, window.signal_id))
        reference_price = self._reference_price(window, outcome)
        text = f"{explain(outcome, ballots, lot)} {closing_sentence(window, closed_by)}"
        checks: tuple[RiskCheck, ...] = ()
        violations: tuple[RiskViolation, ...] = ()
        approved = False
        client_order_id = None
        state = self._current_state()
        side = outcome.action.as_side()
        quantity = outcome.quantity
        if side is SIDE_SELL and self._sellable is not None:
            sellable = self._sellable(window.symbol)
            if sellable is not None and quantity > sellable:
                quantity, capped = cap_sell(window.symbol, quantity, sellable)
                text += " " + capped
        if side is not None and quantity > ZERO:
            client_order_id = client_order_id_for(decision_id)
            # By position, in the field order: proposal_id, origin, symbol, side, quantity,
            # order_type, reference_price, limit_price, agent_id, decision_id, client_order_id.
            verdict = self._check(
                OrderProposal(
                    decision_id,
                    "meta",
                    window.symbol,
                    side,
                    quantity,
                    ORDER_MARKET,
                    reference_price,
                    None,
                    None,
                    decision_id,
                    client_order_id,
                )
            )
            checks, violations, approved = verdict.checks, verdict.violations, verdict.approved
            state = self._last_state = verdict.trading_state
            text += " " + risk_sentence(verdict, client_order_id)
            if not approved:
                client_order_id = None
        for agent_id in swung:
            self.scorer.record_swing(agent_id)
        # Every agent with an intent has a weight (`on_intent` adds it first), so the sorted
        # weights, less those without an intent, are the intents in sorted order.
        intents = window.intents
        for agent_id in agent_ids:
            intent = intents.get(agent_id)
            if intent is not None:
                self.scorer.record(intent)
        self.roster.record_window(window.expected, frozenset(window.intents))
        self._book.close(window)
        self.counters.decided += 1
        # One pass over the ballots: the votes listed, and the ballots per answer (None:
        # abstained) from a constant tuple of answers rather than iterating `Action`.
        votes: list[Vote] = []
        per_answer = dict.fromkeys(_ANSWERS, 0)
        for ballot in ballots:
            votes.append(vote_of(ballot))
            per_answer[ballot.action] += 1
        abstentions = per_answer.pop(None)
        counts = per_answer.values()
        voters = sum(counts)
        # By position, in the field order (see `MetaDecision`); each decision gets its own
        # parameters dict, a copy of the voting's and lot's template plus `closed_by`.
        decision = MetaDecision(
            decision_id,
            window.symbol,
            window.signal_id,
            outcome.action,
            quantity,
            ORDER_MARKET,
            None,
            reference_price,
            voting.strategy,
            {**self._template(voting, lot), "closed_by": closed_by},
            tuple(votes),
            outcome.tally,
            outcome.threshold,
            outcome.quorum,
            text,
            checks,
            approved,
            state,
            client_order_id,
            closed_at,
        )
        # By position: decision, violations, cause, closed_by, latency_seconds, abstentions,
        # agreement, swung_by.
        return DecisionResult(
            decision,
            violations,
            window.cause,
            closed_by,
            max((closed_at - window.opened_at).total_seconds(), 0.0),
            abstentions,
            max(counts) / voters if voters else 0.0,
            swung,
        )

    def _template(self, voting: VotingConfig, lot: Decimal) -> dict[str, Any]:
        """A decision's parameters but `closed_by`, in their order; never handed out itself.

        They depend only on the voting (a frozen config: the same object, the same values),
        the lot (equal in value, the same text) and the window timeout (a frozen config's), so
        they are worked out once per voting and lot.
        """
        if voting is not self._templates_voting:
            self._templates_voting = voting
            self._templates = {}
        template = self._templates.get(lot)
        if template is None:
            template = self._templates[lot] = {
                "threshold": voting.threshold,
                "quorum": voting.quorum,
                "adaptive_weights": voting.adaptive_weights,
                "lot_size": format(normalize(lot), "f"),
                "window_timeout_seconds": self._config.window.timeout_seconds,
            }
        return template

    def _check(self, proposal: OrderProposal) -> RiskVerdict:
        try:
            return self._gate.check(proposal)
        except Exception as exc:
            # No answer from the risk engine means refused, never approved.
            log.exception("risk gate failed on decision %s", proposal.decision_id)
            check = RiskCheck("risk_engine", False, f"risk engine failed: {exc}", None, None)
            return RiskVerdict(False, (check,), (), self._current_state())

    def _current_state(self) -> TradingState:
        if self._trading_state_of is not None:
            return self._trading_state_of()
        return self._last_state

    def _reference_price(self, window: DecisionWindow, outcome: VoteOutcome) -> Decimal:
        if window.signal is not None:
            return window.signal.close
        for agent_id in (*outcome.winners, *sorted(window.intents)):
            intent = window.intents.get(agent_id)
            if intent is not None:
                return intent.reference_price
        return self.scorer.last_close(window.symbol) or ZERO
