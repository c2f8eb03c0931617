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
from collections.abc import Callable, Mapping
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
    encoder = _ENCODERS.get(type(value))
    if encoder is not None:
        return encoder(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (bool, int, str, float)):
        return value
    if isinstance(value, datetime):
        return _datetime_to_wire(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        encoder = _ENCODERS[type(value)] = _dataclass_encoder(type(value))
        return encoder(value)
    if isinstance(value, Mapping):
        return {str(k): to_wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_wire(v) for v in value]
    raise TypeError(f"cannot put {type(value).__name__} on the wire")


def _datetime_to_wire(value: datetime) -> str:
    return ensure_utc(value).isoformat().replace("+00:00", "Z")


_ENCODERS: dict[type[Any], Callable[[Any], Any]] = {
    type(None): lambda v: v,
    bool: lambda v: v,
    int: lambda v: v,
    str: lambda v: v,
    float: lambda v: v,
    Decimal: lambda v: format(v, "f"),
    datetime: _datetime_to_wire,
    tuple: lambda v: [to_wire(item) for item in v],
    list: lambda v: [to_wire(item) for item in v],
    dict: lambda v: {str(k): to_wire(item) for k, item in v.items()},
}


def _dataclass_encoder(cls: type[Any]) -> Callable[[Any], Any]:
    names = tuple(f.name for f in dataclasses.fields(cls))
    encoders = _ENCODERS

    def encode_fields(value: Any) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name in names:
            field_value = getattr(value, name)
            encoder = encoders.get(type(field_value))
            result[name] = encoder(field_value) if encoder is not None else to_wire(field_value)
        return result

    return encode_fields


def from_wire(annotation: Any, data: Any) -> Any:
    """Builds a value of type `annotation` from JSON-ready `data` (already schema-valid)."""
    return _decoder(annotation)(data)


def _identity(value: Any) -> Any:
    return value


def _datetime_from_wire(value: str) -> datetime:
    return ensure_utc(datetime.fromisoformat(value))


@cache
def _decoder(annotation: Any) -> Callable[[Any], Any]:
    """A converter for `annotation`, worked out once per type (reflection is the slow part)."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        non_null = [a for a in get_args(annotation) if a is not type(None)]
        if len(non_null) != 1:
            return _identity
        inner = _decoder(non_null[0])
        return lambda data: None if data is None else inner(data)
    if annotation is Any:
        return _identity
    if origin in (tuple, list):
        item = _decoder(get_args(annotation)[0])
        collection: Callable[[Any], Any] = tuple if origin is tuple else list
        return lambda data: collection(item(v) for v in data)
    if origin in (Mapping, dict) or annotation in (Mapping, dict):
        args = get_args(annotation)
        value = _decoder(args[1]) if len(args) == 2 else _identity
        if value is _identity:
            return dict
        return lambda data: {k: value(v) for k, v in data.items()}
    supertype = getattr(annotation, "__supertype__", None)
    if supertype is not None:  # NewType ids arrive as their base type
        return _decoder(supertype)
    if isinstance(annotation, type):
        if dataclasses.is_dataclass(annotation):
            hints = typing.get_type_hints(annotation)
            fields = [(f.name, _decoder(hints[f.name])) for f in dataclasses.fields(annotation)]
            cls = annotation
            return lambda data: cls(**{name: convert(data[name]) for name, convert in fields})
        if issubclass(annotation, Enum):
            return annotation
        if annotation is Decimal:
            return Decimal
        if annotation is datetime:
            return _datetime_from_wire
        if annotation is float:
            return float
    return _identity


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
