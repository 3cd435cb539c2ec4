"""Live tail over a real websocket against a real `logyard serve`: `/loki/api/v1/tail` and the legacy
`/api/prom/tail`, Loki's frames, parameters, errors and close messages, several clients, a client
that does not read, tenants, and the server shutting down."""

from __future__ import annotations

import base64
import os
import socket
import threading
import time
from contextlib import contextmanager
from urllib.parse import urlencode

import httpx
import orjson
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.support.server import HISTORIC_DATA_CONFIG, ServerProcess

pytestmark = pytest.mark.slow

WAIT = 20.0  # a generous bound for a frame that should come well within a second
CONFIG = "auth_enabled: true\n" + HISTORIC_DATA_CONFIG + "  max_concurrent_tail_requests: 4\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with ServerProcess(tmp_path_factory.mktemp("tail") / "data", config_text=CONFIG) as srv:
        yield srv


def push(srv, tenant: str, labels: dict, values: list[tuple[int, str]]) -> None:
    body = orjson.dumps({"streams": [{"stream": labels, "values": [[str(t), line] for t, line in values]}]})
    r = httpx.post(srv.url + "/loki/api/v1/push", content=body,
                   headers={"Content-Type": "application/json", "X-Scope-OrgID": tenant}, timeout=60)
    assert r.status_code == 204, r.text


def tail_url(srv, path: str = "/loki/api/v1/tail", **params) -> str:
    params.setdefault("start", str(time.time_ns()))  # no back-fill unless a test asks for one
    return srv.url.replace("http://", "ws://") + path + "?" + urlencode(params)


@contextmanager
def tail(srv, tenant: str = "t1", path: str = "/loki/api/v1/tail", **params):
    with connect(tail_url(srv, path, **params), additional_headers={"X-Scope-OrgID": tenant},
                 open_timeout=WAIT) as ws:
        yield ws


def frame(ws) -> dict:
    return orjson.loads(ws.recv(timeout=WAIT))


def entries(fr: dict) -> list[tuple[dict, str, str]]:
    return [(s["stream"], t, line) for s in fr["streams"] for t, line in s["values"]]


def wait_tailing(srv, n: int) -> None:
    """Until n tails are registered (a tail subscribes right after the upgrade)."""
    deadline = time.monotonic() + WAIT
    while metric(srv, "loki_querier_tail_active") != n:
        assert time.monotonic() < deadline, "tails never registered"
        time.sleep(0.02)


