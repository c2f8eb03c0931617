"""`quick_init` builds the same objects as a frozen dataclass's own `__init__`."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
import typing
from dataclasses import FrozenInstanceError, dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from atp.agents import strategy
from atp.backtest import equity, metrics, trades
from atp.backtest import model as backtest_model
from atp.brokers import models as broker_models
from atp.core import events, proposals
from atp.core.frozen import quick_init
from atp.marketdata import align
from atp.meta import coordinator, voting


@dataclass(frozen=True, slots=True)
class _Plain:
    name: str
    price: Decimal
    note: str | None = None
    tags: tuple[str, ...] = field(default=())


@quick_init
@dataclass(frozen=True, slots=True)
class _Quick:
    name: str
    price: Decimal
    note: str | None = None
    tags: tuple[str, ...] = field(default=())


@quick_init
@dataclass(frozen=True, slots=True)
class _Checked:
    quantity: Decimal

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise ValueError("quantity must be positive")


def _quickened() -> list[type[Any]]:
    found = []
    modules = (events, proposals, broker_models, backtest_model, strategy, equity, metrics, trades)
    for module in (*modules, align, coordinator, voting):
        for value in vars(module).values():
            defined_here = isinstance(value, type) and value.__module__ == module.__name__
            if defined_here and getattr(value.__init__, "quick_init", False):
                found.append(value)
    return found


def test_the_hot_events_are_quickened() -> None:
    names = {cls.__name__ for cls in _quickened()}
    assert {"MarketSignal", "OrderIntent", "MetaDecision", "OrderUpdate", "Order"} <= names
    assert {"Ballot", "VoteOutcome", "DecisionResult", "StrategySignal", "BarBatch"} <= names


@pytest.mark.parametrize("cls", _quickened(), ids=lambda cls: cls.__name__)
def test_a_quickened_class_keeps_its_dataclass_signature(cls: type[Any]) -> None:
    expected = [
        inspect.Parameter(
            f.name,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            default=inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default,
            annotation=f.type,
        )
        for f in dataclasses.fields(cls)
    ]
    assert list(inspect.signature(cls).parameters.values()) == expected


@pytest.mark.parametrize("cls", _quickened(), ids=lambda cls: cls.__name__)
def test_a_quickened_init_s_annotations_resolve_in_its_module(cls: type[Any]) -> None:
    hints = typing.get_type_hints(cls.__init__)
    of_class = typing.get_type_hints(cls)
    fields = {f.name: of_class[f.name] for f in dataclasses.fields(cls)}
    assert hints == {**fields, "return": type(None)}
    assert inspect.signature(cls, eval_str=True).parameters.keys() == hints.keys() - {"return"}


def test_it_builds_what_the_dataclass_builds_positionally_by_keyword_and_by_default() -> None:
    for args, kwargs in [
        (("x", Decimal("1.50")), {}),
        (("x", Decimal("1.50"), "n", ("a",)), {}),
        ((), {"price": Decimal(2), "name": "y", "tags": ("b", "c")}),
    ]:
        plain, quick = _Plain(*args, **kwargs), _Quick(*args, **kwargs)
        assert dataclasses.astuple(quick) == dataclasses.astuple(plain)
        assert repr(quick).replace("_Quick", "_Plain") == repr(plain)
        assert hash(quick) == hash(dataclasses.replace(quick))


def test_it_refuses_what_the_dataclass_refuses() -> None:
    with pytest.raises(TypeError):
        _Quick("x")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        _Quick("x", Decimal(1), nothing=1)  # type: ignore[call-arg]
    quick = _Quick("x", Decimal(1))
    with pytest.raises(FrozenInstanceError):
        quick.name = "y"  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        del quick.price  # type: ignore[misc]
    with pytest.raises(ValueError, match="positive"):
        _Checked(Decimal(0))


def test_replace_and_pickle_round_trip() -> None:
    quick = _Quick("x", Decimal("1.50"), "n")
    assert dataclasses.replace(quick, note=None) == _Quick("x", Decimal("1.50"))
    assert pickle.loads(pickle.dumps(quick)) == quick


def test_only_plain_frozen_slotted_dataclasses_qualify() -> None:
    @dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclass(slots=True)
    class NotFrozen:
        a: int

    @dataclass(frozen=True, slots=True)
    class Factory:
        a: list[int] = field(default_factory=list)

    @dataclass(frozen=True, slots=True, kw_only=True)
    class KeywordOnly:
        a: int

    for cls in (NoSlots, NotFrozen, Factory, KeywordOnly):
        with pytest.raises(TypeError):
            quick_init(cls)
