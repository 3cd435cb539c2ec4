"""detected_level from lines, following Loki's field_detection.go case by case."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logyard.ingest.level import LEVELS, detect_levels, normalize_level


def levels(lines: list[str]) -> list[str]:
    return [LEVELS[c] for c in detect_levels(pa.array(lines, type=pa.string()))]


@pytest.mark.parametrize(
    "line, level",
    [
        # logfmt: the level field, keys compared case-insensitively, values normalised
        ("level=info msg=x", "info"),
        ("ts=1 caller=a.go:1 level=WARN msg=y", "warn"),
        ('time="2026-01-01T00:02:30Z" level=info msg="Session done"', "info"),
        ('a="x"LEVEL=Error', "error"),  # a key may follow a closing quote directly
        ('msg="level=debug" level=warn', "warn"),  # the key inside a quoted value is no token
        ('level="crit ical" an error', "error"),  # unknown value: keyword search on the line
        ("level=dbg", "debug"),
        ("level=information", "info"),
        ("level=TRC x", "trace"),
        ("severity=fatal lvl=info", "fatal"),  # earlier field in Loki's list wins
        ("lvl=info severity=fatal", "fatal"),
        ("ts=1 lvl=dbg", "debug"),
        ("ts=1 lvl=dbg level=", "unknown"),  # `level` found but empty: keywords, none here
        ("x=1 level", "unknown"),  # a bare key counts as found, with no value
        ('GET x=1 "foo" level=error', "error"),  # scan stops at the quote; keyword finds it
        ("a=b=c level=dbg", "unknown"),  # syntax error before the key: keywords (no `dbg`)
        ("a=b c=d level=dbg", "debug"),
        ('x="unterminated level=debug', "debug"),  # keyword search finds `debug` after `=`
        ('level="warn" msg=x', "warn"),  # a quoted value without its quotes
        ('level="\\u0057ARN" msg=x', "warn"),  # a quoted value with escapes is JSON-unquoted
        ('level="in\\"fo" x', "unknown"),  # unquoted to `in"fo`: unknown, and no keyword
        ('level="" trace', "trace"),  # empty quoted value: keyword search
        ('ts=1 lvl="Err" a=b', "error"),
        ('{"level":"\\u0069nfo"} error', "error"),  # JSON values stay escaped: unknown, keyword
        ('{"a":{"x":1},"level":"WARN"}', "warn"),  # after a nested object: the walk finds it
        # JSON: first string value of a level field, at most two objects deep
        ('{"level":"error","msg":"x"}', "error"),
        ('{"a":{"b":1},"Level":"debug"}', "debug"),
        ('{"ctx":{"severity":"warn"},"level":"info"}', "warn"),  # depth-first order
        ('{"a":{"b":{"level":"warn"}}} info', "warn"),  # not JSON (trailing text): keywords
        ('{"a":{"b":{"level":"trace"}}}', "trace"),  # too deep; keyword finds "trace" quoted
        ('{"level":30,"msg":"an error"}', "error"),  # numbers are not level values
        ('{"LeVeL":"info"}', "info"),  # not a listed spelling: keyword finds "info"
        ('  {"lvl":"fatal"}  ', "fatal"),
        ('{"msg":"[x]","severity":"warning"}', "warn"),  # after brackets: the full walk
        ('{"level":"info"', "info"),  # no closing brace: not JSON, keyword
        # keywords: earliest bounded keyword wins; colons count on the right only
        ("an error: x", "error"),
        ("errors are bad", "unknown"),
        ("[WARN] disk", "warn"),
        ("misc:error happened", "unknown"),
        ("E0101 00:00:07.459472 1 manager.go:694] Failed", "unknown"),
        ("2026/01/01 00:00:16 [error] 29#29: upstream", "error"),
        ("FATAL:  password authentication failed", "fatal"),
        ("\x1b[32mINFO\x1b[0m:     172.18.0.9", "unknown"),  # `m` before INFO is no boundary
        ("debug: then error", "debug"),
        ("critical error", "critical"),
        ("", "unknown"),
    ],
)
def test_level_found_in_line_like_loki(line, level):
    assert levels([line]) == [level]


def test_levels_of_a_column_keep_row_order():
    lines = ["level=info", "plain", '{"level":"error"}', "warn: x"] * 3
    assert levels(lines) == ["info", "unknown", "error", "warn"] * 3


@pytest.mark.parametrize(
    "value, normalized",
    [("INFO", "info"), ("Warning", "warn"), ("ERR", "error"), ("crit", "crit"), ("notice", "notice")],
)
def test_normalize_level_keeps_unknown_values(value, normalized):
    assert normalize_level(value) == normalized


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=40), max_size=20))
def test_detection_never_fails_and_always_names_a_level(lines):
    assert len(levels(lines)) == len(lines)
