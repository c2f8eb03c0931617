"""The Python message types and the JSON Schemas in `schemas/` describe the same events.

If a field is added to a payload dataclass and not to its schema (or the other way round), or a
type drifts (a Decimal sent as a number, an optional field made required), these tests fail.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Union, get_args, get_origin

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atp.bus import codec
from atp.bus.schemas import SCHEMA_DIR, load_schema
from atp.bus.subjects import PAYLOAD_BY_SUBJECT
from atp.core.events import envelope_for

DECIMAL_PATTERN = "^-?[0-9]+(\\.[0-9]+)?$"


def _expected(tp: Any) -> dict[str, Any]:
    """The schema shape a payload field of type `tp` must have on the wire."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        non_null = [a for a in get_args(tp) if a is not type(None)]
        assert len(non_null) == 1, f"unions of several types are not allowed: {tp}"
        return {"nullable": _expected(non_null[0])}
    if tp is Any:
        return {}
    if origin is tuple:
        return {"type": "array", "items": _expected(get_args(tp)[0])}
    if origin in (Mapping, dict):
        return {"type": "object"}
    supertype = getattr(tp, "__supertype__", None)
    if supertype is not None:
        return _expected(supertype)
    if dataclasses.is_dataclass(tp):
        return {"$ref": f"#/$defs/{tp.__name__}"}
    if isinstance(tp, type) and issubclass(tp, Enum):
        return {"type": "string", "enum": sorted(m.value for m in tp)}
    if tp is Decimal:
        return {"type": "string", "pattern": DECIMAL_PATTERN}
    if tp is datetime:
        return {"type": "string", "format": "date-time"}
    return {"type": {bool: "boolean", int: "integer", float: "number", str: "string"}[tp]}


def _actual(node: dict[str, Any]) -> dict[str, Any]:
    """The same shape, read from a schema node."""
    if "anyOf" in node:
        options = [o for o in node["anyOf"] if o != {"type": "null"}]
        assert len(node["anyOf"]) == 2 and len(options) == 1, node
        return {"nullable": _actual(options[0])}
    if "$ref" in node:
        return {"$ref": node["$ref"]}
    shape: dict[str, Any] = {}
    for key in ("type", "pattern", "format"):
        if key in node:
            shape[key] = node[key]
    if "enum" in node:
        shape["enum"] = sorted(node["enum"])
    if "items" in node:
        shape["items"] = _actual(node["items"])
    return shape


def _check_object(cls: type[Any], node: dict[str, Any], defs: dict[str, Any]) -> None:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    assert sorted(node["properties"]) == sorted(names), cls.__name__
    assert sorted(node["required"]) == sorted(names), f"{cls.__name__}: every field is required"
    assert node["additionalProperties"] is False, cls.__name__
    for name in names:
        assert _actual(node["properties"][name]) == _expected(hints[name]), f"{cls.__name__}.{name}"
        for nested in _nested_dataclasses(hints[name]):
            _check_object(nested, defs[nested.__name__], defs)


def _nested_dataclasses(tp: Any) -> list[type[Any]]:
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return [tp]
    return [n for arg in get_args(tp) for n in _nested_dataclasses(arg)]


@pytest.mark.parametrize("subject", sorted(PAYLOAD_BY_SUBJECT))
def test_schema_and_dataclass_agree_field_by_field(subject: str) -> None:
    schema = load_schema(subject)
    assert schema["properties"]["type"] == {"const": subject}
    _check_object(PAYLOAD_BY_SUBJECT[subject], schema["$defs"]["payload"], schema["$defs"])


def test_every_subject_has_a_schema_file_and_every_file_a_subject() -> None:
    files = {p.name.removesuffix(".schema.json") for p in SCHEMA_DIR.glob("*.schema.json")}
    non_event = {"envelope"} | {f for f in files if f.startswith("rpc.")}
    assert files - non_event == set(PAYLOAD_BY_SUBJECT)
    for path in SCHEMA_DIR.glob("*.schema.json"):
        document = json.loads(path.read_text())
        assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema", path.name


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def _strategy_for(tp: Any) -> st.SearchStrategy[Any]:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        non_null = [a for a in get_args(tp) if a is not type(None)]
        return st.none() | _strategy_for(non_null[0])
    if origin is tuple:
        return st.lists(_strategy_for(get_args(tp)[0]), max_size=3).map(tuple)
    if origin in (Mapping, dict):
        value = get_args(tp)[1]
        values = _json_values if value is Any else _strategy_for(value)
        return st.dictionaries(st.text(min_size=1, max_size=6), values, max_size=3)
    supertype = getattr(tp, "__supertype__", None)
    if supertype is not None:
        return _strategy_for(supertype)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        hints = typing.get_type_hints(tp)
        return st.builds(
            tp, **{f.name: _strategy_for(hints[f.name]) for f in dataclasses.fields(tp)}
        )
    if isinstance(tp, type) and issubclass(tp, Enum):
        return st.sampled_from(list(tp))
    if tp is Decimal:
        return st.decimals(
            allow_nan=False, allow_infinity=False, places=6, min_value=-(10**9), max_value=10**9
        )
    if tp is datetime:
        return st.datetimes(
            min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
        )
    if tp is float:
        return st.floats(allow_nan=False, allow_infinity=False, width=64)
    if tp is int:
        return st.integers(0, 10**9)
    if tp is bool:
        return st.booleans()
    return st.text(min_size=1, max_size=12)


@pytest.mark.parametrize("subject", sorted(PAYLOAD_BY_SUBJECT))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_any_instance_survives_the_wire_unchanged(subject: str, data: st.DataObject) -> None:
    payload = data.draw(_strategy_for(PAYLOAD_BY_SUBJECT[subject]))
    envelope = envelope_for(payload, source="test", event_time=datetime(2024, 1, 2, tzinfo=UTC))
    assert codec.decode(codec.encode(envelope), expected_subject=subject) == envelope
