"""Exact numbers for money, prices and quantities.

Everything booked is a `Decimal`. Values enter through `to_decimal`, which refuses NaN,
infinities and floats' binary noise is kept out by going through `repr` (shortest round-trip).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation

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


# Presentation: what an API shows of a value, never what is booked or summed.


_PLAIN_DIGITS = 40
# Presentation rounds in a context wide enough for any figure shown in plain notation.
_WIDE = Context(prec=2 * _PLAIN_DIGITS)


def plain(value: Decimal) -> str:
    """`value` exactly, in plain notation without trailing zeros: 0E-24 -> "0", 1E+2 -> "100".

    For quantities and other exact figures shown to people; a zero of any exponent or sign
    reads "0". A value more than 40 digits away from 1 keeps its exponent.
    """
    if not value:
        return "0"
    if not -_PLAIN_DIGITS <= value.adjusted() <= _PLAIN_DIGITS:
        return str(value)  # no validated figure is this far from 1: not worth 10^n zeros
    # The "f" format never writes an exponent, so `normalize` (integers) is not needed.
    return format(value.normalize(_WIDE), "f")


def amount(value: Decimal, places: int | None = None) -> str:
    """An amount of money (or a price) as people read it: plain notation, at least cents.

    Exact unless `places` is given, when it is rounded half-even to that many decimal places
    first (for figures that come out of a division, like an average cost, whose exact value
    has 28 digits); trailing zeros past the cent are dropped: 98145 -> "98145.00",
    213.6397402597... with 6 places -> "213.63974", 0E-24 -> "0.00".
    """
    try:
        if places is not None:
            value = value.quantize(_ONE.scaleb(-places), ROUND_HALF_EVEN, _WIDE)
        if not value:
            return "0.00"
        if not -_PLAIN_DIGITS <= value.adjusted() <= _PLAIN_DIGITS:
            return plain(value)
        shown = value.normalize(_WIDE)
        if shown.as_tuple().exponent > -2:  # type: ignore[operator]  # finite: an int
            shown = shown.quantize(CENT, context=_WIDE)
    except InvalidOperation:  # more digits than the context holds: shown exactly instead
        return plain(value)
    return format(shown, "f")
