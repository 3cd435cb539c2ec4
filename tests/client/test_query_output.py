"""`logyard query` against a real server: logcli's three output modes, the common-labels header,
label selection, time zones, metric and instant queries, `--stats`, colours only on a terminal."""

from __future__ import annotations

import orjson
import pytest

from tests.client.conftest import BASE_NS, FROM, TO, cli, push, run

pytestmark = pytest.mark.slow
SECOND = 1_000_000_000


@pytest.fixture(scope="module")
def url(server):
    push(server.url, [
        ({"app": "out", "svc": "api"}, [(BASE_NS + i * SECOND, f"api request {i}") for i in range(5)]),
        ({"app": "out", "svc": "db"}, [(BASE_NS + i * SECOND + SECOND // 2, f"db query {i}\n") for i in range(5)]),
    ])
    return server.url


def query(url: str, *args: str, logql: str = '{app="out"}'):
    return cli("query", logql, "--addr", url, "--from", FROM, "--to", TO, "-z", "UTC", *args)


def test_default_output_is_timestamp_labels_line_newest_first_with_common_labels_on_stderr(url):
    r = query(url, "--limit", "4")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines() == [
        '2026-01-01T10:00:04Z {svc="db"}  db query 4',
        '2026-01-01T10:00:04Z {svc="api"} api request 4',
        '2026-01-01T10:00:03Z {svc="db"}  db query 3',
        '2026-01-01T10:00:03Z {svc="api"} api request 3',
    ]
    assert 'Common labels: {app="out"' in r.stderr
    assert "/loki/api/v1/query_range?" in r.stderr  # logcli says which URL it asks


def test_forward_prints_oldest_first(url):
    r = query(url, "--limit", "3", "--forward", "-q")
    assert [line.split("} ", 1)[1].lstrip() for line in r.stdout.splitlines()] == ["api request 0", "db query 0",
                                                                         "api request 1"]


def test_limit_zero_prints_every_entry(url):
    assert len(query(url, "--limit", "0", "-q").stdout.splitlines()) == 10


def test_quiet_prints_nothing_on_stderr(url):
    r = query(url, "-q")
    assert r.exit_code == 0 and r.stderr == ""


def test_raw_prints_the_line_alone_without_its_trailing_newline(url):
    r = query(url, "-o", "raw", "-q", "--limit", "2")
    assert r.stdout == "db query 4\napi request 4\n"


def test_jsonl_prints_labels_line_and_nanosecond_timestamp(url):
    r = query(url, "-o", "jsonl", "-q", "--limit", "2")
    rows = [orjson.loads(line) for line in r.stdout.splitlines()]
    assert [list(row) for row in rows] == [["labels", "line", "timestamp"]] * 2
    assert rows[0]["line"] == "db query 4\n"
    assert rows[0]["timestamp"] == "2026-01-01T10:00:04.5Z"
    assert rows[1]["timestamp"] == "2026-01-01T10:00:04Z"
    assert {"app": "out", "svc": "db"}.items() <= rows[0]["labels"].items()  # the full set, header or not


def test_jsonl_with_no_labels_has_no_labels_key(url):
    row = orjson.loads(query(url, "-o", "jsonl", "-q", "--limit", "1", "--no-labels").stdout)
    assert set(row) == {"line", "timestamp"}


def test_no_labels_prints_timestamp_and_line(url):
    assert query(url, "-q", "--limit", "1", "--no-labels").stdout == "2026-01-01T10:00:04Z db query 4\n"


def test_include_label_prints_only_those_labels(url):
    r = query(url, "--limit", "2", "--include-label", "app", "--include-label", "svc")
    assert r.stdout.splitlines() == ['2026-01-01T10:00:04Z {app="out", svc="db"}  db query 4',
                                     '2026-01-01T10:00:04Z {app="out", svc="api"} api request 4']
    assert "app=" not in r.stderr.split("Common labels:", 1)[-1].splitlines()[0]


def test_exclude_label_drops_it_from_the_lines(url):
    r = query(url, "-q", "--limit", "2", "--exclude-label", "svc")
    assert r.stdout.splitlines() == ["2026-01-01T10:00:04Z {} db query 4", "2026-01-01T10:00:04Z {} api request 4"]


def test_include_common_labels_prints_full_sets_and_no_header(url):
    r = query(url, "--limit", "1", "--include-common-labels", "--exclude-label", "detected_level")
    assert r.stdout == '2026-01-01T10:00:04Z {app="out", service_name="out", svc="db"} db query 4\n'
    assert "Common labels" not in r.stderr


@pytest.mark.parametrize(("zone", "expected"), [
    ("UTC", "2026-01-01T10:00:04Z"),
    ("Asia/Kolkata", "2026-01-01T15:30:04+05:30"),
    ("America/New_York", "2026-01-01T05:00:04-05:00"),
])
def test_timezone_sets_the_zone_of_timestamps(url, zone, expected):
    r = cli("query", '{app="out"}', "--addr", url, "--from", FROM, "--to", TO, "-q", "--limit", "1", "-z", zone)
    assert r.stdout.startswith(expected + " ")


def test_rfc3339nano_timestamps(url):
    r = query(url, "-q", "--limit", "1", "--output-timestamp-format", "rfc3339nano")
    assert r.stdout.startswith("2026-01-01T10:00:04.5Z ")


def test_unix_seconds_are_times_too(url):
    r = cli("query", '{app="out"}', "--addr", url, "--from", str(BASE_NS // SECOND),
            "--to", str(BASE_NS // SECOND + 2), "-q", "-o", "raw", "--limit", "0")
    assert r.stdout.splitlines() == ["db query 1", "api request 1", "db query 0", "api request 0"]


def test_metric_range_query_prints_the_matrix_as_indented_json(url):
    r = query(url, "-q", "--step", "1m", "--to", "2026-01-01T10:01:00Z",
              logql='sum by (svc) (count_over_time({app="out"}[2m]))')
    assert r.exit_code == 0, r.stderr
    matrix = orjson.loads(r.stdout)
    assert {s["metric"]["svc"]: s["values"][-1][1] for s in matrix} == {"api": "5", "db": "5"}
    assert r.stdout.startswith("[\n  {\n")


def test_metric_jsonl_prints_one_series_a_line(url):
    r = query(url, "-q", "-o", "jsonl", "--step", "60", "--to", "2026-01-01T10:01:00Z",
              logql='sum by (svc) (count_over_time({app="out"}[2m]))')
    assert sorted(orjson.loads(line)["metric"]["svc"] for line in r.stdout.splitlines()) == ["api", "db"]


def test_instant_query_at_now_prints_the_vector(url):
    r = cli("query", 'sum(count_over_time({app="out"}[2h]))', "--instant", "--now", TO, "--addr", url, "-q")
    assert r.exit_code == 0, r.stderr
    vector = orjson.loads(r.stdout)
    assert vector[0]["value"][1] == "10"
    assert vector[0]["value"][0] == BASE_NS // SECOND + 3600


def test_stats_prints_the_summary_on_stderr(url):
    r = query(url, "-q", "--stats", "--limit", "2")
    assert len(r.stdout.splitlines()) == 2
    rows = dict(line.split(None, 1) for line in r.stderr.splitlines())
    assert set(rows) >= {"Summary.TotalLinesProcessed", "Summary.TotalBytesProcessed", "Summary.ExecTime"}
    assert int(rows["Summary.TotalLinesProcessed"]) >= 2


def test_piped_output_has_no_colour(url):
    r = run("query", '{app="out"}', "--addr", url, "--from", FROM, "--to", TO, "--limit", "2")
    assert r.returncode == 0, r.stderr
    assert "\x1b[" not in r.stdout and "\x1b[" not in r.stderr
    assert len(r.stdout.splitlines()) == 2


@pytest.mark.parametrize(("step", "sent"), [
    ("1234567s", "step=1234567&"), ("1m30s", "step=90&"), ("1.25", "step=1.25&"),
])
def test_step_is_sent_as_exact_seconds(url, step, sent):
    r = query(url, "--step", step, logql='count_over_time({app="out"}[1m])')
    assert r.exit_code == 0, r.stderr
    assert sent in r.stderr.splitlines()[0] + "&"
