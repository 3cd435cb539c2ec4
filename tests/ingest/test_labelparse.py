"""Label strings parse like Prometheus' ParseMetric, with its error texts and positions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logyard.ingest.labelparse import LabelParseError, go_quote, labels_string, parse_labels


@pytest.mark.parametrize(
    "text, pairs",
    [
        ('{a="b", c="d"}', [("a", "b"), ("c", "d")]),
        ('{a="b",c="d",}', [("a", "b"), ("c", "d")]),  # a trailing comma is allowed
        ("{}", []),
        ("", []),
        ('  { a = "b" }  ', [("a", "b")]),
        ('{a="", b="x"}', [("b", "x")]),  # empty values are absent labels
        ("{a='single', b=`raw\\n`}", [("a", "single"), ("b", "raw\\n")]),
        ('{a="tab\\there \\"q\\" \\u00e9\\x41"}', [("a", 'tab\there "q" éA')]),
        ('{a="1", a="2"}', [("a", "1"), ("a", "2")]),  # duplicates are for validation to reject
        ('foo{a="1"}', [("__name__", "foo"), ("a", "1")]),
    ],
)
def test_parse_labels_accepts_prometheus_label_sets(text, pairs):
    assert parse_labels(text) == pairs


@pytest.mark.parametrize(
    "text, message",
    [
        ('{1bad="v"}', "1:2: parse error: unexpected character inside braces: '1'"),
        ("{a}", '1:3: parse error: unexpected "}" in label set, expected "="'),
        ("{a=b}", '1:4: parse error: unexpected identifier "b" in label set, expected string'),
        ('{a="b" c="d"}', '1:8: parse error: unexpected identifier "c" in label set, expected "," or "}"'),
        ('{a="b"', "1:7: parse error: unexpected end of input inside braces"),
        ('{a="b', "1:4: parse error: unterminated quoted string"),
        ('{="v"}', '1:2: parse error: unexpected "=" in label set, expected identifier or "}"'),
        ('{a="x\\q"}', "1:4: parse error: unknown escape sequence U+0071 'q'"),
        ('{a.b="c"}', "1:3: parse error: unexpected character inside braces: '.'"),
        ('{a="é", b-c="d"}', "1:11: parse error: unexpected character inside braces: '-'"),  # counts bytes
        ('{a!"x"}', "1:3: parse error: unexpected character after '!' inside braces: '\"'"),
    ],
)
def test_parse_labels_reports_prometheus_errors(text, message):
    with pytest.raises(LabelParseError) as info:
        parse_labels(text)
    assert str(info.value) == message
    assert info.value.status == 400


@pytest.mark.parametrize(
    "value, quoted",
    [("plain", '"plain"'), ('a"b\\c', '"a\\"b\\\\c"'), ("a\nb\tc", '"a\\nb\\tc"'), ("\x01", '"\\x01"'), ("é", '"é"')],
)
def test_go_quote_matches_strconv_quote(value, quoted):
    assert go_quote(value) == quoted


names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,8}", fullmatch=True)


@given(st.dictionaries(names, st.text(min_size=1, max_size=20), max_size=6))
def test_printed_label_map_parses_back(labels):
    assert dict(parse_labels(labels_string(labels))) == labels


@given(st.text(alphabet=st.sampled_from(list('{}=",\'`\\ab_1 \n!~.xu0')) | st.characters(), max_size=30))
def test_any_label_string_parses_or_raises_a_parse_error(text):
    try:
        pairs = parse_labels(text)
    except LabelParseError as e:
        assert str(e).split(": parse error: ", 1)[0].count(":") == 1  # line:col
    else:
        assert all(isinstance(k, str) and isinstance(v, str) and v for k, v in pairs)
