"""The pattern parser stage."""

from __future__ import annotations

import pytest

from logyard.errors import BadRequestError
from logyard.logql.stages.pattern import PatternParser
from logyard.logql.stages.pipeline import run_stages


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
