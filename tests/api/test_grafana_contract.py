"""Grafana's contract with a Loki datasource: every request Grafana and Logs Drilldown send, as they
send it (paths, parameters, time formats, headers), replayed against a real `logyard serve` loaded
with the conformance corpus, and each answer's shape checked field by field: keys, JSON types,
timestamps as strings or numbers, resultType, encodingFlags, stats.

Sources read (public, newest stored snapshots): grafana/grafana-loki-datasource @7eefb67 (2026-08-20,
the Loki datasource Grafana 12 ships, split out of grafana/grafana `public/app/plugins/datasource/loki`
and `pkg/tsdb/loki`, same files) and grafana/logs-drilldown @4418b4d (2026-08-21).

Data queries go browser -> Grafana backend -> Loki; `pkg/loki/api.go` makeDataRequest builds them:
GET query_range (query, direction, limit only when maxLines > 0, start/end as integer ns, step as
`<n>ms`) or GET query (time = end in ns), always with `X-Loki-Response-Encoding-Flags:
categorize-labels`, plus `X-Query-Tags: Source=<logvolhist|logsample|datasample|infinitescroll>` for
supporting queries (`getSupportingQueryHeaderValue`). `pkg/loki/parse_query.go` interpolates
`$__auto` to the step for range queries and to the whole range for instant ones. Time ranges have
millisecond precision (`getTimeRangeParams`: ms * 1e6). Metadata requests go through `getResource`
-> `pkg/loki/loki.go` CallResource -> `/loki/api/v1/<url>` with the query string as given.

Requests (case id: what, source file):
- explore-logs: Explore log query, range, backward, limit 1000 (`src/datasource.ts` query/runQuery,
  `pkg/loki/api.go` makeDataRequest)
- explore-logs-parsed: the same with `| json`, so entries carry parsed labels (same files)
- infinite-scroll: older/newer page, direction forward, `Source=infinitescroll`
  (`src/dataquery.ts` SupportingQueryType.InfiniteScroll, `pkg/loki/api.go`)
- explore-metric: Explore metric range query (`src/datasource.ts`, `pkg/loki/api.go`)
- explore-instant: Explore instant query with `$__auto` = the range (`pkg/loki/parse_query.go`)
- logs-volume: `sum by (level, detected_level) (count_over_time(<q> | drop __error__ [$__auto]))`,
  `Source=logvolhist` (`src/datasource.ts` getSupplementaryQuery)
- logs-volume-legacy: Grafana 11's `sum by (level) (count_over_time(<q>[$__auto]))` (grafana/grafana
  `public/app/plugins/datasource/loki/datasource.ts`, older versions)
- logs-sample: the log query under a metric query, `Source=logsample` (`src/datasource.ts`
  getSupplementaryQuery, `getLogQueryFromMetricsQuery` in `src/queryUtils.ts`)
- data-sample: 10 lines for the query builder, `Source=datasample` (`src/datasource.ts` getDataSamples)
- context-before / context-after: log context, the row's stream selector, 2 h window ending / starting
  at the row, direction backward / forward (`src/LogContextProvider.ts`
  prepareLogRowContextQueryTarget)
- labels / labels-query: `labels?start&end[&query]` (`src/LanguageProvider.ts` fetchLabels)
- values / values-query: `label/<name>/values?start&end[&query]` (`src/LanguageProvider.ts`
  fetchLabelValues)
- series: `series?match[]&start&end` (`src/LanguageProvider.ts` fetchSeriesLabels)
- index-stats: `index/stats?query&start&end` per stream selector (`src/datasource.ts` getQueryStats)
- shard-probe: `label/__stream_shard__/values?start&end&query=<selector>` (`src/shardQuerySplitting.ts`
  via fetchLabelValues); the sharded query then adds `__stream_shard__=~"…"` and the
  `X-Loki-Query-Limits-Context` header (`src/queryUtils.ts` interpolateShardingSelector,
  addQueryLimitsContext; `pkg/loki/api.go` addQueryLimitsHeader): case sharded-query
- save-and-test: instant `vector(1)+vector(1)` at t = 4 s, expecting one sample of 2
  (`pkg/loki/healthcheck.go`)
- save-and-test-legacy: `labels?start=<now-10m>&end=<now>` (grafana/grafana
  `public/app/plugins/datasource/loki/datasource.ts` testDatasource, Grafana 7-10)
- dashboard-logs / dashboard-timeseries: panel queries, same path as Explore (`pkg/loki/api.go`)
- detected-fields / detected-field-values: `detected_fields?start&end&limit=1000&query`,
  `detected_field/<name>/values?start&end&limit=1000&query` (`src/LanguageProvider.ts`
  fetchDetectedFields, fetchDetectedLabelValues; Drilldown `src/services/TagKeysProviders.ts`,
  `src/services/TagValuesProviders.ts`)
- Logs Drilldown resource requests, start/end as ISO-8601 (`toISOString()`), `X-Query-Tags:
  Source=grafana-lokiexplore-app` (logs-drilldown `src/services/datasource.ts`):
  dd-detected-labels (query = the service selector), dd-detected-labels-all (query = "" when the
  selector is `{}`), dd-detected-fields, dd-patterns (step = the panel interval), dd-volume
  (`index/volume?limit=5000&query={service_name=~".+"}`), dd-labels, dd-drilldown-limits
- dd-volume-aggregate: `index/volume?aggregateBy=labels` (Loki's volume API as issue 11 lists it for
  Drilldown's label volumes; the stored Drilldown snapshot no longer sends it)
- dd-format-query: `format_query?query` (a route the datasource's `src/plugin.json` allows)
- dd-service-volume: the service selection's `sum by (detected_level) (count_over_time({ service_name=
  "<v>" } [$__auto]))` (logs-drilldown `src/Components/ServiceSelectionScene/ServiceSelectionScene.tsx`)
- dd-field-breakdown / dd-label-breakdown: `avg_over_time(<q> | unwrap <f> | __error__="" [$__auto])
  by ()` and `sum(count_over_time(<q> | logfmt | drop __error__, __error_details__ [$__auto])) by (<l>)`
  (logs-drilldown `src/services/fields.ts`, `src/services/expressions.ts`, `src/services/variables.ts`)
- live tail: websocket `/loki/api/v1/tail?query=<q>` and nothing else, no headers (`src/datasource.ts`
  createLiveTarget, `src/LiveStreams.ts`). Not covered: `pkg/loki/streaming.go` dials
  `/loki/api/v2alpha/tail`, behind Grafana's experimental `lokiLive` toggle; Loki has no such route.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
import orjson
import pytest
from websockets.sync.client import connect

from tests.api.test_query_stats import shape
from tests.support.server import ServerProcess

START_MS, END_MS = 1767225600000, 1767232800000  # the corpus: 2026-01-01 00:00-02:00
START, END = str(START_MS * 10**6), str(END_MS * 10**6)
ISO_START, ISO_END = "2026-01-01T00:00:00.000Z", "2026-01-01T02:00:00.000Z"
STEP = "15000ms"  # what pkg/loki sends; `$__auto` becomes "15s"
CATEGORIZE = {"X-Loki-Response-Encoding-Flags": "categorize-labels"}
DRILLDOWN = {"X-Query-Tags": "Source=grafana-lokiexplore-app"}
LOKI_STATS = Path(__file__).resolve().parents[1] / "conformance" / "cases" / "ls-nregex.json"
NS = re.compile(r"^[0-9]{19}$")
NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$|^[+-]?Inf$|^NaN$")
LEVELS = {"debug", "info", "warn", "error", "critical", "fatal", "trace", "unknown"}


@pytest.fixture(scope="module")
def client(corpus_server):
    with httpx.Client(base_url=corpus_server.url, timeout=120) as c:
        yield c


@pytest.fixture(scope="module")
def tail_server(tmp_path_factory):
    """Its own server: the tail test pushes, and the session's corpus server stays read-only."""
    with ServerProcess(tmp_path_factory.mktemp("grafana-tail") / "data") as srv:
        yield srv


