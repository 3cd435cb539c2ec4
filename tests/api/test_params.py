"""Every parameter of every query and metadata route, bad: a 400 whose text names the parameter
(Loki's wording, pkg/loghttp/params.go and query.go), never a 500; and the server keeps serving.

Routes parse what Loki's parse functions parse: query_range, index/stats and index/volume_range are
range queries (start, end, since, limit, direction, step, interval); query and index/volume parse
limit, time and direction; labels, label values and series only their bounds (start, end, since).
"""

from __future__ import annotations

import httpx
import pytest

from logyard.api.params import Params, parse_tail_query
from logyard.errors import BadRequestError
from tests.support.server import ServerProcess

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
SEC = 10**9
V1 = "/loki/api/v1"

LOG = '{job="p"}'
METRIC = 'count_over_time({job="p"}[1m])'

RANGE_ROUTES = {
    "query_range": (V1 + "/query_range", {"query": LOG, "start": str(T0), "end": str(T0 + 7200)}),
    "query_range metric": (V1 + "/query_range", {"query": METRIC, "start": str(T0), "end": str(T0 + 7200)}),
    "index/stats": (V1 + "/index/stats", {"query": LOG, "start": str(T0), "end": str(T0 + 7200)}),
    "index/volume_range": (V1 + "/index/volume_range", {"query": LOG, "start": str(T0), "end": str(T0 + 7200)}),
}
INSTANT_ROUTES = {
    "query": (V1 + "/query", {"query": METRIC, "time": str(T0 + 60)}),
    "index/volume": (V1 + "/index/volume", {"query": LOG, "start": str(T0), "end": str(T0 + 7200)}),
}
BOUNDS_ROUTES = {
    "labels": (V1 + "/labels", {"start": str(T0), "end": str(T0 + 7200)}),
    "label values": (V1 + "/label/job/values", {"start": str(T0), "end": str(T0 + 7200)}),
    "series": (V1 + "/series", {"match[]": LOG, "start": str(T0), "end": str(T0 + 7200)}),
}

THIRTY_DIGITS = "123456789012345678901234567890"


def _timestamp_errors(name: str) -> list[tuple[str, str]]:
    return [
        ("abc", f"could not parse '{name}' parameter: strconv.ParseInt: parsing \"abc\": invalid syntax"),
        ("1_767_225_600", f"could not parse '{name}' parameter: strconv.ParseInt: parsing \"1_767_225_600\": "
                          "invalid syntax"),
        (THIRTY_DIGITS, f"could not parse '{name}' parameter: strconv.ParseInt: parsing \"{THIRTY_DIGITS}\": "
                        "value out of range"),
        ("1.0e30", f"could not parse '{name}' parameter: cannot parse \"1.0e30\" to a valid timestamp. "
                   "It overflows int64"),
        ("1.0e300", f"could not parse '{name}' parameter: cannot parse \"1.0e300\" to a valid timestamp. "
                    "It overflows int64"),
        ("9999999999", f"could not parse '{name}' parameter: cannot parse \"9999999999\" to a valid timestamp. "
                       "It overflows int64"),
        ("9999-01-01T00:00:00Z", f"could not parse '{name}' parameter: cannot parse \"9999-01-01T00:00:00Z\" to a "
                                 "valid timestamp. It overflows int64"),
    ]


def _duration_errors(name: str) -> list[tuple[str, str]]:
    return [
        ("abc", f"could not parse '{name}' parameter: cannot parse \"abc\" to a valid duration"),
        ("1e300", f"could not parse '{name}' parameter: cannot parse \"1e300\" to a valid duration. "
                  "It overflows int64"),
        ("1e10", f"could not parse '{name}' parameter: cannot parse \"1e10\" to a valid duration. "
                 "It overflows int64"),
    ]


LIMIT_ERRORS = [
    ("abc", "could not parse 'limit' parameter: strconv.Atoi: parsing \"abc\": invalid syntax"),
    ("1.5", "could not parse 'limit' parameter: strconv.Atoi: parsing \"1.5\": invalid syntax"),
    (THIRTY_DIGITS, f"could not parse 'limit' parameter: strconv.Atoi: parsing \"{THIRTY_DIGITS}\": value out of range"),
    ("-1", "limit must be a positive value"),
    ("5000000000", "limit value 5000000000 is out of range [0, 4294967295]"),
]
DIRECTION_ERRORS = [("sideways", "invalid direction 'sideways'")]
STEP_ERRORS = _duration_errors("step") + [
    ("-1", "zero or negative query resolution step widths are not accepted. Try a positive integer"),
    ("0", "zero or negative query resolution step widths are not accepted. Try a positive integer"),
    ("1ms", "exceeded maximum resolution of 11,000 points per time series. Try increasing the value of the step "
            "parameter"),
]
INTERVAL_ERRORS = _duration_errors("interval") + [("-1", "interval must be >= 0")]
AGGREGATE_BY_ERRORS = [("streams", 'invalid aggregation option: aggregateBy is "series" or "labels", not "streams"')]


