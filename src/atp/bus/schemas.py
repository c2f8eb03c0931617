"""Loads the JSON Schemas of `schemas/` and validates documents against them.

Validation runs on every message that crosses a boundary, so it uses the compiled Rust validator
of `jsonschema-rs` (about 100 times faster here than the pure-Python `jsonschema`). RFC 3339
date-times must carry an offset: a naive time is refused, never guessed.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "schemas"
BASE_URI = "https://atp.dev/schemas/"


def schema_path(name: str) -> Path:
    """The file that holds the schema `name` (a subject, or an rpc request/reply)."""
    return SCHEMA_DIR / f"{name}.schema.json"


@cache
def _registry() -> jsonschema_rs.Registry:
    resources = [
        (BASE_URI + path.name, json.loads(path.read_text()))
        for path in sorted(SCHEMA_DIR.glob("*.schema.json"))
    ]
    return jsonschema_rs.Registry(resources)


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The parsed schema document `name`."""
    document: dict[str, Any] = json.loads(schema_path(name).read_text())
    return document


@cache
def _validator(name: str) -> Any:
    return jsonschema_rs.validator_for(
        load_schema(name), registry=_registry(), validate_formats=True
    )


def first_error(name: str, document: Any) -> str | None:
    """Why `document` breaks schema `name` (its first fault, with where), or None if valid."""
    validator = _validator(name)
    if validator.is_valid(document):
        return None
    errors = sorted(
        validator.iter_errors(document), key=lambda e: [str(p) for p in e.instance_path]
    )
    first = errors[0]
    where = "/".join(str(p) for p in first.instance_path) or "(root)"
    return f"schema {name}: at {where}: {first.message}"