def data_query(query, *, instant=False, direction="backward", limit=1000, start=START, end=END, step=STEP,
               source=None, extra_headers=None):
    """A request as pkg/loki/api.go makeDataRequest builds it."""
    params = {"query": query, "direction": direction}
    if limit:
        params["limit"] = str(limit)
    if instant:
        params["time"] = end
        path = "/loki/api/v1/query"
    else:
        params.update(start=start, end=end, step=step)
        path = "/loki/api/v1/query_range"
    headers = dict(CATEGORIZE)
    if source:
        headers["X-Query-Tags"] = f"Source={source}"
    headers.update(extra_headers or {})
    return path, params, headers


def loki_stats_shape():
    loki = json.loads(LOKI_STATS.read_text())["response"]["body"]["data"]["stats"]
    loki["summary"].pop("estimatedQueryBytes")  # omitempty in Loki's stats.proto
    return shape(loki)


def check_labels(labels: dict) -> None:
    assert isinstance(labels, dict)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()), labels


def check_envelope(body: dict, result_type: str, categorized: bool) -> dict:
    """`{"status": "success", "data": {"resultType", ["encodingFlags",] "result", "stats"}}`."""
    assert set(body) == {"status", "data"}
    assert body["status"] == "success"
    data = body["data"]
    assert data["resultType"] == result_type
    assert isinstance(data["result"], list)
    # Loki writes encodingFlags on log answers only, and only when asked.
    expected = {"resultType", "result", "stats"} | ({"encodingFlags"} if categorized else set())
    assert set(data) == expected
    if categorized:
        assert data["encodingFlags"] == ["categorize-labels"]
    assert list(data)[-1] == "stats"
    assert shape(data["stats"]) == loki_stats_shape()
    return data


