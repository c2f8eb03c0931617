"""Every NATS subject ATP uses is named here and nowhere else."""

from __future__ import annotations

from typing import Any

from atp.core.events import (
    BacktestResult,
    ControlAction,
    MarketSignal,
    MetaDecision,
    OrderIntent,
    OrderUpdate,
    ReconciliationDifference,
    RiskViolation,
    TradingStateChanged,
)

SIGNALS_NORMALIZED = MarketSignal.SUBJECT
DECISIONS_ORDER_INTENT = OrderIntent.SUBJECT
DECISIONS_META = MetaDecision.SUBJECT
RISK_VIOLATIONS = RiskViolation.SUBJECT
EXECUTIONS_ORDER_UPDATE = OrderUpdate.SUBJECT
BACKTEST_RESULTS = BacktestResult.SUBJECT
CONTROL_ACTIONS = ControlAction.SUBJECT
RISK_STATE = TradingStateChanged.SUBJECT
EXECUTIONS_RECONCILIATION = ReconciliationDifference.SUBJECT

DEAD_LETTER_PREFIX = "dlq"

PAYLOAD_BY_SUBJECT: dict[str, type[Any]] = {
    cls.SUBJECT: cls
    for cls in (
        MarketSignal,
        OrderIntent,
        MetaDecision,
        RiskViolation,
        OrderUpdate,
        BacktestResult,
        ControlAction,
        TradingStateChanged,
        ReconciliationDifference,
    )
}

# One JetStream stream per subject family: the family is the subject's first token.
STREAMS: dict[str, str] = {
    "SIGNALS": "signals.>",
    "DECISIONS": "decisions.>",
    "RISK": "risk.>",
    "EXECUTIONS": "executions.>",
    "BACKTEST": "backtest.>",
    "CONTROL": "control.>",
    "DLQ": f"{DEAD_LETTER_PREFIX}.>",
}


def dead_letter_subject(subject: str) -> str:
    """The subject a message from `subject` is dead-lettered to."""
    return f"{DEAD_LETTER_PREFIX}.{subject}"


def stream_for(subject: str) -> str:
    """The name of the stream that stores `subject`."""
    family = subject.split(".", 1)[0] + ".>"
    for name, pattern in STREAMS.items():
        if pattern == family:
            return name
    raise KeyError(f"no stream stores subject {subject!r}")


# Request/reply subjects live outside every stream's subject space, so JetStream never
# captures (and never acknowledges) a request.
RPC_RISK_CHECK = "rpc.risk.check"
