"""Pipeline stages with Promtail's semantics, one table per stage family."""

from __future__ import annotations

import pytest

from logyard.agent.metrics import AgentMetrics
from logyard.agent.stages import Entry, build_pipeline
from logyard.errors import ConfigError
from logyard.gocompat.timelayout import make_parser, parse_rfc3339


def run(stages, lines, labels=None, ts=None):
    p = build_pipeline(stages)
    return p.process([Entry(line, ts, dict(labels or {"job": "a"})) for line in lines])


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


def test_metrics_stage_counts_on_the_agent_registry():
    from prometheus_client import generate_latest

    m = AgentMetrics()
    p = build_pipeline([
        {"regex": {"expression": r"status=(?P<status>\d+) ms=(?P<ms>\d+)"}},
        {"metrics": {
            "errors_total": {"type": "Counter", "source": "status", "config": {"value": "5..", "action": "inc"}},
            "lines_total": {"type": "Counter", "config": {"match_all": True, "action": "inc"}},
            "latency": {"type": "Histogram", "source": "ms", "config": {"buckets": [10, 100]}},
        }},
    ], m)
    p.process([Entry(f"status={s} ms={ms}", None, {"job": "a"}) for s, ms in [(200, 5), (503, 50), (500, 500)]])
    text = generate_latest(m.registry).decode()
    assert 'promtail_custom_errors_total{job="a"} 2.0' in text
    assert 'promtail_custom_lines_total{job="a"} 3.0' in text
    assert 'promtail_custom_latency_bucket{job="a",le="100.0"} 2.0' in text


@pytest.mark.parametrize("stages", [[{"json": {}}], [{"regex": {"expression": "no groups"}}],
                                    [{"limit": {"rate": 0, "burst": 1}}], [{"match": {"selector": "web"}}],
                                    [{"json": {"expressions": {"a": "a[?x]"}}}]])
def test_stage_mistakes_are_config_errors(stages):
    with pytest.raises(ConfigError):
        build_pipeline(stages)


@pytest.mark.parametrize(
    "line, expected",
    [
        ('level=error msg="disk \\"full\\" now" id=7', {"level": "error", "msg": 'disk "full" now', "id": "7"}),
        ("bare x= y=\"\"", {"bare": "", "x": "", "y": ""}),
        ('a=1  b="two words"   c=3', {"a": "1", "b": "two words", "c": "3"}),
    ],
)
def test_logfmt_values(line, expected):
    from logyard.agent.stages.extract import parse_logfmt

    assert parse_logfmt(line) == expected


@pytest.mark.parametrize("pattern, text, hit", [
    (r"^\d+$", "١٢٣", False),  # Go's \d is ASCII only
    (r"[[:alpha:]]+x", "abcx", True),  # a POSIX class: runs on RE2
    (r"(a+)+b", "a" * 40 + "c", False),  # nested quantifier: RE2, no catastrophic backtracking
])
def test_regexes_keep_go_semantics(pattern, text, hit):
    from logyard.agent.stages.extract import compile_re2

    assert (compile_re2(pattern).search(text) is not None) == hit