def check_streams(body, *, lo=int(START), hi=int(END), direction="backward", limit=1000, parsed=False):
    data = check_envelope(body, "streams", categorized=True)
    assert data["result"], "no streams"
    stamps = []
    for stream in data["result"]:
        assert set(stream) == {"stream", "values"}
        check_labels(stream["stream"])
        # Categorised: only indexed labels in `stream`; detected_level is structured metadata.
        assert "detected_level" not in stream["stream"]
        for entry in stream["values"]:
            assert len(entry) == 3, entry
            ts, line, meta = entry
            assert isinstance(ts, str) and NS.match(ts), ts
            assert isinstance(line, str)
            assert isinstance(meta, dict) and set(meta) <= {"structuredMetadata", "parsed"}, meta
            for part in meta.values():
                check_labels(part)
                assert part, "empty label groups are left out"
            assert lo <= int(ts) < hi
            stamps.append(int(ts))
        ordered = [int(t) for t, *_ in stream["values"]]
        assert ordered == sorted(ordered, reverse=direction == "backward")
    assert len(stamps) <= limit
    if parsed:
        assert any("parsed" in e[2] for s in data["result"] for e in s["values"])
    return data


def check_sample(pair, *, lo=START_MS // 1000, hi=END_MS // 1000):
    """`[<unix seconds as a JSON number>, "<value as a string>"]`."""
    assert isinstance(pair, list) and len(pair) == 2
    t, v = pair
    assert isinstance(t, (int, float)) and not isinstance(t, bool)
    assert lo <= t <= hi
    assert isinstance(v, str) and NUMBER.match(v), v


def check_matrix(body, *, metric_keys=None):
    data = check_envelope(body, "matrix", categorized=False)
    assert data["result"], "no series"
    for series in data["result"]:
        assert set(series) == {"metric", "values"}
        check_labels(series["metric"])
        if metric_keys is not None:
            assert set(series["metric"]) <= metric_keys, series["metric"]
        stamps = [t for t, _ in series["values"]]
        assert stamps == sorted(stamps)
        for pair in series["values"]:
            check_sample(pair)
    return data


def check_vector(body, *, at, metric_keys=None):
    data = check_envelope(body, "vector", categorized=False)
    for sample in data["result"]:
        assert set(sample) == {"metric", "value"}
        check_labels(sample["metric"])
        if metric_keys is not None:
            assert set(sample["metric"]) <= metric_keys
        check_sample(sample["value"], lo=at, hi=at)
        assert sample["value"][0] == at
    return data


def check_string_list(body):
    assert set(body) == {"status", "data"} and body["status"] == "success"
    assert body["data"] and all(isinstance(v, str) for v in body["data"])
    assert body["data"] == sorted(set(body["data"]))
    return body["data"]


def first_row(client, selector):
    """A row Explore shows, to open log context on: (stream labels, ns timestamp)."""
    path, params, headers = data_query(selector, limit=100)
    body = client.get(path, params=params, headers=headers).json()
    stream = body["data"]["result"][0]
    return stream["stream"], int(stream["values"][len(stream["values"]) // 2][0])


# --- Explore, dashboards and the supplementary queries (pkg/loki/api.go makeDataRequest) ---

OLLAMA = '{compose_service="ollama"}'
WEBUI = '{compose_service="open-webui", stream="stdout"}'

LOG_QUERIES = {
    "explore-logs": (data_query(OLLAMA), {}),
    "explore-logs-parsed": (data_query(WEBUI + " | json"), {"parsed": True}),
    "dashboard-logs": (data_query('{compose_service="nginx"} |= "GET"', limit=100), {"limit": 100}),
    "logs-sample": (data_query(OLLAMA, limit=100, source="logsample"), {"limit": 100}),
    "data-sample": (data_query(WEBUI, limit=10, source="datasample"), {"limit": 10}),
    # Infinite scroll asks for the page after the oldest row shown: the range ends where it stopped.
    "infinite-scroll": (data_query(OLLAMA, end=str((START_MS + 3600_000) * 10**6), source="infinitescroll"),
                        {"hi": (START_MS + 3600_000) * 10**6}),
    "infinite-scroll-forward": (data_query(OLLAMA, direction="forward", source="infinitescroll"),
                                {"direction": "forward"}),
}


@pytest.mark.parametrize("case", LOG_QUERIES, ids=list(LOG_QUERIES))
def test_log_queries_answer_categorised_streams_with_stats(client, case):
    (path, params, headers), expect = LOG_QUERIES[case]
    r = client.get(path, params=params, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    check_streams(r.json(), **expect)


def test_log_queries_without_the_flag_answer_plain_pairs(client):
    """What Grafana 10 and logcli get: no encodingFlags, [ts, line] pairs, all labels in `stream`."""
    path, params, _ = data_query(OLLAMA, limit=20)
    data = client.get(path, params=params).json()["data"]
    assert "encodingFlags" not in data
    assert all(len(e) == 2 for s in data["result"] for e in s["values"])
    assert all("detected_level" in s["stream"] for s in data["result"])


@pytest.mark.parametrize("direction", ["backward", "forward"])
def test_log_context_before_and_after_a_row(client, direction):
    labels, ts = first_row(client, OLLAMA)
    row_ms = ts // 10**6  # Grafana's row time is a millisecond time field
    window = 2 * 3600 * 1000
    selector = "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
    if direction == "backward":
        start, end = (row_ms - window) * 10**6, row_ms * 10**6
    else:
        start, end = row_ms * 10**6, (row_ms + window) * 10**6
    path, params, headers = data_query(selector, direction=direction, limit=50, start=str(start), end=str(end))
    r = client.get(path, params=params, headers=headers)
    assert r.status_code == 200, r.text
    data = check_streams(r.json(), lo=start, hi=end, direction=direction, limit=50)
    assert all(s["stream"] == labels for s in data["result"])


METRIC_QUERIES = {
    "explore-metric": (data_query('sum by (compose_service) (rate({compose_project="aixcl"}[1m]))'),
                       {"compose_service"}),
    "dashboard-timeseries": (data_query('sum by (detected_level) (count_over_time({compose_service="grafana"}[15s]))'),
                             {"detected_level"}),
    "logs-volume": (data_query('sum by (level, detected_level) (count_over_time({compose_service="grafana"} '
                               '| drop __error__[15s]))', source="logvolhist"), {"level", "detected_level"}),
    "logs-volume-legacy": (data_query('sum by (level) (count_over_time({compose_service="grafana"}[15s]))',
                                      source="logvolhist"), {"level"}),
    "dd-service-volume": (data_query('sum by (detected_level) (count_over_time({ service_name="aixcl-grafana-1" } '
                                     '[15s]))', extra_headers=DRILLDOWN), {"detected_level"}),
    "dd-label-breakdown": (data_query('sum(count_over_time({compose_service="loki"} | logfmt '
                                      '| drop __error__, __error_details__ [15s])) by (level)',
                                      extra_headers=DRILLDOWN), {"level"}),
    "dd-field-breakdown": (data_query('avg_over_time({compose_service="open-webui", stream="stdout"} | json '
                                      '| unwrap latency_ms | __error__="" [15s]) by ()',
                                      extra_headers=DRILLDOWN), set()),
    "sharded-query": (data_query('sum by (detected_level) (count_over_time({compose_service="grafana", '
                                 '__stream_shard__=~"0|1"} | drop __stream_shard__ [15s]))',
                                 extra_headers={"X-Loki-Query-Limits-Context": json.dumps(
                                     {"expr": '{compose_service="grafana"}', "from": START_MS, "to": END_MS})}),
                      {"detected_level"}),
}
EMPTY_OK = {"sharded-query"}  # logyard, like a Loki without stream sharding, has no __stream_shard__ label


@pytest.mark.parametrize("case", METRIC_QUERIES, ids=list(METRIC_QUERIES))
def test_metric_range_queries_answer_a_matrix_with_stats(client, case):
    (path, params, headers), keys = METRIC_QUERIES[case]
    r = client.get(path, params=params, headers=headers)
    assert r.status_code == 200, r.text
    if case in EMPTY_OK:
        data = check_envelope(r.json(), "matrix", categorized=False)
        assert data["result"] == []
        return
    data = check_matrix(r.json(), metric_keys=keys)
    if "detected_level" in keys:
        assert {s["metric"]["detected_level"] for s in data["result"]} <= LEVELS


def test_explore_instant_query_answers_a_vector(client):
    path, params, headers = data_query('sum by (stream) (count_over_time({compose_service="ollama"}[7200s]))',
                                       instant=True)
    data = check_vector(client.get(path, params=params, headers=headers).json(), at=END_MS // 1000,
                        metric_keys={"stream"})
    assert {s["metric"]["stream"] for s in data["result"]} == {"stdout", "stderr"}


def test_save_and_test_health_check_gets_two(client):
    """pkg/loki/healthcheck.go: one frame, one sample, value 2, at t = 4 s (no limit sent)."""
    path, params, headers = data_query("vector(1)+vector(1)", instant=True, limit=0, start="1000000000",
                                       end="4000000000")
    r = client.get(path, params=params, headers=headers)
    assert r.status_code == 200, r.text
    # Loki reads a timestamp of 10 digits or fewer as seconds (pkg/loghttp parseTimestamp), so
    # "4000000000" ns is the year 2096; the check only looks at the value.
    data = check_vector(r.json(), at=4_000_000_000)
    assert data["result"] == [{"metric": {}, "value": [4_000_000_000, "2"]}]


def test_save_and_test_legacy_labels_of_the_last_ten_minutes(client):
    now_ms = int(time.time() * 1000)
    r = client.get("/loki/api/v1/labels", params={"start": str((now_ms - 600_000) * 10**6),
                                                   "end": str(now_ms * 10**6)})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "success" and set(body) <= {"status", "data"}
    assert isinstance(body.get("data", []), list)


# --- Metadata requests (src/LanguageProvider.ts, src/datasource.ts; ns times with ms precision) ---

def test_label_names_without_and_with_a_query(client):
    every = check_string_list(client.get("/loki/api/v1/labels", params={"start": START, "end": END}).json())
    some = check_string_list(client.get("/loki/api/v1/labels", params={
        "start": START, "end": END, "query": '{job="varlogs"}'}).json())
    assert {"compose_service", "job", "service_name"} <= set(every)
    assert set(some) == {"filename", "host", "job", "service_name"}


def test_label_values_without_and_with_a_query(client):
    every = check_string_list(client.get("/loki/api/v1/label/container/values",
                                         params={"start": START, "end": END}).json())
    some = check_string_list(client.get("/loki/api/v1/label/container/values", params={
        "start": START, "end": END, "query": OLLAMA}).json())
    assert set(some) == {"aixcl-ollama-1", "aixcl-ollama-2"} and set(some) < set(every)


def test_series_of_a_selector(client):
    r = client.get("/loki/api/v1/series", params={"match[]": OLLAMA, "start": START, "end": END})
    body = r.json()
    assert set(body) == {"status", "data"} and body["status"] == "success"
    assert len(body["data"]) == 4
    for labels in body["data"]:
        check_labels(labels)
        assert labels["compose_service"] == "ollama"


def test_index_stats_are_four_integers(client):
    body = client.get("/loki/api/v1/index/stats", params={"query": OLLAMA, "start": START, "end": END}).json()
    assert set(body) == {"streams", "chunks", "bytes", "entries"}
    assert all(type(v) is int and v > 0 for v in body.values()), body
    assert body["streams"] == 4


def test_shard_probe_finds_no_shards(client):
    """Loki answers a label with no values as `{"status": "success"}` (conformance api-values-missing);
    Grafana then runs the query unsharded."""
    r = client.get("/loki/api/v1/label/__stream_shard__/values",
                   params={"start": START, "end": END, "query": OLLAMA})
    assert r.status_code == 200 and r.json() == {"status": "success"}


def test_detected_fields_as_grafana_asks(client):
    r = client.get("/loki/api/v1/detected_fields",
                   params={"start": START, "end": END, "limit": "1000", "query": WEBUI + " | json"})
    check_detected_fields(r)


def test_detected_field_values_as_grafana_asks(client):
    r = client.get("/loki/api/v1/detected_field/request_method/values",
                   params={"start": START, "end": END, "limit": "1000", "query": WEBUI})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"values", "limit"} and body["limit"] == 1000
    assert body["values"] and all(isinstance(v, str) for v in body["values"])


def check_detected_fields(r):
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"fields", "limit"} and type(body["limit"]) is int
    assert body["fields"]
    for field in body["fields"]:
        assert set(field) - {"jsonPath"} == {"label", "type", "cardinality", "parsers"}, field
        assert isinstance(field["label"], str)
        assert field["type"] in {"string", "int", "float", "boolean", "duration", "bytes"}
        assert type(field["cardinality"]) is int and field["cardinality"] > 0
        assert field["parsers"] is None or (field["parsers"] and set(field["parsers"]) <= {"json", "logfmt"})
        if "jsonPath" in field:
            assert field["parsers"] == ["json"] and all(isinstance(p, str) for p in field["jsonPath"])
    return body


# --- Logs Drilldown (logs-drilldown src/services/datasource.ts: ISO-8601 times, X-Query-Tags) ---

def dd_get(client, path, **params):
    return client.get(path, params={"end": ISO_END, **params, "start": ISO_START}, headers=DRILLDOWN)


@pytest.mark.parametrize("query", ['{service_name="aixcl-ollama-1"}', ""], ids=["dd-detected-labels",
                                                                              "dd-detected-labels-all"])
def test_drilldown_detected_labels(client, query):
    r = dd_get(client, "/loki/api/v1/detected_labels", query=query)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"detectedLabels"}
    assert body["detectedLabels"]
    for label in body["detectedLabels"]:
        assert set(label) == {"label", "cardinality"}
        assert isinstance(label["label"], str) and type(label["cardinality"]) is int and label["cardinality"] > 0


def test_drilldown_detected_fields(client):
    body = check_detected_fields(dd_get(client, "/loki/api/v1/detected_fields",
                                        query='{service_name="aixcl-grafana-1"}'))
    assert body["limit"] == 1000  # Loki's default when Drilldown sends none


def test_drilldown_patterns(client):
    r = dd_get(client, "/loki/api/v1/patterns", query='{service_name="aixcl-nginx-1"}', step="30s")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"status", "data"} and body["status"] == "success"
    assert body["data"]
    for pattern in body["data"]:
        assert set(pattern) == {"pattern", "level", "samples"}
        assert isinstance(pattern["pattern"], str) and isinstance(pattern["level"], str)
        for t, count in pattern["samples"]:
            assert type(t) is int and type(count) is int  # seconds and counts, both JSON integers
            assert t % 30 == 0 and START_MS // 1000 <= t < END_MS // 1000 and count > 0


