"""`logyard labels`, `series`, `stats` and `volume` against a real server, printed as logcli prints them."""

from __future__ import annotations

import orjson
import pytest

from tests.client.conftest import BASE_NS, FROM, TO, cli, push

pytestmark = pytest.mark.slow
SECOND = 1_000_000_000
RANGE = ("--from", FROM, "--to", TO, "-q")


@pytest.fixture(scope="module")
def url(server):
    push(server.url, [
        ({"proj": "meta", "svc": "api", "env": "prod"}, [(BASE_NS + i * SECOND, "x" * 100) for i in range(10)]),
        ({"proj": "meta", "svc": "db", "env": "prod"}, [(BASE_NS + i * SECOND, "y" * 10) for i in range(10)]),
        ({"proj": "meta", "svc": "api", "env": "dev"}, [(BASE_NS, "z")]),
    ])
    return server.url


def test_labels_lists_names_one_a_line(url):
    r = cli("labels", "--addr", url, *RANGE)
    assert r.exit_code == 0, r.stderr
    assert {"proj", "svc", "env"} <= set(r.stdout.splitlines())


def test_labels_name_lists_its_values(url):
    r = cli("labels", "svc", "--addr", url, *RANGE)
    assert r.stdout == "api\ndb\n"


def test_labels_outside_the_range_are_none(url):
    r = cli("labels", "svc", "--addr", url, "--from", "2025-01-01T00:00:00Z", "--to", "2025-01-02T00:00:00Z", "-q")
    assert r.exit_code == 0 and r.stdout == ""


def test_series_prints_label_sets_of_every_matcher(url):
    r = cli("series", '{proj="meta", svc="db"}', '{proj="meta", env="dev"}', "--addr", url, *RANGE)
    assert r.exit_code == 0, r.stderr
    assert sorted(r.stdout.splitlines()) == ['{env="dev", proj="meta", service_name="unknown_service", svc="api"}',
                                             '{env="prod", proj="meta", service_name="unknown_service", svc="db"}']


def test_series_analyze_labels_counts_values_and_streams(url):
    r = cli("series", '{proj="meta"}', "--analyze-labels", "--addr", url, *RANGE)
    lines = r.stdout.splitlines()
    assert lines[:2] == ["Total Streams:  3", "Unique Labels:  4"]
    table = {line.split()[0]: line.split()[1:] for line in lines[4:]}
    assert table["svc"] == ["2", "3"] and table["env"] == ["2", "3"] and table["proj"] == ["1", "3"]


def test_stats_prints_bytes_chunks_streams_entries(url):
    r = cli("stats", '{proj="meta"}', "--addr", url, *RANGE)
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "{" and lines[-1] == "}"
    fields = dict(line.strip().split(": ") for line in lines[1:-1])
    assert list(fields) == ["bytes", "chunks", "streams", "entries"]
    assert fields["streams"] == "3" and fields["entries"] == "21"
    assert fields["bytes"] == "1.1kB"  # 1000 + 100 + 1 bytes, go-humanize without the space


def test_volume_prints_the_vector_of_the_matchers_labels(url):
    r = cli("volume", '{proj="meta"}', "--addr", url, *RANGE)
    assert r.exit_code == 0, r.stderr
    vector = orjson.loads(r.stdout)
    assert [(s["metric"], s["value"][1]) for s in vector] == [({"proj": "meta"}, "1101")]
    assert r.stdout.startswith("[\n  {\n")


def test_volume_targets_comma_separated_largest_first(url):
    r = cli("volume", '{proj="meta"}', "--targets", "svc,env", "--addr", url, *RANGE)
    vector = orjson.loads(r.stdout)
    assert [(s["metric"]["svc"], s["metric"]["env"], s["value"][1]) for s in vector] == [
        ("api", "prod", "1000"), ("db", "prod", "100"), ("api", "dev", "1")]


def test_volume_targets_aggregates_into_those_labels(url):
    r = cli("volume", '{proj="meta"}', "--targets", "svc", "-o", "jsonl", "--addr", url, *RANGE)
    rows = [orjson.loads(line) for line in r.stdout.splitlines()]
    assert {row["metric"]["svc"]: row["value"][1] for row in rows} == {"api": "1001", "db": "100"}


def test_volume_aggregate_by_labels_gives_one_volume_per_name(url):
    r = cli("volume", '{proj="meta"}', "--aggregate-by", "labels", "-o", "jsonl", "--addr", url, *RANGE)
    names = {next(iter(orjson.loads(line)["metric"])) for line in r.stdout.splitlines()}
    assert {"proj", "svc", "env"} <= names


def test_volume_with_step_is_a_range_of_volumes(url):
    r = cli("volume", '{proj="meta"}', "--targets", "svc", "--step", "30m", "--addr", url, *RANGE)
    matrix = orjson.loads(r.stdout)
    assert {s["metric"]["svc"] for s in matrix} == {"api", "db"}
    assert all("values" in s for s in matrix)
