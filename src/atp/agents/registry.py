"""The strategy registry: name -> class, and building a strategy from a name and plain params."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from atp.agents.strategies.mean_reversion import MeanReversion
from atp.agents.strategies.momentum import Momentum
from atp.agents.strategies.sma_crossover import SmaCrossover
from atp.agents.strategy import API_VERSION, Strategy
from atp.core.errors import InvalidInput

STRATEGIES: dict[str, type[Strategy[Any]]] = {
    cls.name: cls for cls in (Momentum, MeanReversion, SmaCrossover)
}


def register_strategy(cls: type[Strategy[Any]]) -> type[Strategy[Any]]:
    """Adds a user strategy to the registry (usable as a class decorator).

    Raises:
        InvalidInput: the class targets another API version, or its name is taken.
    """
    if getattr(cls, "API_VERSION", None) != API_VERSION:
        raise InvalidInput(
            f"strategy {cls.__name__}: expected plugin API version {API_VERSION}, "
            f"found {getattr(cls, 'API_VERSION', None)}"
        )
    existing = STRATEGIES.get(cls.name)
    if existing is not None and existing is not cls:
        raise InvalidInput(f"strategy name {cls.name!r} is already registered by {existing}")
    STRATEGIES[cls.name] = cls
    return cls


def build_strategy(name: str, params: Mapping[str, Any] | None = None) -> Strategy[Any]:
    """Builds the strategy called `name` with `params` validated by its Params model.

    Raises:
        InvalidInput: unknown name (the message lists the known ones) or bad parameters.
    """
    cls = STRATEGIES.get(name)
    if cls is None:
        known = ", ".join(sorted(STRATEGIES))
        raise InvalidInput(f"unknown strategy {name!r}; known strategies: {known}")
    return cls.from_params(dict(params or {}))
