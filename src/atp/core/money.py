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


_ONE = Decimal(1)


def normalize(value: Decimal) -> Decimal:
    """Strips trailing zeros without switching to exponent notation for integers."""
    normalized = value.normalize()
    # Only an integer of ten or more can come out of `normalize` with a positive exponent
    # (1E+1 and up): below ten (adjusted() <= 0, which NaN and infinities also report) the
    # exponent is at most adjusted() <= 0, and a non-integer has a negative one. An integer
    # whose exponent is already 0 is left as it is by the quantize. This reads no digits,
    # unlike `as_tuple()` (which was most of the cost, normalize runs several times per fill).
    if normalized.adjusted() > 0 and normalized == normalized.to_integral_value():
        return normalized.quantize(_ONE)
    return normalized
