"""The stages that change labels, metadata, line and time: labels, structured_metadata,
static_labels, labeldrop, output, timestamp (with Go layouts), template."""

from __future__ import annotations

import pytest

from logyard.gocompat.timelayout import make_parser, parse_rfc3339
from tests.agent.stages.helpers import run


def test_labels_metadata_output_and_static_labels():
    (e,) = run(
        [
            {"json": {"expressions": {"level": "", "msg": "", "trace": ""}}},
            {"labels": {"level": None}},
            {"structured_metadata": {"trace_id": "trace"}},
            {"static_labels": {"env": "prod"}},
            {"output": {"source": "msg"}},
            {"labeldrop": ["job"]},
        ],
        ['{"level":"info","msg":"served","trace":"ab12"}'],
    )
    assert e.labels == {"level": "info", "env": "prod"}
    assert e.metadata == {"trace_id": "ab12"}
    assert e.line == "served"


@pytest.mark.parametrize(
    "fmt, text, expected",
    [
        ("RFC3339", "2026-01-02T03:04:05+01:00", "2026-01-02T02:04:05Z"),
        ("RFC3339Nano", "2026-01-02T03:04:05.5Z", "2026-01-02T03:04:05.5Z"),
        ("Unix", "1767323045", "2026-01-02T03:04:05Z"),
        ("UnixMs", "1767323045123", "2026-01-02T03:04:05.123Z"),
        ("2006-01-02 15:04:05.000", "2026-01-02 03:04:05.250", "2026-01-02T03:04:05.25Z"),
        ("02/Jan/2006:15:04:05 -0700", "02/Jan/2026:03:04:05 +0000", "2026-01-02T03:04:05Z"),
    ],
)
def test_timestamp_formats(fmt, text, expected):
    assert make_parser(fmt)(text) == parse_rfc3339(expected)


def test_timestamp_stage_sets_time_and_keeps_it_on_failure():
    stages = [{"regex": {"expression": r"^(?P<t>\S+)"}}, {"timestamp": {"source": "t", "format": "RFC3339"}}]
    good, bad = run(stages, ["2026-01-02T03:04:05Z x", "garbage y"])
    assert good.ts == parse_rfc3339("2026-01-02T03:04:05Z") and bad.ts is None


def test_template_stage():
    (e,) = run([{"regex": {"expression": r"(?P<app>\w+)"}},
                {"template": {"source": "app", "template": '{{ .Value | ToUpper }}-{{ Replace .Value "o" "0" -1 }}'}},
                {"output": {"source": "app"}}], ["foo bar"])
    assert e.line == "FOO-f00"
