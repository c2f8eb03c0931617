"""Exact numbers for money, prices and quantities.

Everything booked is a `Decimal`. Values enter through `to_decimal`, which refuses NaN,
infinities and floats' binary noise is kept out by going through `repr` (shortest round-trip).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from atp.core.errors import InvalidInput

ZERO = Decimal(0)
CENT = Decimal("0.01")


def to_decimal(value: object, *, field: str = "value") -> Decimal:
    """Converts `value` to a finite Decimal or raises InvalidInput naming `field`."""
    if isinstance(value, bool):
        raise InvalidInput(f"{field}: expected a number, found a boolean")
    try:
        if isinstance(value, Decimal):
            result = value
        elif isinstance(value, float):
            result = Decimal(repr(value))
        elif isinstance(value, (int, str)):
            result = Decimal(value)
        else:
            raise InvalidInput(f"{field}: expected a number, found {type(value).__name__}")
    except InvalidOperation as exc:
        raise InvalidInput(f"{field}: expected a number, found {value!r}") from exc
    if not result.is_finite():
        raise InvalidInput(f"{field}: expected a finite number, found {value!r}")
    return result


def positive(value: Decimal, *, field: str) -> Decimal:
    """Returns `value` if it is strictly positive, else raises InvalidInput."""
    if value <= 0:
        raise InvalidInput(f"{field}: expected a positive number, found {value}")
    return value


def round_cents(value: Decimal) -> Decimal:
    """Rounds to cents with banker's rounding, for reporting (never for booking)."""
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def normalize(value: Decimal) -> Decimal:
    """Strips trailing zeros without switching to exponent notation for integers."""
    normalized = value.normalize()
    exponent = normalized.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        return normalized.quantize(Decimal(1))
    return normalized