def metric(srv, name: str) -> float:
    text = httpx.get(srv.url + "/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def test_pushed_line_reaches_the_tail_as_lokis_v1_frame(server):
    with tail(server, query='{app="a1"}') as ws:
        wait_tailing(server, 1)
        ts = time.time_ns()
        push(server, "t1", {"app": "a1"}, [(ts, "hello level=warn")])
        got = frame(ws)
    assert got == {"streams": [{"stream": {"app": "a1", "detected_level": "warn", "service_name": "a1"},
                                "values": [[str(ts), "hello level=warn"]]}]}


def test_filter_and_parser_apply_to_live_lines(server):
    with tail(server, query='{app="a2"} |= "boom" | logfmt | level="error"') as ws:
        wait_tailing(server, 1)
        ts = time.time_ns()
        push(server, "t1", {"app": "a2"}, [(ts, "level=info msg=boom1"), (ts + 1, "level=error msg=fine"),
                                           (ts + 2, "level=error msg=boom2")])
        got = frame(ws)
    assert entries(got) == [({"app": "a2", "detected_level": "error", "level": "error", "msg": "boom2",
                              "service_name": "a2"}, str(ts + 2), "level=error msg=boom2")]


def test_each_entry_is_its_own_stream_in_time_order(server):
    with tail(server, query='{app="a3"}') as ws:
        wait_tailing(server, 1)
        ts = time.time_ns()
        push(server, "t1", {"app": "a3"}, [(ts + 2, "c"), (ts, "a"), (ts + 1, "b")])
        got = frame(ws)
    assert [len(s["values"]) for s in got["streams"]] == [1, 1, 1]
    assert [line for _, _, line in entries(got)] == ["a", "b", "c"]


def test_three_clients_each_get_every_line(server):
    with tail(server, query='{app="a4"}') as w1, tail(server, query='{app="a4"}') as w2, \
            tail(server, query='{app="a4"} |= "two"') as w3:
        wait_tailing(server, 3)
        ts = time.time_ns()
        push(server, "t1", {"app": "a4"}, [(ts, "one"), (ts + 1, "two")])
        got = [frame(w) for w in (w1, w2, w3)]
    assert [[line for _, _, line in entries(g)] for g in got] == [["one", "two"], ["one", "two"], ["two"]]


def test_start_back_fills_the_newest_limit_entries_oldest_first(server):
    ts = time.time_ns() - 60 * 10**9
    push(server, "t1", {"app": "a5"}, [(ts + i, f"old {i}") for i in range(5)])
    with tail(server, query='{app="a5"}', start=str(ts - 10**9), limit="3") as ws:
        got = frame(ws)
    assert [line for _, _, line in entries(got)] == ["old 2", "old 3", "old 4"]


def test_back_fill_defaults_to_the_last_hour(server):
    now = time.time_ns()
    push(server, "t1", {"app": "a6"}, [(now - 2 * 3600 * 10**9, "too old"), (now - 60 * 10**9, "recent")])
    url = tail_url(server, query='{app="a6"}')
    url = url[:url.index("&start=")]  # no start at all
    with connect(url, additional_headers={"X-Scope-OrgID": "t1"}, open_timeout=WAIT) as ws:
        got = frame(ws)
    assert [line for _, _, line in entries(got)] == ["recent"]


def test_delay_for_puts_out_of_order_arrivals_in_order(server):
    with tail(server, query='{app="a7"}', delay_for="2") as ws:
        wait_tailing(server, 1)
        ts = time.time_ns() + 10**9
        push(server, "t1", {"app": "a7"}, [(ts + 500_000_000, "second")])
        push(server, "t1", {"app": "a7"}, [(ts, "first")])
        got = [line for _, _, line in entries(frame(ws))]
        if len(got) < 2:
            got += [line for _, _, line in entries(frame(ws))]
    assert got == ["first", "second"]


def test_legacy_tail_sends_lokis_legacy_frame(server):
    with tail(server, path="/api/prom/tail", query='{app="a8"}') as ws:
        wait_tailing(server, 1)
        push(server, "t1", {"app": "a8"}, [(1_796_000_000_123_456_000, "legacy")])
        got = frame(ws)
    assert got == {"streams": [{"labels": '{app="a8", detected_level="unknown", service_name="a8"}',
                                "entries": [{"ts": "2026-11-30T00:53:20.123456Z", "line": "legacy"}]}],
                   "dropped_entries": None}


FLAGS = {"X-Loki-Response-Encoding-Flags": "categorize-labels"}


def push_meta(srv, labels: dict, values: list[tuple[int, str, dict | None]]) -> None:
    """Push as tenant t1, each entry with its structured metadata (if any)."""
    rows = [[str(t), line, *([meta] if meta else [])] for t, line, meta in values]
    body = orjson.dumps({"streams": [{"stream": labels, "values": rows}]})
    r = httpx.post(srv.url + "/loki/api/v1/push", content=body,
                   headers={"Content-Type": "application/json", "X-Scope-OrgID": "t1"}, timeout=60)
    assert r.status_code == 204, r.text


def tail_with(srv, headers: dict, path: str = "/loki/api/v1/tail", **params):
    return connect(tail_url(srv, path, **params), additional_headers={"X-Scope-OrgID": "t1", **headers},
                   open_timeout=WAIT)


def meta_lines(ts: int) -> list[tuple[int, str, dict | None]]:
    return [(ts, "level=warn msg=hi", {"trace_id": "t1"}), (ts + 1, "level=info msg=bye", None)]


def test_categorize_labels_header_groups_live_entries_by_stream_labels_with_metadata_and_parsed_apart(server):
    with tail_with(server, FLAGS, query='{app="c1"} | logfmt') as ws:
        wait_tailing(server, 1)
        ts = time.time_ns()
        push_meta(server, {"app": "c1"}, meta_lines(ts))
        got = frame(ws)
    assert got == {"streams": [{"stream": {"app": "c1", "service_name": "c1"}, "values": [
        [str(ts), "level=warn msg=hi", {"structuredMetadata": {"detected_level": "warn", "trace_id": "t1"},
                                        "parsed": {"level": "warn", "msg": "hi"}}],
        [str(ts + 1), "level=info msg=bye", {"structuredMetadata": {"detected_level": "info"},
                                             "parsed": {"level": "info", "msg": "bye"}}],
    ]}], "encodingFlags": ["categorize-labels"]}


def test_categorize_labels_header_applies_to_the_back_fill(server):
    ts = time.time_ns() - 60 * 10**9
    push_meta(server, {"app": "c2"}, meta_lines(ts))
    with tail_with(server, FLAGS, query='{app="c2"} | logfmt', start=str(ts - 10**9)) as ws:
        got = frame(ws)
    assert got == {"streams": [{"stream": {"app": "c2", "service_name": "c2"}, "values": [
        [str(ts), "level=warn msg=hi", {"structuredMetadata": {"detected_level": "warn", "trace_id": "t1"},
                                        "parsed": {"level": "warn", "msg": "hi"}}],
        [str(ts + 1), "level=info msg=bye", {"structuredMetadata": {"detected_level": "info"},
                                             "parsed": {"level": "info", "msg": "bye"}}],
    ]}], "encodingFlags": ["categorize-labels"]}


def test_categorize_labels_header_without_stages_carries_structured_metadata_only(server):
    with tail_with(server, FLAGS, query='{app="c3"}') as ws:
        wait_tailing(server, 1)
        ts = time.time_ns()
        push_meta(server, {"app": "c3"}, [(ts, "plain", None), (ts + 1, "level=warn x", {"app": "other"})])
        got = frame(ws)
    assert got == {"streams": [{"stream": {"app": "c3", "service_name": "c3"}, "values": [
        [str(ts), "plain", {"structuredMetadata": {"detected_level": "unknown"}}],
        [str(ts + 1), "level=warn x", {"structuredMetadata": {"app_extracted": "other", "detected_level": "warn"}}],
    ]}], "encodingFlags": ["categorize-labels"]}


def test_without_the_header_each_entry_is_its_own_stream_with_all_its_labels(server):
    with tail_with(server, {}, query='{app="c4"} | logfmt') as ws:
        wait_tailing(server, 1)
        ts = time.time_ns()
        push_meta(server, {"app": "c4"}, meta_lines(ts))
        got = frame(ws)
    assert got == {"streams": [
        {"stream": {"app": "c4", "detected_level": "warn", "level": "warn", "msg": "hi", "service_name": "c4",
                    "trace_id": "t1"}, "values": [[str(ts), "level=warn msg=hi"]]},
        {"stream": {"app": "c4", "detected_level": "info", "level": "info", "msg": "bye", "service_name": "c4"},
         "values": [[str(ts + 1), "level=info msg=bye"]]},
    ]}


def test_unknown_encoding_flags_are_echoed_and_change_nothing_else(server):
    with tail_with(server, {"X-Loki-Response-Encoding-Flags": "other,other"}, query='{app="c5"}') as ws:
        wait_tailing(server, 1)
        ts = time.time_ns()
        push_meta(server, {"app": "c5"}, [(ts, "one", {"trace_id": "t9"})])
        got = frame(ws)
    assert got == {"streams": [{"stream": {"app": "c5", "detected_level": "unknown", "service_name": "c5",
                                           "trace_id": "t9"}, "values": [[str(ts), "one"]]}],
                   "encodingFlags": ["other"]}


def test_legacy_tail_ignores_the_encoding_flags(server):
    with tail_with(server, FLAGS, path="/api/prom/tail", query='{app="c6"}') as ws:
        wait_tailing(server, 1)
        push_meta(server, {"app": "c6"}, [(1_796_000_000_123_456_000, "legacy", {"trace_id": "t1"})])
        got = frame(ws)
    assert got == {"streams": [{"labels": '{app="c6", detected_level="unknown", service_name="c6", trace_id="t1"}',
                                "entries": [{"ts": "2026-11-30T00:53:20.123456Z", "line": "legacy"}]}],
                   "dropped_entries": None}


@pytest.mark.parametrize("params, text", [
    ({"query": '{app="x"'}, "parse error at line 1, col 9: syntax error: unexpected $end, expecting } or ,"),
    ({"query": '{app="x"}', "delay_for": "6"}, "delay_for can't be greater than 5"),
    ({"query": '{app="x"}', "delay_for": "-1"}, "delay_for can't be greater than 5"),
    ({"query": '{app="x"}', "delay_for": "1s"}, 'strconv.Atoi: parsing "1s": invalid syntax'),
    ({"query": '{app="x"}', "limit": "0"}, "limit must be a positive value"),
])
def test_bad_request_is_refused_before_the_upgrade_with_lokis_400(server, params, text):
    with pytest.raises(InvalidStatus) as info:
        with tail(server, **params):
            pass
    assert (info.value.response.status_code, bytes(info.value.response.body).decode()) == (400, text)


def test_parse_error_text_is_the_query_apis(server):
    q = '{app="x"} | logfmt |'
    r = httpx.get(server.url + "/loki/api/v1/query_range", params={"query": q}, headers={"X-Scope-OrgID": "t1"})
    with pytest.raises(InvalidStatus) as info:
        with tail(server, query=q):
            pass
    assert (info.value.response.status_code, bytes(info.value.response.body).decode()) == (400, r.text)


def test_metric_query_closes_with_lokis_message(server):
    with tail(server, query='count_over_time({app="x"}[1m])') as ws:
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=WAIT)
    assert (info.value.rcvd.code, info.value.rcvd.reason) == (1011, "only log selector is supported")


