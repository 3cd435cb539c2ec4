"""A query's work stops when its time is up or its client leaves, against a real `logyard serve`:
Loki's 504 for `limits.query_timeout`, the work cancelled on disconnect, and Loki's 400s for the
query time range and the series limit."""

from __future__ import annotations

import os
import socket
import time
from urllib.parse import urlencode

import httpx
import orjson
import pytest

from tests.support.server import HISTORIC_DATA_CONFIG, ServerProcess

T0 = 1_767_225_600_000_000_000
SEC = 10**9
LINES = 20_000
# Each line goes through 200 templates: tens of seconds of work for the server, were it not stopped.
SLOW = 'sum(count_over_time({job="bounds"}' + ' | line_format "{{__line__}}"' * 200 + " [1h]))"
TIMEOUT_TEXT = ("request timed out, decrease the duration of the request or add more label matchers "
                "(prefer exact match over regex match) to reduce the amount of data processed")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    config = HISTORIC_DATA_CONFIG + "  query_timeout: 3s\n"
    with ServerProcess(tmp_path_factory.mktemp("query-bounds") / "data", config_text=config) as srv:
        values = [[str(T0 + (i + 1) * 1_000_000), f"line {i} level=info"] for i in range(LINES)]
        for a in range(0, LINES, 5000):
            body = orjson.dumps({"streams": [{"stream": {"job": "bounds"}, "values": values[a:a + 5000]}]})
            r = httpx.post(srv.url + "/loki/api/v1/push", content=body, headers={"Content-Type": "application/json"})
            assert r.status_code == 204, r.text
        yield srv


def _cpu_seconds(pid: int) -> float:
    """utime + stime of the process (all its threads), from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _assert_goes_idle(srv: ServerProcess) -> None:
    """The server stops burning CPU: within a generous wait, one second passes with almost none used."""
    deadline = time.monotonic() + 30
    while True:
        before = _cpu_seconds(srv.proc.pid)
        time.sleep(1.0)
        used = _cpu_seconds(srv.proc.pid) - before
        if used < 0.3:
            return
        assert time.monotonic() < deadline, f"server still busy: {used:.2f} CPU s in the last second"


def test_query_past_query_timeout_answers_lokis_504_and_stops(server):
    r = httpx.get(server.url + "/loki/api/v1/query", params={"query": SLOW, "time": str(T0 + 3600 * SEC)},
                  timeout=120)
    assert (r.status_code, r.text) == (504, TIMEOUT_TEXT)
    _assert_goes_idle(server)
    ok = httpx.get(server.url + "/loki/api/v1/query", timeout=30, params={
        "query": 'sum(count_over_time({job="bounds"}[1h]))', "time": str(T0 + 3600 * SEC)})
    assert ok.status_code == 200 and ok.json()["data"]["result"][0]["value"][1] == str(LINES)


def test_client_disconnect_cancels_the_query(server):
    log_before = len(server.log_tail(10**9))
    target = "/loki/api/v1/query?" + urlencode({"query": SLOW, "time": str(T0 + 3600 * SEC)})
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        time.sleep(0.3)  # the query is under way (if not, it is cancelled as soon as it starts)
    deadline = time.monotonic() + 60
    while "499: the request was cancelled by the client" not in server.log_tail(10**9)[log_before:]:
        assert "504" not in server.log_tail(10**9)[log_before:], "the query ran until its timeout"
        assert time.monotonic() < deadline, "no cancellation logged: " + server.log_tail()
        time.sleep(0.1)
    _assert_goes_idle(server)


@pytest.mark.parametrize("hours, status, text", [
    (721, 200, None),
    (722, 400, "the query time range exceeds the limit (query length: 722h0m0s, limit: 30d1h)"),
])
def test_range_longer_than_max_query_length_is_refused(server, hours, status, text):
    r = httpx.get(server.url + "/loki/api/v1/query_range", timeout=60, params={
        "query": '{job="bounds"}', "start": str(T0), "end": str(T0 + hours * 3600 * SEC), "limit": "1"})
    assert r.status_code == status, r.text
    if text is not None:
        assert r.text == text


def test_series_limit_while_grouping_answers_lokis_400(server):
    r = httpx.get(server.url + "/loki/api/v1/query", timeout=60, params={
        "query": 'sum by (x) (count_over_time({job="bounds"} | label_format x="{{__line__}}" [1h]))',
        "time": str(T0 + 3600 * SEC)})
    assert r.status_code == 400
    assert r.text.startswith("maximum number of series (500) reached for a single query;")
