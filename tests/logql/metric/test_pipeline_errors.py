"""Metric queries over lines a parser or an unwrap fails on, through a real server, as Loki answers.

Loki's rules (pkg/logql/evaluator.go RangeVectorEvaluator, pkg/logql/log/metrics_extraction.go,
labels.go GroupedLabels, parser_hints.go): an errored sample keeps all its labels whatever the
grouping, so a range aggregation holding one fails the query with the pipeline error (400) unless
the query keeps `__error__` on purpose (groups by it: `__preserve_error__`) or filters it out; an
unwrap groups `without` the unwrapped label unless a `by` names it, and the label filters after
unwrap still see it; approx_topk is topk for instant queries and a 500 for range queries; sums over
sliding windows forget an infinity once it leaves the window.
"""

from __future__ import annotations

import httpx
import pytest

from tests.support.server import ServerProcess

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z, seconds
SEC = 10**9
HINTS = ("Use a label filter to intentionally skip this error. (e.g | __error__!=\"{e}\").\n"
         "To skip all potential errors you can match empty errors.(e.g __error__=\"\")\n"
         "The label filter can also be specified after unwrap. (e.g | unwrap latency | __error__=\"\" )\n")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    streams = [
        ({"job": "j"}, [(1, '{"a":"1"}'), (2, "not json"), (3, '{"a":"2"}')]),
        ({"job": "k"}, [(1, "lat=5 a=1"), (2, "lat=20 a=2"), (3, "lat=abc a=3"), (4, "lat=5 a=1"), (5, "lat= a=4")]),
        ({"job": "b"}, [(1, "size=2KB took=1s"), (2, "size=zz took=qq")]),
        ({"job": "inf"}, [(10, "v=1"), (20, "v=+Inf"), (30, "v=2"), (100, "v=-Inf"), (110, "v=3"),
                          (200, "v=NaN"), (210, "v=4")]),
    ]
    with ServerProcess(tmp_path_factory.mktemp("perr") / "data") as srv:
        body = {"streams": [{"stream": l, "values": [[str((T0 + s) * SEC), line] for s, line in v]}
                            for l, v in streams]}
        r = httpx.post(srv.url + "/loki/api/v1/push", json=body)
        assert r.status_code == 204, r.text
        yield srv


def _instant(server, query: str) -> httpx.Response:
    return httpx.get(server.url + "/loki/api/v1/query", params={"query": query, "time": str(T0 + 60)})


def _range(server, query: str, end: int = 60, step: int = 10) -> httpx.Response:
    return httpx.get(server.url + "/loki/api/v1/query_range",
                     params={"query": query, "start": str(T0), "end": str(T0 + end), "step": str(step)})


def _vector(r: httpx.Response) -> list[tuple[dict, str]]:
    assert r.status_code == 200, r.text
    got = [({k: v for k, v in s["metric"].items() if k not in ("detected_level", "service_name")}, s["value"][1])
           for s in r.json()["data"]["result"]]
    return sorted(got, key=lambda lv: (sorted(lv[0].items()), lv[1]))


JSON_SERIES = ('{__error__="JSONParserErr", __error_details__="Value looks like object, but can\'t find '
               'closing \'}\' symbol", detected_level="unknown", job="j", service_name="j"}')


@pytest.mark.parametrize("query", [
    'count_over_time({job="j"} | json [1m])',
    # A `sum by` pushed into the range aggregation does not aggregate the error away.
    'sum by (job) (count_over_time({job="j"} | json [1m]))',
])
@pytest.mark.parametrize("run", [_instant, _range])
def test_a_parser_error_fails_instant_and_range_queries(server, query, run):
    r = run(server, query)
    assert r.status_code == 400
    assert r.text == f"pipeline error: 'JSONParserErr' for series: '{JSON_SERIES}'.\n" + HINTS.format(e="JSONParserErr")


@pytest.mark.parametrize("query, want", [
    ('sum(count_over_time({job="j"} | json [1m]))', [({}, "3")]),  # no label kept: nothing parsed
    ('sum(count_over_time({job="j"} | json | __error__="" [1m]))', [({}, "2")]),
    ('sum(count_over_time({job="j"} | json | __error__!="JSONParserErr" [1m]))', [({}, "2")]),
    # Grouping by __error__ keeps the error on purpose.
    ('sum by (__error__) (count_over_time({job="j"} | json [1m]))', [({}, "2"), ({"__error__": "JSONParserErr"}, "1")]),
])
def test_errors_filtered_out_or_kept_on_purpose_do_not_fail(server, query, want):
    assert _vector(_instant(server, query)) == want


