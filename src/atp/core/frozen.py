"""Cheaper construction for the frozen dataclasses built several times per trade.

A frozen dataclass's generated `__init__` stores each field with `object.__setattr__`, looked
up again for every field, because the class's own `__setattr__` refuses. For the events a
trade builds (`OrderUpdate` has 19 fields, `MetaDecision` 20; a backtest builds about 40 such
objects per trade) that is most of their cost. `quick_init` gives a frozen, slotted dataclass
an `__init__` with the same signature that stores each field through its slot's descriptor,
bound once per class: about 45% less per instance. Nothing else changes: the class is still
the same frozen dataclass (fields, `replace`, `asdict`, equality, hashing, the refusal to set
or delete an attribute, pickling).
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any, TypeVar

T = TypeVar("T")


def quick_init(cls: type[T]) -> type[T]:
    """Replaces `cls.__init__` (see the module docstring); TypeError if `cls` does not qualify.

    Qualifies: a frozen dataclass with `slots=True` whose fields are all `init` fields,
    positional or keyword, with a plain default or none (no `default_factory`, no `kw_only`).
    A `__post_init__` is called last, as the dataclass's own `__init__` does.
    """
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or not params.init or "__slots__" not in vars(cls):
        raise TypeError(f"{cls.__qualname__} is not a frozen dataclass with slots")
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    captured: dict[str, Any] = {}  # the factory's arguments: setters and defaults
    arguments = []
    body = []
    for field in fields:
        if not field.init or field.kw_only or field.default_factory is not dataclasses.MISSING:
            raise TypeError(f"{cls.__qualname__}.{field.name}: only plain fields qualify")
        name = field.name
        captured[f"_set_{name}"] = getattr(cls, name).__set__
        if field.default is dataclasses.MISSING:
            arguments.append(name)
        else:
            captured[f"_default_{name}"] = field.default
            arguments.append(f"{name}=_default_{name}")
        body.append(f"        _set_{name}(self, {name})")
    if hasattr(cls, "__post_init__"):
        body.append("        self.__post_init__()")
    # As dataclasses builds its methods: a factory run in the class's module, so the method's
    # globals are the module's (its string annotations resolve) and the setters are closures.
    source = (
        f"def _make({', '.join(captured)}):\n"
        f"    def __init__(self, {', '.join(arguments)}):\n"
        + "\n".join(body or ["        pass"])
        + "\n    return __init__\n"
    )
    factory: dict[str, Any] = {}
    exec(source, sys.modules[cls.__module__].__dict__, factory)
    init = factory["_make"](**captured)
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__annotations__ = {**{f.name: f.type for f in fields}, "return": None}
    init.__doc__ = cls.__init__.__doc__
    init.quick_init = True  # how a test finds the classes built this way
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
