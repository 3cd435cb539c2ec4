"""pattern, regexp, unpack and decolorize stages."""

from __future__ import annotations

import pyarrow as pa
import pytest

from logyard.errors import BadRequestError
from logyard.logql.stages.decolorize import decolorize, decolorize_column
from logyard.logql.stages.pattern import PatternParser
from logyard.logql.stages.pipeline import run_stages
from logyard.logql.stages.regexp import RegexpParser
from logyard.logql.stages.unpack import UnpackParser


def run(stage, line, stream=None):
    out = run_stages([stage], 0, line, stream or {"app": "a"})
    assert out is not None
    return out


@pytest.mark.parametrize(
    "pattern, line, expected",
    [
        ("<ip> - <user> [<_>]", "1.2.3.4 - bob [now] rest", {"ip": "1.2.3.4", "user": "bob"}),
        ("<a> x <b> y", "1 x 2", {"a": "1", "b": "2"}),  # a missing literal: capture runs to the end
        ("start <a>", "nope 1", {}),  # a leading literal must be at the start
        ("<a>:<b>", "ü:é", {"a": "ü", "b": "é"}),
        ("<app>=<v>", "k=1", {"app_extracted": "k", "v": "1"}),
    ],
)
def test_pattern_parser(pattern, line, expected):
    labels = run(PatternParser(pattern), line)[1]
    labels.pop("app", None)
    assert labels == expected


@pytest.mark.parametrize(
    "pattern, message",
    [("<_> x", "at least one capture is required"),
     ("<a><b>", "found consecutive capture '<a><b>': invalid expression"),
     ("<a> <a>", "duplicate capture name (a): invalid expression")],
)
def test_pattern_parser_rejects(pattern, message):
    with pytest.raises(BadRequestError) as exc:
        PatternParser(pattern)
    assert str(exc.value) == message


def test_regexp_sets_unmatched_groups_empty_and_skips_non_matching_lines():
    stage = RegexpParser(r"(?P<a>\d+)(?:-(?P<b>\w+))?")
    assert run(stage, "x 12 y")[1] == {"app": "a", "a": "12", "b": ""}
    assert run(stage, "none")[1] == {"app": "a"}


@pytest.mark.parametrize("pattern, message", [
    ("(a)", "at least one named capture must be supplied"),
    ("(?P<a>", "error parsing regexp: missing closing ): `(?P<a>`"),
])
def test_regexp_rejects(pattern, message):
    with pytest.raises(BadRequestError) as exc:
        RegexpParser(pattern)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    "line, out_line, labels",
    [
        ('{"_entry":"orig \\"q\\"","a":"1","n":2,"app":"x"}', 'orig "q"', {"app": "a", "a": "1", "app_extracted": "x"}),
        ('{"a":"1"}', '{"a":"1"}', {"app": "a"}),  # without _entry Loki adds nothing
        ("[1]", "[1]", {"app": "a", "__error__": "JSONParserErr",
                        "__error_details__": "expecting json object(6), but it is not"}),
        ("", "", {"app": "a"}),
    ],
)
def test_unpack(line, out_line, labels):
    assert run(UnpackParser(), line) == (out_line, labels)


def test_decolorize_row_and_column_agree():
    lines = ["\x1b[33mINFO\x1b[0m:     x", "plain", "\x1b]0;title\x07after", "\x1b[1;31mred\x1b[K"]
    expected = ["INFO:     x", "plain", "after", "red"]
    assert [decolorize(x) for x in lines] == expected
    assert decolorize_column(pa.array(lines)).to_pylist() == expected
