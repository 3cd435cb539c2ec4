"""Label filters: Loki's handling of missing labels, unparsable values and errors."""

from __future__ import annotations

import pytest

from logyard.logql.stages.builder import LabelsBuilder
from logyard.logql.stages.label_filter import (
    AndLabelFilter,
    BytesLabelFilter,
    DurationLabelFilter,
    IPLabelFilter,
    NumericLabelFilter,
    OrLabelFilter,
    StringLabelFilter,
)


def run(f, labels, err=""):
    lbs = LabelsBuilder(labels)
    lbs.err = err
    keep = f.process(0, "line", lbs)[1]
    return keep, lbs.labels()


def test_numeric_filter_drops_entries_missing_the_label():
    assert run(NumericLabelFilter("status", ">=", 500), {"app": "a"}) == (False, {"app": "a"})


def test_numeric_filter_keeps_unparsable_values_and_flags_them():
    keep, labels = run(NumericLabelFilter("status", ">=", 500), {"status": "abc"})
    assert keep
    assert labels["__error__"] == "LabelFilterErr"
    assert labels["__error_details__"] == 'strconv.ParseFloat: parsing "abc": invalid syntax'


def test_label_filter_error_does_not_replace_an_earlier_error():
    keep, labels = run(NumericLabelFilter("status", ">", 1), {"status": "x"}, err="JSONParserErr")
    assert keep and labels["__error__"] == "JSONParserErr" and "__error_details__" not in labels


@pytest.mark.parametrize(
    "f, value, expected",
    [
        (NumericLabelFilter("v", ">", 2000), "2000.5", True),
        (NumericLabelFilter("v", "==", 500), "500", True),
        (NumericLabelFilter("v", "!=", 200), "200.0", False),
        (NumericLabelFilter("v", "<", 1), "-Inf", True),
        (NumericLabelFilter("v", "<=", 1), "1e0", True),
        (DurationLabelFilter("v", ">", 50_000_000), "42.757ms", False),
        (DurationLabelFilter("v", ">", 50_000_000), "1m", True),
        (DurationLabelFilter("v", "==", 3_720_000_000_000), "1h2m", True),
        (BytesLabelFilter("v", ">", 150_000), "1.5MiB", True),
        (BytesLabelFilter("v", "<=", 42), "42 B", True),
        (BytesLabelFilter("v", ">", 150_000), "150KB", False),
        (StringLabelFilter("v", "=~", "/api"), "/api/x", False),  # anchored like a matcher
        (StringLabelFilter("v", "=~", "/api.*"), "/api/x", True),
        (StringLabelFilter("v", "!~", "(?i)GET"), "get", False),
        (StringLabelFilter("v", "=~", ""), "anything", True),  # Loki: =~"" is always true
        (StringLabelFilter("v", "!~", ""), "", False),  # and !~"" never
        (StringLabelFilter("v", "!=", "x"), "y", True),
        # Loki's regex simplifier turns these shapes into substring tests, not anchored matches
        (StringLabelFilter("v", "=~", "/api.*"), "/v2/api/x", True),
        (StringLabelFilter("v", "=~", ".*foo"), "foobar", True),
        (StringLabelFilter("v", "=~", "/api/(ds|search).*"), "/x/api/search", True),
        (StringLabelFilter("v", "=~", "(?i)err.*"), "AN ERROR", True),
        (StringLabelFilter("v", "!~", ".*foo.*|bar"), "xbarx", True),  # bar alone is an equality
        (StringLabelFilter("v", "=~", "foo"), "xfoo", False),
        (StringLabelFilter("v", "=~", "bar|baz"), "xbar", False),  # left to the anchored regex
        (StringLabelFilter("v", "=~", "f.*o"), "xfoo", False),
        (StringLabelFilter("v", "=~", "foo|"), "", False),  # the empty leg vanishes
        (IPLabelFilter("v", "=", "2001:db8::/32"), "2001:db8::7", True),
        (IPLabelFilter("v", "!=", "10.0.0.0/8"), "10.2.3.4", False),
    ],
)
def test_comparisons(f, value, expected):
    assert run(f, {"v": value})[0] is expected


@pytest.mark.parametrize(
    "f, details",
    [
        (DurationLabelFilter("v", ">", 1), 'time: invalid duration "abc"'),
        (BytesLabelFilter("v", ">", 1), 'strconv.ParseFloat: parsing "": invalid syntax'),
    ],
)
def test_unparsable_duration_and_bytes(f, details):
    keep, labels = run(f, {"v": "abc"})
    assert keep and labels["__error__"] == "LabelFilterErr" and labels["__error_details__"] == details


def test_string_filter_on_missing_label_compares_empty():
    assert run(StringLabelFilter("nope", "=", ""), {"app": "a"})[0]
    assert not run(StringLabelFilter("nope", "!=", ""), {"app": "a"})[0]


def test_string_filter_on_error_label_sees_the_pipeline_error():
    assert run(StringLabelFilter("__error__", "=", ""), {"a": "1"})[0]
    assert run(StringLabelFilter("__error__", "!=", ""), {"a": "1"}, err="JSONParserErr")[0]


def test_ip_filter_keeps_entries_that_already_have_an_error():
    assert run(IPLabelFilter("v", "=", "10.0.0.0/8"), {"v": "x"}, err="JSONParserErr")[0]
    assert not run(IPLabelFilter("missing", "=", "10.0.0.0/8"), {"v": "x"})[0]


def test_and_or():
    s500 = NumericLabelFilter("s", "==", 500)
    s404 = NumericLabelFilter("s", "==", 404)
    get = StringLabelFilter("m", "=", "GET")
    f = AndLabelFilter(OrLabelFilter(s500, s404), get)
    assert run(f, {"s": "404", "m": "GET"})[0]
    assert not run(f, {"s": "404", "m": "POST"})[0]
    assert not run(f, {"s": "200", "m": "GET"})[0]


def test_and_inside_or_runs_every_operand_so_their_errors_stay():
    # Loki evaluates the right operand of `and` even when the left failed: `s > 1` flags the
    # unparsable value, and the `or` keeps the entry with that error.
    f = OrLabelFilter(AndLabelFilter(StringLabelFilter("m", "=", "GET"), NumericLabelFilter("s", ">", 1)),
                      StringLabelFilter("c", "=", "y"))
    keep, labels = run(f, {"m": "POST", "s": "abc", "c": "y"})
    assert keep and labels["__error__"] == "LabelFilterErr"


def test_and_as_a_whole_stage_stops_at_the_first_failure():
    calls = []

    class Counting(StringLabelFilter):
        def process(self, ts, line, lbs):
            calls.append(self.name)
            return super().process(ts, line, lbs)

    parts = [Counting(f"a{i}", "=", "1") for i in range(1000)]
    assert not run(AndLabelFilter(*parts, stage=True), {"a0": "1", "a1": "2"})[0]
    assert calls == ["a0", "a1"]
