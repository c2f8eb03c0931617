"""Instrument symbols as every entry point reads them: validated one way, upper-case.

Market data names its symbols in upper case, and `POST /orders` upper-cases what it is given.
Everything else a user types a symbol into (the risk API's block routes, per-symbol caps and
bucket members in the risk limits) reads it with `parse_symbol`, so `aapl` and `AAPL` are one
instrument everywhere: blocking `aapl` blocks an order for `AAPL`.
"""

from __future__ import annotations

import re

from atp.core.errors import InvalidInput
from atp.core.ids import Symbol

SYMBOL_PATTERN = r"^[A-Za-z0-9./-]{1,16}$"
"""What a symbol may look like: 1-16 letters, digits, `.`, `-` or `/` (as `POST /orders`)."""

_SYMBOL = re.compile(SYMBOL_PATTERN)


def parse_symbol(text: str) -> Symbol:
    """The canonical (upper-case) form of the symbol `text`.

    Raises:
        InvalidInput: `text` is not 1-16 letters, digits, `.`, `-` or `/`.
    """
    if _SYMBOL.fullmatch(text) is None:
        raise InvalidInput(
            f"symbol: expected 1-16 letters, digits, '.', '-' or '/', found {text!r}"
        )
    return Symbol(text.upper())
