"""The wire form of the pre-trade check on `rpc.risk.check`, for both ends of the call.

The request body is an `OrderProposal`, the reply a `RiskVerdict` or an error, both JSON
validated against `schemas/rpc.risk.check.{request,reply}.schema.json`. The caller side
(`request_risk_check`) fails closed: no answer, a garbled answer or an error answer all come
back as a refusal, never as an approval and never as an exception.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from atp.bus.codec import WireError, from_wire, to_wire
from atp.bus.schemas import first_error
from atp.bus.subjects import RPC_RISK_CHECK
from atp.core.enums import TradingState
from atp.core.errors import AtpError
from atp.core.events import RiskCheck
from atp.core.ports import Rpc
from atp.core.proposals import OrderProposal, RiskVerdict

log = logging.getLogger(__name__)

REQUEST_SCHEMA = f"{RPC_RISK_CHECK}.request"
REPLY_SCHEMA = f"{RPC_RISK_CHECK}.reply"
UNAVAILABLE_RULE = "risk_unavailable"


def _validate(schema: str, document: Any) -> None:
    reason = first_error(schema, document)
    if reason is not None:
        raise WireError(reason)


def _parse(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireError(f"not JSON: {exc}") from exc


def encode_request(proposal: OrderProposal) -> bytes:
    """The request body for `proposal`, validated before it is sent."""
    document = to_wire(proposal)
    _validate(REQUEST_SCHEMA, document)
    return json.dumps(document, separators=(",", ":")).encode()


def decode_request(data: bytes) -> OrderProposal:
    """Parses a request body; raises WireError saying what is wrong with it."""
    document = _parse(data)
    _validate(REQUEST_SCHEMA, document)
    try:
        proposal: OrderProposal = from_wire(OrderProposal, document)
    except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
        raise WireError(f"invalid value: {exc}") from exc
    if proposal.quantity <= 0:
        raise WireError(f"quantity: expected a positive number, found {proposal.quantity}")
    return proposal


def encode_reply(verdict: RiskVerdict) -> bytes:
    """The reply body carrying `verdict`."""
    document = {"verdict": to_wire(verdict), "error": None}
    _validate(REPLY_SCHEMA, document)
    return json.dumps(document, separators=(",", ":")).encode()


def encode_error_reply(code: str, message: str) -> bytes:
    """The reply body saying the request could not be judged, and why."""
    document = {"verdict": None, "error": {"code": code, "message": message}}
    return json.dumps(document, separators=(",", ":")).encode()


def decode_reply(data: bytes) -> RiskVerdict:
    """Parses a reply; an error reply raises WireError with the responder's reason."""
    document = _parse(data)
    _validate(REPLY_SCHEMA, document)
    if document["error"] is not None:
        error = document["error"]
        raise WireError(f"risk engine answered {error['code']}: {error['message']}")
    try:
        verdict: RiskVerdict = from_wire(RiskVerdict, document["verdict"])
    except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
        raise WireError(f"invalid value: {exc}") from exc
    return verdict


def refusal(reason: str) -> RiskVerdict:
    """The verdict a caller acts on when the risk engine gave no usable answer (fail closed)."""
    check = RiskCheck(
        rule=UNAVAILABLE_RULE, passed=False, message=reason, limit=None, observed=None
    )
    return RiskVerdict(
        approved=False, checks=(check,), violations=(), trading_state=TradingState.HALTED
    )


async def request_risk_check(
    rpc: Rpc, proposal: OrderProposal, *, timeout_seconds: float = 2.0
) -> RiskVerdict:
    """Puts `proposal` to the risk engine over NATS; any failure is a refusal, never a pass.

    The refusal carries one failed check with rule `risk_unavailable` saying what went wrong.
    """
    try:
        data = await rpc.request(RPC_RISK_CHECK, encode_request(proposal), timeout=timeout_seconds)
        return decode_reply(data)
    except (AtpError, TimeoutError) as exc:
        log.warning("risk check of %s refused, no usable answer: %s", proposal.proposal_id, exc)
        return refusal(f"risk engine gave no usable answer: {exc}")


__all__ = [
    "UNAVAILABLE_RULE",
    "decode_reply",
    "decode_request",
    "encode_error_reply",
    "encode_reply",
    "encode_request",
    "refusal",
    "request_risk_check",
]
