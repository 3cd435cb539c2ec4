"""The parsing stages (docker, cri, json, logfmt, regex) and their Go-compatible regexes."""

from __future__ import annotations

import pytest

from logyard.agent.stages.extract import compile_re2, parse_logfmt
from logyard.gocompat.timelayout import parse_rfc3339
from tests.agent.stages.helpers import run


def test_docker_stage_takes_line_stream_and_time_from_json_file_lines():
    (e,) = run([{"docker": {}}], ['{"log":"hello\\n","stream":"stderr","time":"2026-01-02T03:04:05.123456789Z"}',
                                  "not json"])
    assert (e.line, e.labels["stream"], e.ts) == ("hello", "stderr", parse_rfc3339("2026-01-02T03:04:05.123456789Z"))
    assert e.ts % 10**9 == 123456789


def test_cri_stage_joins_partial_lines():
    out = run([{"cri": {}}], [
        "2026-01-02T03:04:05.000000001Z stdout P part one ",
        "2026-01-02T03:04:05.000000002Z stdout F and two",
        "2026-01-02T03:04:06Z stderr F alone",
    ])
    assert [(e.line, e.labels["stream"]) for e in out] == [("part one and two", "stdout"), ("alone", "stderr")]
    assert out[0].ts == parse_rfc3339("2026-01-02T03:04:05.000000001Z")


@pytest.mark.parametrize(
    "stage, line, extracted",
    [
        ({"json": {"expressions": {"lvl": "level", "user": "ctx.user", "first": "tags[0]", "dotted": '"a.b"'}}},
         '{"level":"warn","ctx":{"user":"bob"},"tags":["x","y"],"a.b":1}',
         {"lvl": "warn", "user": "bob", "first": "x", "dotted": 1}),
        ({"logfmt": {"mapping": {"level": "", "m": "msg"}}}, 'level=error msg="disk full" id=7',
         {"level": "error", "m": "disk full"}),
        ({"regex": {"expression": r"^(?P<ip>\S+) .* (?P<status>\d{3})$"}}, "10.0.0.1 GET / 503",
         {"ip": "10.0.0.1", "status": "503"}),
    ],
)
def test_parsers_extract_values(stage, line, extracted):
    (e,) = run([stage], [line])
    assert e.extracted == extracted


def test_json_drop_malformed_drops_lines_that_are_not_json():
    assert run([{"json": {"expressions": {"a": ""}, "drop_malformed": True}}], ["{bad", '{"a":1}'])[0].line == '{"a":1}'


@pytest.mark.parametrize(
    "line, expected",
    [
        ('level=error msg="disk \\"full\\" now" id=7', {"level": "error", "msg": 'disk "full" now', "id": "7"}),
        ("bare x= y=\"\"", {"bare": "", "x": "", "y": ""}),
        ('a=1  b="two words"   c=3', {"a": "1", "b": "two words", "c": "3"}),
    ],
)
def test_logfmt_values(line, expected):
    assert parse_logfmt(line) == expected


@pytest.mark.parametrize("pattern, text, hit", [
    (r"^\d+$", "١٢٣", False),  # Go's \d is ASCII only
    (r"[[:alpha:]]+x", "abcx", True),  # a POSIX class: runs on RE2
    (r"(a+)+b", "a" * 40 + "c", False),  # nested quantifier: RE2, no catastrophic backtracking
])
def test_regexes_keep_go_semantics(pattern, text, hit):
    assert (compile_re2(pattern).search(text) is not None) == hit
