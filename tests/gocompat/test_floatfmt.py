import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logyard.gocompat.floatfmt import format_timestamp_ms, format_value, timestamp_json


@pytest.mark.parametrize(
    "value, text",
    [
        (0.1, "0.1"),
        (8.0, "8"),
        (207975.63888888888, "207975.63888888888"),
        (1e-7, "0.0000001"),
        (1.5e-10, "0.00000000015"),
        (1e21, "1000000000000000000000"),
        (1.2345e17, "123450000000000000"),
        (-0.5, "-0.5"),
        (-0.0, "-0"),
        (0.0, "0"),
        (math.nan, "NaN"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (83689.46333333333, "83689.46333333333"),
    ],
)
def test_format_value_is_go_formatfloat_f_minus_one(value, text):
    assert format_value(value) == text


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_format_value_round_trips_without_exponent(value):
    text = format_value(value)
    assert "e" not in text and "E" not in text
    assert float(text) == value


@pytest.mark.parametrize(
    "ms, text, number",
    [(1767227399999, "1767227399.999", 1767227399.999), (1767225870000, "1767225870", 1767225870),
     (1767229200500, "1767229200.5", 1767229200.5)],
)
def test_point_timestamps_are_seconds_with_millisecond_fraction(ms, text, number):
    assert format_timestamp_ms(ms) == text
    got = timestamp_json(ms)
    assert got == number and type(got) is type(number)
