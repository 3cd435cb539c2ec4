"""The unpack parser stage."""

from __future__ import annotations

import pytest

from logyard.logql.stages.pipeline import run_stages
from logyard.logql.stages.unpack import UnpackParser


def run(stage, line, stream=None):
    out = run_stages([stage], 0, line, stream or {"app": "a"})
    assert out is not None
    return out


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
