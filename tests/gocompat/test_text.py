"""Go-compatible helpers: strconv.ParseFloat, %q quoting, RE2 compile errors worded as Go's."""

from __future__ import annotations

import math

import pytest

from logyard.gocompat.text import compile_re2, go_quote, parse_float, re2_escape


@pytest.mark.parametrize(
    "text, value",
    [("1", 1.0), ("-2.5", -2.5), (".5", 0.5), ("5.", 5.0), ("1e3", 1000.0), ("+Inf", math.inf),
     ("-inf", -math.inf), ("infinity", math.inf), ("0x1p-2", 0.25), ("1E-2", 0.01)],
)
def test_parse_float_accepts_go_syntax(text, value):
    assert parse_float(text) == value


@pytest.mark.parametrize("text", ["", " 1", "1 ", "1_000", "abc", "1e", ".", "+", "0x", "1,5"])
def test_parse_float_rejects_like_go(text):
    with pytest.raises(ValueError) as exc:
        parse_float(text)
    assert str(exc.value) == f"strconv.ParseFloat: parsing {go_quote(text)}: invalid syntax"


def test_parse_float_out_of_range():
    with pytest.raises(ValueError, match=r'parsing "1e999": value out of range'):
        parse_float("1e999")
    assert math.isnan(parse_float("NaN"))


@pytest.mark.parametrize(
    "text, quoted",
    [("a", '"a"'), ('say "hi"\n', '"say \\"hi\\"\\n"'), ("tab\there", '"tab\\there"'), ("\x01", '"\\x01"'),
     ("é", '"é"'), ("back\\slash", '"back\\\\slash"')],
)
def test_go_quote(text, quoted):
    assert go_quote(text) == quoted


@pytest.mark.parametrize(
    "pattern, message",
    [("(", "error parsing regexp: missing closing ): `(`"),
     ("a**", "error parsing regexp: invalid nested repetition operator: `**`"),
     ("[z-a]", "error parsing regexp: invalid character class range: `z-a`"),
     ("*", "error parsing regexp: missing argument to repetition operator: `*`")],
)
def test_compile_re2_errors_are_worded_as_go(pattern, message):
    with pytest.raises(ValueError) as exc:
        compile_re2(pattern)
    assert str(exc.value) == message


def test_re2_escape_round_trips_literals():
    text = 'a.b*c[d] (e) {f} |g| ^h$ \\ é\n"'
    assert compile_re2("^" + re2_escape(text) + "$").search(text) is not None
