"""The wire format: JSON envelopes validated against `schemas/`. Only this module knows it.

Decimals travel as strings (exact), datetimes as RFC 3339 UTC strings, enums as their values.
`decode` validates the envelope and its payload against the subject's schema before it builds
any object, and raises `WireError` with a reason fit for a dead-letter record.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Any, Union, get_args, get_origin

from atp.bus.schemas import first_error
from atp.bus.subjects import PAYLOAD_BY_SUBJECT
from atp.core.clock import ensure_utc
from atp.core.errors import InvalidInput
from atp.core.events import Envelope


class WireError(InvalidInput):
    """A message could not be decoded or failed its schema; `reason` says why."""

    code = "wire_error"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def to_wire(value: Any) -> Any:
    """Converts a payload (or any part of one) to JSON-ready values."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return ensure_utc(value).isoformat().replace("+00:00", "Z")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_wire(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_wire(v) for v in value]
    raise TypeError(f"cannot put {type(value).__name__} on the wire")


@cache
def _hints(cls: type[Any]) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_wire(annotation: Any, data: Any) -> Any:
    """Builds a value of type `annotation` from JSON-ready `data` (already schema-valid)."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        if data is None:
            return None
        non_null = [a for a in get_args(annotation) if a is not type(None)]
        return from_wire(non_null[0], data) if len(non_null) == 1 else data
    if annotation is Any:
        return data
    if origin is tuple:
        (item_type, *_rest) = get_args(annotation)
        return tuple(from_wire(item_type, v) for v in data)
    if origin in (list,):
        (item_type,) = get_args(annotation)
        return [from_wire(item_type, v) for v in data]
    if origin in (Mapping, dict) or annotation in (Mapping, dict):
        args = get_args(annotation)
        value_type = args[1] if len(args) == 2 else Any
        return {k: from_wire(value_type, v) for k, v in data.items()}
    if isinstance(annotation, type):
        if dataclasses.is_dataclass(annotation):
            hints = _hints(annotation)
            return annotation(
                **{
                    f.name: from_wire(hints[f.name], data[f.name])
                    for f in dataclasses.fields(annotation)
                }
            )
        if issubclass(annotation, Enum):
            return annotation(data)
        if annotation is Decimal:
            return Decimal(data)
        if annotation is datetime:
            return ensure_utc(datetime.fromisoformat(data))
        if annotation is float:
            return float(data)
    # NewType ids and plain scalars arrive as they are.
    supertype = getattr(annotation, "__supertype__", None)
    if supertype is not None:
        return from_wire(supertype, data)
    return data


def envelope_to_dict(envelope: Envelope[Any]) -> dict[str, Any]:
    """The JSON-ready form of an envelope."""
    result: dict[str, Any] = to_wire(envelope)
    return result


def encode(envelope: Envelope[Any]) -> bytes:
    """Serialises an envelope to the wire, validating it first (we never send bad events)."""
    document = envelope_to_dict(envelope)
    _validate(envelope.type, document)
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def decode(data: bytes, *, expected_subject: str | None = None) -> Envelope[Any]:
    """Parses and validates a wire message; raises WireError with the reason on any fault."""
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireError(f"not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise WireError("not a JSON object")
    subject = document.get("type")
    if not isinstance(subject, str) or subject not in PAYLOAD_BY_SUBJECT:
        raise WireError(f"unknown event type {subject!r}")
    if expected_subject is not None and subject != expected_subject:
        raise WireError(f"event type {subject!r} arrived on subject {expected_subject!r}")
    _validate(subject, document)
    try:
        payload = from_wire(PAYLOAD_BY_SUBJECT[subject], document["payload"])
        return Envelope(
            event_id=document["event_id"],
            type=subject,
            schema_version=document["schema_version"],
            event_time=ensure_utc(datetime.fromisoformat(document["event_time"])),
            source=document["source"],
            correlation_id=document["correlation_id"],
            causation_id=document["causation_id"],
            payload=payload,
        )
    except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
        raise WireError(f"invalid value: {exc}") from exc


def _validate(subject: str, document: Mapping[str, Any]) -> None:
    reason = first_error(subject, document)
    if reason is not None:
        raise WireError(reason)