def test_drilldown_service_volume(client):
    r = dd_get(client, "/loki/api/v1/index/volume", limit="5000", query='{service_name=~".+"}')
    assert r.status_code == 200, r.text
    data = check_volume(r.json())
    assert all(set(s["metric"]) == {"service_name"} for s in data["result"])
    assert len(data["result"]) > 10


def test_drilldown_volume_aggregated_by_labels(client):
    r = dd_get(client, "/loki/api/v1/index/volume", query='{job="varlogs"}', aggregateBy="labels")
    assert r.status_code == 200, r.text
    data = check_volume(r.json())
    # One entry per label name, each named by a one-key metric.
    names = [next(iter(s["metric"])) for s in data["result"]]
    assert all(len(s["metric"]) == 1 for s in data["result"])
    assert sorted(names) == sorted(set(names)) and {"filename", "host", "job"} <= set(names)


def check_volume(body):
    data = check_envelope(body, "vector", categorized=False)
    for sample in data["result"]:
        assert set(sample) == {"metric", "value"}
        check_labels(sample["metric"])
        t, v = sample["value"]
        assert type(t) is int and t == END_MS // 1000  # Loki writes whole seconds here, not 1767232800.0
        assert isinstance(v, str) and v.isdigit() and int(v) > 0
    values = [int(s["value"][1]) for s in data["result"]]
    assert values == sorted(values, reverse=True)
    return data


