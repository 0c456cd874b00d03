"""Property tests: whatever number is written, in whatever form, the extractor reads its value back,
and a fact rendered by the writer always verifies while a changed digit never does."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from observability.ai.facts import Fact, FactSet, render_value
from observability.ai.number_extractor import extract
from observability.ai.number_verifier import verify_text

_settings = settings(max_examples=150, deadline=None)


@_settings
@given(st.integers(min_value=-10**9, max_value=10**9), st.sampled_from(["", " bps", "%", " USDT"]))
def test_integers_with_thousands_separators_round_trip(n: int, unit: str) -> None:
    text = f"value {n:,}{unit} here"
    nums = extract(text).numbers
    assert len(nums) == 1
    assert nums[0].value == n
    assert nums[0].step == 1.0


@_settings
@given(st.decimals(min_value=-10**6, max_value=10**6, places=3, allow_nan=False, allow_infinity=False))
def test_decimals_keep_value_and_precision(d: object) -> None:
    text = f"net {d} bps"
    nums = extract(text).numbers
    assert len(nums) == 1
    assert abs(nums[0].value - float(str(d))) < 1e-9
    decimals = len(str(d).split(".")[1]) if "." in str(d) else 0
    assert abs(nums[0].step - 10.0**-decimals) < 1e-12
    assert nums[0].unit == "bps"


@_settings
@given(st.floats(min_value=0.1, max_value=999, allow_nan=False), st.sampled_from([("k", 1e3), ("M", 1e6), ("B", 1e9)]))
def test_magnitude_suffixes_scale_value_and_step(x: float, suffix: tuple[str, float]) -> None:
    shown = f"{x:.1f}"
    nums = extract(f"about {shown}{suffix[0]} trades").numbers
    assert len(nums) == 1
    assert abs(nums[0].value - float(shown) * suffix[1]) < 1e-6 * suffix[1]
    assert nums[0].qualifier == "approx"


@_settings
@given(st.text(alphabet="abcdefghij -_", min_size=1, max_size=12), st.integers(min_value=0, max_value=99999))
def test_digits_inside_ids_and_names_are_not_numbers(prefix: str, n: int) -> None:
    word = "".join(c for c in prefix if c.isalpha()) or "x"
    text = f"trade `{word}{n}` and symbol {word.upper()}{n}USDT"
    assert extract(text).numbers == []


@_settings
@given(st.dates(), st.times())
def test_dates_and_times_are_returned_as_dates_not_quantities(d: object, t: object) -> None:
    text = f"On {d} at {str(t)[:5]} UTC nothing happened."
    ex = extract(text)
    assert ex.numbers == []
    assert ex.dates and str(d) in ex.dates[0]


def test_signs_currency_and_units_are_read() -> None:
    nums = extract("PnL -$1,234.50, +12 bps, −3%, 250ms, 1.5x, 2 hours").numbers
    got = [(n.value, n.unit, n.explicit_sign) for n in nums]
    assert got == [(-1234.5, "USDT", -1), (12.0, "bps", 1), (-3.0, "pct", -1), (0.25, "s", 0), (1.5, "x", 0),
                   (7200.0, "s", 0)]


def test_counts_written_as_words_are_numbers() -> None:
    nums = extract("three losing trades and twenty-one signals; one of the gates").numbers
    assert [n.value for n in nums] == [3.0, 21.0]


_units = st.sampled_from(["ratio", "pct", "bps", "USDT", "count", "s", "ms", "x", "price", "per_s", ""])


@_settings
@given(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False), _units,
       st.integers(min_value=0, max_value=6))
@example(0.005, "pct", 2)  # a tie: printed "0.01%" (the binary value is a hair above), round() goes to even
def test_every_rendered_fact_verifies_against_itself(value: float, unit: str, precision: int) -> None:
    fact = Fact(id="m.x", label="the metric", value=value, unit=unit, precision=precision)
    report = verify_text(f"The metric: {render_value(fact)}.", FactSet([fact]))
    assert report.verified, (render_value(fact), report.findings())


@_settings
@given(st.floats(min_value=1, max_value=1e6, allow_nan=False), st.sampled_from(["bps", "USDT", "pct"]),
       st.integers(min_value=0, max_value=3), st.integers(min_value=1, max_value=9))
def test_a_changed_last_digit_is_always_caught(value: float, unit: str, precision: int, bump: int) -> None:
    # An exact half (64.25 at one decimal) may be shown either way, and both are exactly half a digit off.
    assume(abs((value * 10**precision) % 1 - 0.5) > 1e-6)
    fact = Fact(id="m.x", label="the metric", value=value, unit=unit, precision=precision)
    wrong = Fact(id="m.x", label="the metric", value=value + bump * 10.0**-precision, unit=unit, precision=precision)
    report = verify_text(f"The metric: {render_value(wrong)}.", FactSet([fact]))
    assert not report.verified


def test_case_of_m_separates_minutes_from_millions() -> None:
    assert [(n.value, n.unit) for n in extract("5m hold, 5M volume, 2bn notional").numbers] == [
        (300.0, "s"), (5_000_000.0, ""), (2_000_000_000.0, "")]


@_settings
@given(st.integers(min_value=0, max_value=999), st.integers(min_value=0, max_value=999))
def test_a_hyphenated_range_is_two_positive_ends(a: int, b: int) -> None:
    nums = extract(f"{a}-{b} trades").numbers
    assert [n.value for n in nums] == [a, b]


@_settings
@given(st.decimals(min_value=1, max_value=Decimal("9.99"), places=2), st.integers(min_value=-6, max_value=6))
def test_scientific_notation_is_read_whole(mantissa: object, exp: int) -> None:
    nums = extract(f"slippage {mantissa}e{exp} bps").numbers
    assert len(nums) == 1
    assert abs(nums[0].value - float(f"{mantissa}e{exp}")) <= 1e-9 * abs(nums[0].value)
    assert nums[0].unit == "bps"


def test_unicode_and_en_dash_minus_signs_are_signs() -> None:
    assert [n.value for n in extract("PnL −3.2% then –1.5 bps").numbers] == [-3.2, -1.5]


def test_magnitude_words_scale_the_number() -> None:
    values = [n.value for n in extract("1.2 million fills, a thousand trades, two dozen models, "
                                       "three hundred signals; one of the gates").numbers]
    assert values == [1.2e6, 1000, 24, 300]
