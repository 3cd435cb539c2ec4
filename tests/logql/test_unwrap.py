"""`| unwrap` of a stream label or of structured metadata, with no parser before it, through a real
server: Loki's label builder holds stream labels, metadata and parsed labels alike, so every
unwrap range function must take its samples from any of them. A stream without the label gives
no sample (it is neither 0 nor an error)."""

from __future__ import annotations

import httpx
import pytest

from tests.support.server import ServerProcess

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z, seconds
SEC = 10**9


def _push(url: str, streams: list[tuple[dict, list[tuple]]]) -> None:
    body = {"streams": [{"stream": labels, "values": [[str((T0 + s) * SEC), line, *meta] for s, line, *meta in vals]}
                        for labels, vals in streams]}
    r = httpx.post(url + "/loki/api/v1/push", json=body)
    assert r.status_code == 204, r.text


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with ServerProcess(tmp_path_factory.mktemp("unwrap") / "data") as srv:
        _push(srv.url, [
            ({"job": "u", "n": "40"}, [(1, "a"), (2, "b")]),
            ({"job": "u", "n": "10"}, [(3, "c")]),
            ({"job": "u"}, [(4, "no n on this stream")]),   # no `n`: no sample
            ({"job": "d", "took": "1.5s", "size": "2KB"}, [(1, "x")]),
            ({"job": "d", "took": "500ms", "size": "1KiB"}, [(2, "y")]),
            ({"job": "m"}, [(1, "p", {"n": "5"}), (2, "q", {"n": "7"}), (3, "r")]),
        ])
        yield srv


def _instant(server, query: str) -> list[tuple[dict, str]]:
    r = httpx.get(server.url + "/loki/api/v1/query", params={"query": query, "time": str(T0 + 60)})
    assert r.status_code == 200, r.text
    return [({k: v for k, v in s["metric"].items() if k != "detected_level"}, s["value"][1])
            for s in r.json()["data"]["result"]]


U = {"job": "u", "service_name": "u"}


@pytest.mark.parametrize("func, value", [
    ("sum_over_time", "90"),
    ("avg_over_time", "30"),
    ("max_over_time", "40"),
    ("min_over_time", "10"),
    ("first_over_time", "40"),
    ("last_over_time", "10"),
    ("stdvar_over_time", "200"),
    ("stddev_over_time", "14.142135623730951"),
    ("quantile_over_time(0.5,", "40"),
    ("rate", "0.3"),  # 90 / 300 s
])
def test_unwrap_of_a_stream_label_takes_every_stream_that_has_it(server, func, value):
    call = func if func.endswith(",") else func + "("
    assert _instant(server, f'{call}{{job="u"}} | unwrap n [5m])') == [(U, value)]


def test_rate_counter_unwraps_a_stream_label(server):
    # 40, 40, 10: the drop to 10 is a counter reset, so the increase is 0 + 10.
    [(labels, value)] = _instant(server, 'rate_counter({job="u"} | unwrap n [5m])')
    assert labels == U and float(value) > 0


@pytest.mark.parametrize("query, value", [
    ('sum_over_time({job="d"} | unwrap duration(took) [5m])', "2"),
    ('sum_over_time({job="d"} | unwrap duration_seconds(took) [5m])', "2"),
    ('sum_over_time({job="d"} | unwrap bytes(size) [5m])', "3024"),
])
def test_unwrap_conversions_of_stream_labels(server, query, value):
    got = _instant(server, f"sum({query})")
    assert got == [({}, value)]


def test_unwrap_of_a_stream_label_with_a_filter_after_it(server):
    assert _instant(server, 'max_over_time({job="u"} | unwrap n | __error__="" [5m])') == [(U, "40")]


def test_unwrap_of_structured_metadata_skips_rows_without_it(server):
    assert _instant(server, 'sum_over_time({job="m"} | unwrap n [5m])') == [({"job": "m", "service_name": "m"}, "12")]


def test_unwrap_of_a_stream_label_over_a_range(server):
    r = httpx.get(server.url + "/loki/api/v1/query_range", params={
        "query": 'sum(sum_over_time({job="u"} | unwrap n [1m]))', "start": str(T0), "end": str(T0 + 120),
        "step": "60"})
    assert r.status_code == 200, r.text
    [series] = r.json()["data"]["result"]
    assert series["values"] == [[T0 + 60, "90"]]  # (T0+60, T0+120] holds no sample