def test_drilldown_labels(client):
    r = dd_get(client, "/loki/api/v1/labels")
    assert r.status_code == 200, r.text
    assert "service_name" in check_string_list(r.json())


DRILLDOWN_LIMITS = {
    "discover_log_levels", "discover_service_name", "log_level_fields", "max_entries_limit_per_query",
    "max_line_size_truncate", "max_query_bytes_read", "max_query_length", "max_query_lookback",
    "max_query_range", "max_query_series", "metric_aggregation_enabled", "otlp_config",
    "pattern_persistence_enabled", "query_timeout", "retention_period", "volume_enabled", "volume_max_series"}


def test_drilldown_limits(client):
    r = client.get("/loki/api/v1/drilldown-limits",
                   headers={**DRILLDOWN, "X-Grafana-Cache": "private, max-age=86400"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= {"limits", "pattern_ingester_enabled", "version"}
    assert isinstance(body["limits"], dict) and isinstance(body["pattern_ingester_enabled"], bool)
    assert isinstance(body["version"], str)
    # Every limit logs-drilldown's LokiConfig type reads (src/services/datasourceTypes.ts).
    assert set(body["limits"]) >= DRILLDOWN_LIMITS, sorted(DRILLDOWN_LIMITS - set(body["limits"]))


def test_drilldown_format_query(client):
    r = client.get("/loki/api/v1/format_query", params={"query": '{service_name="x"}|="a"'}, headers=DRILLDOWN)
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "success", "data": '{service_name="x"} |= "a"'}


# --- Live tail (src/datasource.ts createLiveTarget: only `query`, no headers) ---

def test_live_tail_sends_lokis_frames(tail_server):
    server = tail_server
    selector = '{app="grafana-contract"}'
    url = server.url.replace("http://", "ws://") + "/loki/api/v1/tail?" + urlencode({"query": selector})
    with connect(url, open_timeout=20) as ws:
        ts = time.time_ns()
        push = {"streams": [{"stream": {"app": "grafana-contract"},
                             "values": [[str(ts), "level=info msg=hello", {"trace_id": "t1"}]]}]}
        deadline = time.monotonic() + 20
        entries = []
        while not entries:
            assert time.monotonic() < deadline, "no frame"
            # Pushed until it arrives: the tail subscribes just after the upgrade.
            r = httpx.post(server.url + "/loki/api/v1/push", content=orjson.dumps(push),
                           headers={"Content-Type": "application/json"})
            assert r.status_code == 204, r.text
            try:
                frame = orjson.loads(ws.recv(timeout=0.5))
            except TimeoutError:
                continue
            assert set(frame) <= {"streams", "dropped_entries"} and "streams" in frame
            for stream in frame["streams"]:
                assert set(stream) == {"stream", "values"}
                check_labels(stream["stream"])
                entries += stream["values"]
    t, line = entries[0][:2]
    assert isinstance(t, str) and NS.match(t) and line == "level=info msg=hello"
    assert all(len(e) == 2 for e in entries)  # no encoding flags asked: plain pairs
