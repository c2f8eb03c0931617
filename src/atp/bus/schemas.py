"""Loads the JSON Schemas of `schemas/` and builds one validator per subject."""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "schemas"
BASE_URI = "https://atp.dev/schemas/"

_format_checker = FormatChecker()


@_format_checker.checks("date-time", raises=ValueError)  # type: ignore[untyped-decorator]
def _is_aware_datetime(value: object) -> bool:
    """RFC 3339 date-times must carry an offset; a naive time is refused, never guessed."""
    if not isinstance(value, str):
        return True
    parsed = datetime.fromisoformat(value)
    return parsed.tzinfo is not None


def schema_path(subject: str) -> Path:
    """The file that holds the schema of `subject`."""
    return SCHEMA_DIR / f"{subject}.schema.json"


@cache
def _registry() -> Registry[Any]:
    resources = []
    for path in sorted(SCHEMA_DIR.glob("*.schema.json")):
        document = json.loads(path.read_text())
        resources.append((BASE_URI + path.name, Resource.from_contents(document)))
    registry: Registry[Any] = Registry().with_resources(resources)
    return registry


@cache
def load_schema(subject: str) -> dict[str, Any]:
    """The parsed schema document of `subject`."""
    document: dict[str, Any] = json.loads(schema_path(subject).read_text())
    return document


@cache
def validator_for(subject: str) -> Draft202012Validator:
    """A validator for whole envelopes on `subject`, with date-time formats enforced."""
    return Draft202012Validator(
        load_schema(subject), registry=_registry(), format_checker=_format_checker
    )
