"""The regexp parser stage."""

from __future__ import annotations

import pytest

from logyard.errors import BadRequestError
from logyard.logql.stages.pipeline import run_stages
from logyard.logql.stages.regexp import RegexpParser


def run(stage, line, stream=None):
    out = run_stages([stage], 0, line, stream or {"app": "a"})
    assert out is not None
    return out


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
