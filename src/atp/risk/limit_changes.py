"""How an operator's change of the risk limits is read: a whole document, or a merge patch.

A limit left out of a change must never fall back to its code default unnoticed, so:

- a replacement (`PUT /risk/limits`) must name every field at every level, as
  `GET /risk/limits` returns it; `missing_fields` lists what it leaves out;
- a patch (`PATCH /risk/limits`) is a JSON merge patch (RFC 7396) on the limits in force:
  only the fields it names change. Two readings differ from the RFC, because `null` is a
  value of the limits: on a field `null` sets it (a limit of `null` is off), and only in a map
  keyed by the operator (`position_caps.per_symbol`, `correlation.buckets`,
  `correlation.bucket_caps`) does `null` remove the entry. Per-symbol keys are matched
  upper-cased, so `{"aapl": null}` removes `AAPL`'s caps.

Unknown fields are refused by the models (`extra="forbid"`) in both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from atp.risk.config import RiskEngineConfig, SymbolName


def missing_fields(model: BaseModel) -> list[tuple[str, ...]]:
    """The paths of the fields `model` was built without (defaults filled in), at every level."""
    missing: list[tuple[str, ...]] = []
    _collect_missing(model, (), missing)
    return missing


def _collect_missing(
    model: BaseModel, prefix: tuple[str, ...], into: list[tuple[str, ...]]
) -> None:
    given = model.model_fields_set
    for name in type(model).model_fields:
        path = (*prefix, name)
        if name not in given:
            into.append(path)
            continue
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            _collect_missing(value, path, into)
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, BaseModel):
                    _collect_missing(item, (*path, str(key)), into)


def merge_patch(current: RiskEngineConfig, patch: Mapping[str, Any]) -> RiskEngineConfig:
    """The limits `current` with `patch` applied (see the module docstring).

    Raises:
        pydantic.ValidationError: the patched limits are not valid (unknown field, bad value).
    """
    merged = _merge_model(RiskEngineConfig, current.model_dump(mode="json"), patch)
    return RiskEngineConfig.model_validate(merged)


def _merge_model(
    model: type[BaseModel], current: dict[str, Any], patch: Mapping[str, Any]
) -> dict[str, Any]:
    merged = dict(current)
    for name, change in patch.items():
        field = model.model_fields.get(name)
        present = merged.get(name)
        # An unknown name or a value that is not an object is set as given: validation judges it.
        if field is None or not isinstance(change, Mapping) or not isinstance(present, dict):
            merged[name] = change
            continue
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            merged[name] = _merge_model(annotation, present, change)
        elif get_origin(annotation) is dict:
            merged[name] = _merge_map(annotation, present, change)
        else:
            merged[name] = change
    return merged


def _merge_map(
    annotation: Any, current: dict[str, Any], patch: Mapping[str, Any]
) -> dict[str, Any]:
    key_type, value_type = get_args(annotation)
    symbol_keys = key_type == SymbolName
    if symbol_keys and len({str(key).upper() for key in patch}) < len(patch):
        return {**current, **patch}  # two keys name one symbol: validation says which
    merged = dict(current)
    for key, change in patch.items():
        target = key.upper() if symbol_keys and isinstance(key, str) else key
        present = merged.get(target)
        if change is None:
            merged.pop(target, None)
        elif (
            isinstance(value_type, type)
            and issubclass(value_type, BaseModel)
            and isinstance(change, Mapping)
            and isinstance(present, dict)
        ):
            merged[target] = _merge_model(value_type, present, change)
        else:
            merged[target] = change
    return merged
