"""`money.plain` and `money.amount`: what an API shows is the value (or its rounding), plainly."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal

from hypothesis import example, given
from hypothesis import strategies as st

from atp.core.money import amount, plain

# Values as the books hold them: up to 28 significant digits, exponents a ledger can reach.
_BOOKED = st.builds(
    lambda sign, digits, exponent: Decimal((sign, tuple(int(d) for d in digits), exponent)),
    st.integers(0, 1),
    st.text("0123456789", min_size=1, max_size=28),
    st.integers(-30, 10),
)


@given(_BOOKED)
@example(Decimal("0E-24"))
@example(Decimal("1E+2"))
@example(Decimal("-0.00"))
def test_plain_is_the_exact_value_without_an_exponent(value: Decimal) -> None:
    text = plain(value)
    assert "E" not in text and "e" not in text
    assert Decimal(text) == value
    assert text == "0" or not ("." in text and text.endswith("0")), "no trailing zeros"


@given(_BOOKED)
@example(Decimal("98145"))
@example(Decimal("0E-24"))
def test_an_exact_amount_is_the_value_to_at_least_the_cent(value: Decimal) -> None:
    text = amount(value)
    assert "E" not in text
    assert Decimal(text) == value
    assert len(text.partition(".")[2]) >= 2


@given(_BOOKED, st.integers(0, 8))
@example(Decimal("213.6397402597402597402597403"), 6)
@example(Decimal("2516.399342041015239999999994"), 2)
def test_a_rounded_amount_is_the_half_even_rounding(value: Decimal, places: int) -> None:
    step = Decimal(1).scaleb(-places)
    text = amount(value, places)
    assert "E" not in text
    assert Decimal(text) != 0 or not text.startswith("-"), "no negative zero"
    # The reference in a context wide enough for 28 digits and 8 places (the default has 28).
    assert Decimal(text) == value.quantize(step, ROUND_HALF_EVEN, Context(prec=80))


def test_the_figures_qa_saw_read_as_people_write_them() -> None:
    assert amount(Decimal("213.6397402597402597402597403"), 6) == "213.63974"
    assert amount(Decimal("2516.399342041015239999999994"), 2) == "2516.40"
    assert (amount(Decimal("0E-24"), 2), plain(Decimal("0E-24"))) == ("0.00", "0")
    assert (amount(Decimal("1E+2")), plain(Decimal("1E+2"))) == ("100.00", "100")