def test_one_tail_too_many_closes_with_lokis_limit_message(server):
    with tail(server, query='{app="x"}'), tail(server, query='{app="x"}'), tail(server, query='{app="x"}'), \
            tail(server, query='{app="x"}'):
        wait_tailing(server, 4)
        with tail(server, query='{app="x"}') as ws, pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=WAIT)
        with tail(server, tenant="t2", query='{app="x"}'):  # the limit is per tenant
            wait_tailing(server, 5)
    assert (info.value.rcvd.code, info.value.rcvd.reason) == (
        1011, "max concurrent tail requests limit exceeded, count > limit (5 > 4)")


def test_tenants_see_only_their_own_lines(server):
    with tail(server, tenant="t2", query='{app="a9"}') as ws:
        wait_tailing(server, 1)
        ts = time.time_ns()
        push(server, "t1", {"app": "a9"}, [(ts, "for t1")])
        push(server, "t2", {"app": "a9"}, [(ts + 1, "for t2")])
        got = frame(ws)
    assert [line for _, _, line in entries(got)] == ["for t2"]


def test_tail_without_org_id_is_lokis_401(server):
    with pytest.raises(InvalidStatus) as info:
        with connect(tail_url(server, query='{app="x"}'), open_timeout=WAIT):
            pass
    assert (info.value.response.status_code, bytes(info.value.response.body).decode()) == (401, "no org id")


