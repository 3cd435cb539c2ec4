"""The stages that decide which entries go on and when: drop, match, limit, multiline."""

from __future__ import annotations

import pytest

from logyard.agent.stages.pipeline import build_pipeline
from logyard.agent.stages.stage import Entry
from tests.agent.stages.helpers import run


@pytest.mark.parametrize(
    "drop, kept",
    [
        ({"expression": "health"}, ["GET /api", "level=debug x", "a very long line indeed"]),
        ({"source": "level", "value": "debug"}, ["GET /api", "GET /health", "a very long line indeed"]),
        ({"longer_than": 15}, ["GET /api", "GET /health", "level=debug x"]),
    ],
)
def test_drop_stage(drop, kept):
    lines = ["GET /api", "GET /health", "level=debug x", "a very long line indeed"]
    out = run([{"logfmt": {"mapping": {"level": ""}}}, {"drop": drop}], lines)
    assert [e.line for e in out] == kept


def test_match_runs_stages_only_on_matching_entries_and_can_drop():
    stages = [
        {"match": {"selector": '{job="web"} |= "error"', "stages": [{"static_labels": {"alert": "yes"}}]}},
        {"match": {"selector": '{job=~"db|cache"}', "action": "drop"}},
    ]
    p = build_pipeline(stages)
    out = p.process([Entry("an error", None, {"job": "web"}), Entry("fine", None, {"job": "web"}),
                     Entry("x", None, {"job": "db"})])
    assert sorted((e.line, e.labels.get("alert")) for e in out) == [("an error", "yes"), ("fine", None)]


def test_limit_stage_drops_over_the_burst():
    out = run([{"limit": {"rate": 0.001, "burst": 3, "drop": True}}], [str(i) for i in range(10)])
    assert [e.line for e in out] == ["0", "1", "2"]


def test_multiline_joins_continuation_lines_and_flushes_the_last_block():
    p = build_pipeline([{"multiline": {"firstline": r"^\d{4}-", "max_wait_time": "3s"}}])
    out = p.process([Entry(x, None, {"job": "a"}) for x in
                     ["2026-01-01 boom", "  at a()", "  at b()", "2026-01-01 next", "  at c()"]])
    assert [e.line for e in out] == ["2026-01-01 boom\n  at a()\n  at b()"]
    assert [e.line for e in p.flush(0, force=True)] == ["2026-01-01 next\n  at c()"]
