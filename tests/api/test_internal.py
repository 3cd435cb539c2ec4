"""The routes between the processes of a scaled-out installation (api/internal.py), against a real
`logyard serve`: `/internal/head` answers only the rows of a request's scope (`match[]`, `start`,
`end`) and counts what it sent; `/internal/tail` says it is subscribed, then streams the matching
rows of each committed append in the head's encoding."""

from __future__ import annotations

import time

import httpx
import pyarrow as pa
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from logyard.api.writer_tails import SUBSCRIBED
from logyard.storage.head_wire import decode_head
from tests.support.server import ServerProcess

WAIT = 20.0
T0 = 1767225600 * 10**9


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with ServerProcess(tmp_path_factory.mktemp("internal") / "data") as srv:
        yield srv


def push(srv, labels: dict, values: list[tuple[int, str]]) -> None:
    body = {"streams": [{"stream": labels, "values": [[str(t), line] for t, line in values]}]}
    assert httpx.post(srv.url + "/loki/api/v1/push", json=body, timeout=30).status_code == 204


def metric(srv, name: str) -> float:
    for line in httpx.get(srv.url + "/metrics", timeout=10).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def head(srv, params: list[tuple[str, str]]) -> list[tuple[str, int, str]]:
    r = httpx.get(srv.url + "/internal/head", params=params, timeout=30)
    assert r.status_code == 200, r.text
    view, labels = decode_head(r.content, srv.url)
    d = pa.Table.from_batches(view.batches).to_pydict()
    return sorted((dict(labels[s]).get("app", ""), ts, line) for s, ts, line in zip(d["stream"], d["ts"], d["line"]))


def test_the_head_answers_only_the_rows_of_the_requests_scope_and_counts_them(server):
    for app in ("h1", "h2", "h3"):
        push(server, {"job": "head", "app": app}, [(T0 + k, f"{app} {k}") for k in range(4)])
    everything = [row for row in head(server, []) if row[0] in ("h1", "h2", "h3")]
    assert len(everything) == 12
    before = metric(server, "logyard_head_rows_sent_total")
    got = head(server, [("match[]", '{app="h1"}'), ("match[]", '{app=~"h[23]", job="head"}'),
                        ("start", str(T0 + 1)), ("end", str(T0 + 3))])
    assert got == [(app, T0 + k, f"{app} {k}") for app in ("h1", "h2", "h3") for k in (1, 2)]
    assert metric(server, "logyard_head_rows_sent_total") - before == 6
    assert head(server, [("match[]", '{app="h2"}')]) == [("h2", T0 + k, f"h2 {k}") for k in range(4)]
    assert httpx.get(server.url + "/internal/head", params={"match[]": "{app="}, timeout=10).status_code == 400


def test_the_tail_streams_the_matching_rows_of_each_append(server):
    url = server.url.replace("http://", "ws://") + "/internal/tail?query=" + '{job="wire"}'
    with connect(url, open_timeout=WAIT) as ws:
        assert ws.recv(timeout=WAIT) == SUBSCRIBED
        assert metric(server, "logyard_writer_tails") == 1
        ts = time.time_ns()
        push(server, {"job": "other"}, [(ts, "not this")])
        push(server, {"job": "wire", "app": "w"}, [(ts, "one"), (ts + 1, "two")])
        view, labels = decode_head(ws.recv(timeout=WAIT), server.url)
        d = pa.Table.from_batches(view.batches).to_pydict()
        assert [(dict(labels[s])["app"], t, line) for s, t, line in zip(d["stream"], d["ts"], d["line"])] == [
            ("w", ts, "one"), ("w", ts + 1, "two")]
    deadline = time.monotonic() + WAIT
    while metric(server, "logyard_writer_tails") != 0:
        assert time.monotonic() < deadline, "a closed tail is still counted"
        time.sleep(0.05)


def test_a_tail_with_a_bad_selector_is_refused_before_the_upgrade(server):
    with pytest.raises(InvalidStatus) as info:
        with connect(server.url.replace("http://", "ws://") + "/internal/tail?query=%7Bjob%3D", open_timeout=WAIT):
            pass
    assert info.value.response.status_code == 400