def test_an_unwrap_error_names_the_series_with_the_unwrapped_label(server):
    r = _instant(server, 'sum by (job) (sum_over_time({job="k"} | logfmt | unwrap lat [1m]))')
    assert r.status_code == 400
    # The pushed-down `by (job)` limits what logfmt extracts to job and lat (Loki's parser hints).
    series = ('{__error__="SampleExtractionErr", __error_details__="strconv.ParseFloat: parsing \\"abc\\": '
              'invalid syntax", detected_level="unknown", job="k", lat="abc", service_name="k"}')
    assert r.text == (f"pipeline error: 'SampleExtractionErr' for series: '{series}'.\n"
                      + HINTS.format(e="SampleExtractionErr"))


@pytest.mark.parametrize("conv, error", [
    ("bytes(size)", 'strconv.ParseFloat: parsing \\"\\": invalid syntax'),
    ("duration(took)", 'time: invalid duration \\"qq\\"'),
])
def test_conversion_errors_fail_the_query_unless_filtered(server, conv, error):
    r = _instant(server, f'sum_over_time({{job="b"}} | logfmt | unwrap {conv} [1m])')
    assert r.status_code == 400
    assert f'__error_details__="{error}"' in r.text and "'SampleExtractionErr'" in r.text
    ok = _vector(_instant(server, f'sum_over_time({{job="b"}} | logfmt | unwrap {conv} | __error__="" [1m])'))
    assert [v for _, v in ok] == ["2000" if conv.startswith("bytes") else "1"]


@pytest.mark.parametrize("query, want", [
    # Without `by`, the unwrapped label leaves the series; an empty value gives no sample.
    ('sum_over_time({job="k"} | logfmt | unwrap lat | __error__="" [1m])',
     [({"a": "1", "job": "k"}, "10"), ({"a": "2", "job": "k"}, "20")]),
    # A pushed-down `sum by (lat)` keeps it: one series per value.
    ('sum by (lat) (sum_over_time({job="k"} | logfmt | unwrap lat | __error__="" [1m]))',
     [({"lat": "20"}, "20"), ({"lat": "5"}, "10")]),
    # max is not pushed down: the range aggregation already dropped lat.
    ('max by (lat) (max_over_time({job="k"} | logfmt | unwrap lat | __error__="" [1m]))', [({}, "20")]),
    # `by ()` on the range aggregation: Loki's noLabels, one series, before the unwrap's `without lat`.
    ('avg_over_time({job="k"} | logfmt | unwrap lat | __error__="" [1m]) by ()', [({}, "10")]),
    # Filters after unwrap still see the unwrapped label.
    ('sum_over_time({job="k"} | logfmt | unwrap lat | __error__="" | lat > 10 [1m])', [({"a": "2", "job": "k"}, "20")]),
])
def test_unwrapped_label_in_grouping_and_filters(server, query, want):
    assert _vector(_instant(server, query)) == want


def test_approx_topk_is_topk_for_instant_queries(server):
    q = 'approx_topk(2, sum by (job) (count_over_time({job=~".+"}[5m])))'
    assert _vector(_instant(server, q)) == [({"job": "inf"}, "3"), ({"job": "k"}, "5")]


def test_approx_topk_fails_range_queries(server):
    r = _range(server, 'approx_topk(2, sum by (job) (count_over_time({job=~".+"}[5m])))')
    assert (r.status_code, r.text.strip()) == (500, "count min sketches are only supported on instant queries")


@pytest.mark.parametrize("query, error", [
    ('approx_topk(2, sum by (job) (count_over_time({job=~".+"}[5m]))) by (job)', "grouping not allowed"),
    ('approx_topk(1.5, sum by (job) (count_over_time({job=~".+"}[5m])))', "invalid parameter"),
])
def test_approx_topk_parse_rules(server, query, error):
    r = _instant(server, query)
    assert r.status_code == 400 and error in r.text


def test_infinities_leaving_a_sliding_sum_window(server):
    r = _range(server, 'sum_over_time({job="inf"} | logfmt | unwrap v [25s])', end=240, step=10)
    assert r.status_code == 200, r.text
    [series] = r.json()["data"]["result"]
    got = {int(t) - T0: v for t, v in series["values"]}
    assert [got[t] for t in (20, 50, 100, 130, 200, 210, 230)] == ["+Inf", "2", "-Inf", "3", "NaN", "NaN", "4"]