def _cases():
    def add(routes, param, errors):
        for route, (path, base) in routes.items():
            for value, body in errors:
                yield pytest.param(path, {**base, param: value}, body, id=f"{route}-{param}={value}")

    bounds = {**RANGE_ROUTES, **BOUNDS_ROUTES, "index/volume": INSTANT_ROUTES["index/volume"]}
    for param in ("start", "end"):
        yield from add(bounds, param, _timestamp_errors(param))
    yield from add(bounds, "since", _duration_errors("since"))
    yield from add(INSTANT_ROUTES, "time", _timestamp_errors("time"))
    yield from add({**RANGE_ROUTES, **INSTANT_ROUTES}, "direction", DIRECTION_ERRORS)
    # index/volume* read 0 as "the default limit", as Loki does (volumeLimit).
    volume = {"index/volume": INSTANT_ROUTES["index/volume"], "index/volume_range": RANGE_ROUTES["index/volume_range"]}
    others = {k: v for k, v in {**RANGE_ROUTES, **INSTANT_ROUTES}.items() if k not in volume}
    yield from add({**RANGE_ROUTES, **INSTANT_ROUTES}, "limit", LIMIT_ERRORS)
    yield from add(others, "limit", [("0", "limit must be a positive value")])
    yield from add(RANGE_ROUTES, "step", STEP_ERRORS)
    yield from add(RANGE_ROUTES, "interval", INTERVAL_ERRORS)
    yield from add(volume, "aggregateBy", AGGREGATE_BY_ERRORS)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with ServerProcess(tmp_path_factory.mktemp("params") / "data") as srv:
        body = {"streams": [{"stream": {"job": "p"}, "values": [[str((T0 + 30) * SEC), "one line"]]}]}
        assert httpx.post(srv.url + V1 + "/push", json=body).status_code == 204
        yield srv


@pytest.mark.parametrize("path, params, body", list(_cases()))
def test_bad_parameter_is_a_400_naming_it(server, path, params, body):
    r = httpx.get(server.url + path, params=params)
    assert (r.status_code, r.text) == (400, body)


@pytest.mark.parametrize("path, params", [
    pytest.param(path, base, id=route)
    for route, (path, base) in {**RANGE_ROUTES, **INSTANT_ROUTES, **BOUNDS_ROUTES}.items()
])
def test_good_parameters_are_answered(server, path, params):
    r = httpx.get(server.url + path, params=params)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("path, params", [
    pytest.param(path, {**base, "start": str(-(2**63)), "end": str(2**63 - 1)}, id=f"{route}-widest-range")
    for route, (path, base) in {**RANGE_ROUTES, **BOUNDS_ROUTES,
                                "index/volume": INSTANT_ROUTES["index/volume"]}.items()
] + [
    pytest.param(V1 + "/query", {"query": METRIC, "time": t}, id=f"query-time={t}")
    for t in (str(-(2**63)), str(2**63 - 1), "0")
])
def test_extreme_valid_timestamps_are_not_a_500(server, path, params):
    r = httpx.get(server.url + path, params=params)
    assert r.status_code in (200, 400), r.text


def test_the_server_keeps_serving_after_bad_parameters(server):
    for path, params in (("/query", {"query": METRIC, "time": "1.0e30"}),
                         ("/query_range", {"query": METRIC, "step": "1e300"}),
                         ("/index/volume", {"query": LOG, "limit": "abc"})):
        assert httpx.get(server.url + V1 + path, params=params).status_code == 400
    r = httpx.get(server.url + V1 + "/query_range", params={**RANGE_ROUTES["query_range"][1], "limit": "5"})
    assert r.status_code == 200 and r.json()["data"]["result"][0]["values"][0][1] == "one line"


@pytest.fixture(scope="module")
def small_points_server(tmp_path_factory):
    from tests.support.server import HISTORIC_DATA_CONFIG

    config = HISTORIC_DATA_CONFIG + "  max_query_points: 100\n"
    with ServerProcess(tmp_path_factory.mktemp("points") / "data", config_text=config) as srv:
        yield srv


@pytest.mark.parametrize("route", ["query_range metric", "index/stats", "index/volume_range"])
def test_max_query_points_is_the_configured_limit(small_points_server, route):
    path, base = RANGE_ROUTES[route]
    over = httpx.get(small_points_server.url + path, params={**base, "step": "71"})  # 7200 s / 71 s: 101 points
    assert (over.status_code, over.text) == (
        400, "exceeded maximum resolution of 100 points per time series. Try increasing the value of the step parameter")
    assert httpx.get(small_points_server.url + path, params={**base, "step": "72"}).status_code == 200


@pytest.mark.parametrize("years", [0, 10])
def test_a_millisecond_volume_step_is_refused_before_any_allocation(server, years):
    path, base = RANGE_ROUTES["index/volume_range"]
    r = httpx.get(server.url + path, params={**base, "start": str(T0 - years * 365 * 86400), "step": "1ms"})
    assert (r.status_code, r.text) == (400, STEP_ERRORS[-1][1])


@pytest.mark.parametrize("params, expected", [
    ({}, (100, 0)),
    ({"delay_for": "5", "limit": "7"}, (7, 5)),
    ({"delay_for": "4294967296"}, (100, 0)),  # Loki's uint32 conversion: 2^32 is 0
])
def test_tail_query_defaults_and_delay_for(params, expected):
    q = parse_tail_query(Params(list(params.items())), max_entries=5000, now=10**18)
    assert (q.limit, q.delay_for_s, q.start) == (*expected, 10**18 - 3600 * 10**9)


@pytest.mark.parametrize("params, text", [
    ({"delay_for": "6"}, "delay_for can't be greater than 5"),
    ({"delay_for": "-1"}, "delay_for can't be greater than 5"),
    ({"delay_for": "x"}, 'strconv.Atoi: parsing "x": invalid syntax'),
    ({"limit": "6000"}, "max entries limit per query exceeded, limit > max_entries_limit_per_query (6000 > 5000)"),
])
def test_tail_query_errors(params, text):
    with pytest.raises(BadRequestError) as info:
        parse_tail_query(Params(list(params.items())), max_entries=5000, now=10**18)
    assert info.value.message == text
