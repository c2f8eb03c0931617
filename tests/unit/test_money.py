"""`money.normalize` gives the very Decimal (digits, exponent, sign) the plain formulation gives."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation, localcontext

from hypothesis import example, given, settings
from hypothesis import strategies as st

from atp.core.money import normalize


def _reference(value: Decimal) -> Decimal:
    """The formulation `normalize` replaced: reads the exponent through `as_tuple()`."""
    normalized = value.normalize()
    exponent = normalized.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        return normalized.quantize(Decimal(1))
    return normalized


def _outcome(function: Callable[[Decimal], Decimal], value: Decimal) -> tuple[str, list[str]]:
    """What a call gives: the result's exact digits (or the exception) and the flags raised."""
    with localcontext() as context:
        context.clear_flags()
        try:
            result = repr(function(value).as_tuple())
        except InvalidOperation as exc:
            result = f"raised {type(exc).__name__}"
        flags = sorted(flag.__name__ for flag, raised in context.flags.items() if raised)
    return result, flags


_DECIMALS = st.builds(
    lambda sign, digits, exponent: Decimal((sign, tuple(int(d) for d in digits), exponent)),
    st.integers(0, 1),
    st.text("0123456789", min_size=1, max_size=34),
    st.integers(-40, 40),
)


@settings(max_examples=5000)
@given(st.one_of(_DECIMALS, st.decimals(allow_nan=True, allow_infinity=True)))
@example(Decimal("0"))
@example(Decimal("-0"))
@example(Decimal("0E+5"))
@example(Decimal("-0.000"))
@example(Decimal("1.50"))
@example(Decimal("100"))
@example(Decimal("-100.00"))
@example(Decimal("1E+2"))
@example(Decimal("9"))
@example(Decimal("10"))
@example(Decimal("10.0"))
@example(Decimal("1E+27"))
@example(Decimal("1E+28"))
@example(Decimal("1E+30"))
@example(Decimal("1234567890123456789012345678901234567890"))
@example(Decimal("0.1234567890123456789012345678901234567890"))
@example(Decimal("NaN"))
@example(Decimal("-NaN"))
@example(Decimal("NaN123"))
@example(Decimal("Infinity"))
@example(Decimal("-Infinity"))
@example(Decimal("1E-999999"))
@example(Decimal("9E+999999"))
def test_normalize_matches_the_as_tuple_formulation(value: Decimal) -> None:
    assert _outcome(normalize, value) == _outcome(_reference, value)


def test_normalize_refuses_a_signalling_nan_like_before() -> None:
    for function in (normalize, _reference):
        try:
            function(Decimal("sNaN"))
        except InvalidOperation:
            continue
        raise AssertionError("sNaN accepted")


def test_normalize_spellings() -> None:
    assert str(normalize(Decimal("1.50"))) == "1.5"
    assert str(normalize(Decimal("100.00"))) == "100"
    assert str(normalize(Decimal("1E+2"))) == "100"
    assert str(normalize(Decimal("-0.00"))) == "-0"
    assert str(normalize(Decimal("0.00100"))) == "0.001"
