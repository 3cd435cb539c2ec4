"""The metadata routes as logcli and Grafana ask them (`series`, `index/stats`, `index/volume`,
`index/volume_range`), against a real `logyard serve` loaded with the Loki conformance corpus
(2026-01-01 00:00-02:00, 25 streams: 22 of compose project `aixcl`, 3 of job `varlogs`).

The rules, from Loki's source: pkg/loghttp/series.go (ParseSeriesQuery: `match` and `match[]`
unioned, a lone `{}` or none means every series) and pkg/logql/matchers.go (MatchForSeriesRequest:
selectors parsed without query validation, a group of no matchers refused); pkg/util/series_volume.go
and the TSDB index's Volume (aggregateBy=labels: one entry per label name; target labels the
selector does not name become `=~".+"` matchers); pkg/querier/queryrange/volume.go (metric
`{name: ""}` by labels; order by bytes, then name); Prometheus' model.Time (whole seconds print as
integers); index/stats and index/volume summing the same chunk statistics.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest


START, END = "1767225600000000000", "1767232800000000000"
MANIFEST = Path(__file__).resolve().parents[1] / "conformance" / "data" / "manifest.json"
AIXCL = '{compose_project="aixcl"}'


@pytest.fixture(scope="module")
def client(corpus_server):
    with httpx.Client(base_url=corpus_server.url, timeout=120) as c:
        yield c


def get(client, path: str, params: list[tuple[str, str]] | dict) -> httpx.Response:
    items = list(params.items()) if isinstance(params, dict) else params
    return client.get(path, params=[("start", START), ("end", END), *items])


def series(client, *match: tuple[str, str]) -> list[dict]:
    r = get(client, "/loki/api/v1/series", list(match))
    assert r.status_code == 200, r.text
    return r.json()["data"]


def keyset(found: list[dict]) -> set[tuple]:
    return {tuple(sorted(s.items())) for s in found}


# --- series --------------------------------------------------------------------------------------

def test_series_without_match_lists_every_series_in_the_range(client):
    every = series(client)
    assert len(every) == len(json.loads(MANIFEST.read_text())["streams"]) == 25
    assert keyset(every) == keyset(series(client, ("match[]", AIXCL))) | keyset(
        series(client, ("match[]", '{job="varlogs"}')))


@pytest.mark.parametrize("match", [("match[]", "{}"), ("match[]", "{ }"), ("match", "{}")])
def test_a_lone_empty_selector_is_the_same_as_no_match(client, match):
    assert keyset(series(client, match)) == keyset(series(client))


def test_series_selectors_are_not_validated_as_queries(client):
    # `{job=""}` could select every stream, which a query may not: series takes it (streams without job).
    without_job = series(client, ("match[]", '{job=""}'))
    assert len(without_job) == 22 and all("job" not in s for s in without_job)


def test_match_and_match_brackets_are_one_list(client):
    both = series(client, ("match", '{compose_service="nginx"}'), ("match[]", '{job="varlogs"}'))
    assert {s.get("compose_service", s.get("job")) for s in both} == {"nginx", "varlogs"}


@pytest.mark.parametrize(("match", "text"), [
    ([("match[]", "{}"), ("match[]", '{job="varlogs"}')], "0 matchers in group: {}"),
    ([("match[]", "")], "parse error : syntax error: unexpected $end"),
    ([("match[]", '{job="varlogs"} |= "x"')], "only label matchers are supported"),
])
def test_bad_series_selectors_are_lokis_400(client, match, text):
    r = get(client, "/loki/api/v1/series", match)
    assert (r.status_code, r.text.strip()) == (400, text)


# --- volume --------------------------------------------------------------------------------------

def volume(client, path: str = "/loki/api/v1/index/volume", **params) -> dict:
    r = get(client, path, params)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def totals(data: dict) -> dict[tuple, int]:
    return {tuple(sorted(s["metric"].items())): int(s["value"][1]) for s in data["result"]}


def test_volume_by_labels_answers_one_entry_per_label_name(client):
    names = get(client, "/loki/api/v1/labels", {"query": AIXCL}).json()["data"]
    data = volume(client, query=AIXCL, aggregateBy="labels")
    assert data["resultType"] == "vector"
    assert [s["metric"] for s in data["result"]] == [
        {n: ""} for n in sorted(names, key=lambda n: (-totals(data)[((n, ""),)], n))]
    # Every aixcl stream has each of these labels: each name carries all the bytes.
    (everything,) = totals(volume(client, query=AIXCL)).values()
    assert set(totals(data).values()) == {everything}


def test_volume_by_labels_sums_the_streams_that_carry_each_name(client):
    every = '{compose_project=~".+"}'
    by_name = totals(volume(client, query=every, aggregateBy="labels", limit="1000"))
    per_stream = totals(volume(client, query=every, targetLabels="container,stream", limit="1000"))
    assert by_name[(("container", ""),)] == by_name[(("stream", ""),)] == sum(per_stream.values())


def test_volume_by_labels_with_target_labels_keeps_only_the_targets(client):
    data = volume(client, query=AIXCL, aggregateBy="labels", targetLabels="compose_service,container")
    assert sorted(json.dumps(s["metric"]) for s in data["result"]) == ['{"compose_service": ""}', '{"container": ""}']


def test_volume_range_by_labels_is_a_matrix_of_label_names(client):
    data = volume(client, "/loki/api/v1/index/volume_range", query='{job="varlogs"}', aggregateBy="labels",
                  step="1800")
    assert data["resultType"] == "matrix"
    assert sorted(next(iter(s["metric"])) for s in data["result"]) == ["filename", "host", "job", "service_name"]
    assert all(len(s["values"]) == 4 for s in data["result"])


def test_target_labels_a_stream_lacks_leave_it_out(client):
    # Loki turns each target the selector does not name into a `=~".+"` matcher.
    assert len(volume(client, query='{job="varlogs"}', targetLabels="filename")["result"]) == 3
    assert volume(client, query='{job="varlogs"}', targetLabels="filename,container")["result"] == []


def test_volume_timestamps_are_integers_for_whole_seconds(client):
    instant = get(client, "/loki/api/v1/index/volume", {"query": '{job="varlogs"}'})
    assert '"value":[1767232800,"' in instant.text
    ranged = volume(client, "/loki/api/v1/index/volume_range", query='{job="varlogs"}', step="1800")
    stamps = [t for t, _ in ranged["result"][0]["values"]]
    assert stamps == [1767227399.999, 1767229199.999, 1767230999.999, 1767232800]
    assert isinstance(stamps[-1], int)


# --- index/stats ---------------------------------------------------------------------------------

@pytest.mark.parametrize("selector", [AIXCL, '{compose_service="ollama"}', '{job="varlogs"}',
                                      '{compose_service=~"nginx|loki", stream="stderr"}'])
@pytest.mark.parametrize("window", [(START, END), ("1767226000000000000", "1767229999000000000")])
def test_index_stats_bytes_are_the_sum_of_the_volume(client, selector, window):
    start, end = window
    stats = client.get("/loki/api/v1/index/stats", params={"query": selector, "start": start, "end": end}).json()
    r = client.get("/loki/api/v1/index/volume", params={"query": selector, "start": start, "end": end,
                                                         "limit": "1000"})
    assert stats["bytes"] > 0 and stats["entries"] > 0
    assert stats["bytes"] == sum(int(s["value"][1]) for s in r.json()["data"]["result"])