def _small_buffer_socket(srv) -> socket.socket:
    """A client socket with a small receive buffer, so that a client that stops reading stops the
    server's sends after a few frames rather than after megabytes of kernel buffers."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    s.connect(("127.0.0.1", srv.port))
    return s


# Lines that do not compress (frames are deflated): 24 MB of them, several times what a tail may hold.
N_PUSH, PER_PUSH, LINE_SIZE = 30, 2000, 400


def flood(srv, app: str) -> tuple[int, float]:
    """Push N_PUSH batches of incompressible lines to `app`; the first timestamp and the peak of
    the tails' buffered bytes meanwhile."""
    base = time.time_ns()
    peak = 0.0
    for i in range(N_PUSH):
        lines = base64.b64encode(os.urandom(PER_PUSH * LINE_SIZE * 3 // 4)).decode()
        push(srv, "t1", {"app": app},
             [(base + i * PER_PUSH + j, lines[j * LINE_SIZE:(j + 1) * LINE_SIZE]) for j in range(PER_PUSH)])
        peak = max(peak, metric(srv, "logyard_tail_buffered_bytes"))
    return base, peak


def read_until_dropped(ws) -> dict:
    """The client reads again: the first frame that reports what it missed."""
    while True:
        fr = frame(ws)
        if fr.get("dropped_entries"):
            return fr


def test_client_that_does_not_read_gets_dropped_entries_and_server_memory_stays_bounded(server):
    bound = (4 << 20) + (8 << 20) + PER_PUSH * (LINE_SIZE + 64)  # inbox + held entries + one push
    url = tail_url(server, query='{app="slow"}')
    with connect(url, sock=_small_buffer_socket(server), additional_headers={"X-Scope-OrgID": "t1"},
                 open_timeout=WAIT, max_queue=1) as ws:
        wait_tailing(server, 1)
        base, peak = flood(server, "slow")
        assert metric(server, "logyard_tail_dropped_entries_total") > 0
        dropped = read_until_dropped(ws)["dropped_entries"]
    assert peak <= bound, (peak, bound)
    assert 0 < len(dropped) <= 1000
    assert dropped[0]["labels"] == {"app": "slow", "service_name": "slow"}
    assert base <= int(dropped[0]["timestamp"]) < base + N_PUSH * PER_PUSH


def test_categorize_labels_header_keeps_dropped_entries_in_lokis_shape(server):
    # Loki's EncodeTailResult: streams, then dropped_entries ({timestamp, labels}: the stream's
    # labels, no structured metadata), then the echoed flags.
    dropped_before = metric(server, "logyard_tail_dropped_entries_total")
    with connect(tail_url(server, query='{app="slowc"}'), sock=_small_buffer_socket(server),
                 additional_headers={"X-Scope-OrgID": "t1", **FLAGS}, open_timeout=WAIT, max_queue=1) as ws:
        wait_tailing(server, 1)
        base, _ = flood(server, "slowc")
        assert metric(server, "logyard_tail_dropped_entries_total") > dropped_before
        fr = read_until_dropped(ws)
    assert list(fr) == ["streams", "dropped_entries", "encodingFlags"]
    assert fr["encodingFlags"] == ["categorize-labels"]
    assert all(s["stream"] == {"app": "slowc", "service_name": "slowc"} for s in fr["streams"])
    dropped = fr["dropped_entries"]
    assert 0 < len(dropped) <= 1000
    for d in dropped:
        assert list(d) == ["timestamp", "labels"]
        assert d["labels"] == {"app": "slowc", "service_name": "slowc"}
        assert base <= int(d["timestamp"]) < base + N_PUSH * PER_PUSH


def test_server_shutdown_closes_tails_with_lokis_message(tmp_path):
    srv = ServerProcess(tmp_path / "data").start()
    try:
        with connect(tail_url(srv, query='{app="x"}'), open_timeout=WAIT) as ws:
            wait_tailing(srv, 1)
            stopper = threading.Thread(target=srv.stop)
            stopper.start()
            with pytest.raises(ConnectionClosed) as info:
                ws.recv(timeout=WAIT)
            stopper.join()
    finally:
        srv.stop()
    assert (info.value.rcvd.code, info.value.rcvd.reason) == (1011, "all ingesters closed the connection")


def test_tail_max_duration_closes_with_lokis_message(tmp_path):
    config = HISTORIC_DATA_CONFIG + "querier:\n  tail_max_duration: 1s\n"
    with ServerProcess(tmp_path / "data", config_text=config) as srv:
        with connect(tail_url(srv, query='{app="x"}'), open_timeout=WAIT) as ws:
            with pytest.raises(ConnectionClosed) as info:
                ws.recv(timeout=WAIT)
    assert (info.value.rcvd.code, info.value.rcvd.reason) == (1011, "reached tail max duration limit")
