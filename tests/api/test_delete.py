"""Loki's deletion API against a real server: answers leave the lines out at once, requests are
listed, cancelled within the cancel period, survive kill -9, and (past the period) their lines
leave the block files; bad requests get Loki's status and text."""

from __future__ import annotations

import time

import httpx
import orjson
import pytest

from tests.support.server import ServerProcess

S = 10**9
T = 1_767_225_600  # 2026-01-01T00:00:00Z, seconds
WAITING = """\
limits:
  retention_period: 0s
  reject_old_samples: false
compactor:
  delete_request_cancel_period: 1h
"""


def push(url: str, stream: dict, values: list[tuple[int, str]]) -> None:
    body = {"streams": [{"stream": stream, "values": [[str(ts), line] for ts, line in values]}]}
    r = httpx.post(url + "/loki/api/v1/push", content=orjson.dumps(body), headers={"Content-Type": "application/json"})
    assert r.status_code == 204, r.text


def log_lines(url: str, query: str = '{job="del"}', start: int = T * S, end: int = (T + 60) * S) -> list[str]:
    r = httpx.get(url + "/loki/api/v1/query_range", params={
        "query": query, "start": str(start), "end": str(end), "limit": "1000", "direction": "forward"})
    assert r.status_code == 200, r.text
    return sorted(v[1] for s in r.json()["data"]["result"] for v in s["values"])


def count(url: str, query: str = 'sum(count_over_time({job="del"}[1m]))') -> int:
    r = httpx.get(url + "/loki/api/v1/query", params={"query": query, "time": str((T + 59) * S)})  # (T-1s, T+59s]
    assert r.status_code == 200, r.text
    res = r.json()["data"]["result"]
    return int(res[0]["value"][1]) if res else 0


def delete(url: str, **params) -> httpx.Response:
    return httpx.post(url + "/loki/api/v1/delete", params=params)


def listing(url: str) -> list[dict]:
    r = httpx.get(url + "/loki/api/v1/delete")
    assert r.status_code == 200, r.text
    return r.json()


LINES = [(T * S + i * S, line) for i, line in enumerate(
    ["ok 0", "secret 1", "ok 2", "secret 3", "secret 4", "ok 5"])]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with ServerProcess(tmp_path_factory.mktemp("delete") / "data", config_text=WAITING) as srv:
        yield srv


@pytest.fixture
def job(server, request):
    """A fresh stream per test: `{job="del", case=<test name>}` with LINES."""
    case = request.node.name[:60]
    push(server.url, {"job": "del", "case": case}, LINES)
    return f'{{job="del", case="{case}"}}'


def test_a_delete_leaves_out_exactly_the_matching_lines_at_once(server, job):
    # start 1 s .. end 3 s, both included (Loki's bounds), lines with "secret"
    r = delete(server.url, query=job + ' |= "secret"', start=str(T + 1), end=str(T + 3))
    assert r.status_code == 204, r.text
    assert len(r.headers["X-Delete-Request-ID"]) == 8
    assert log_lines(server.url, job) == ["ok 0", "ok 2", "ok 5", "secret 4"]
    assert count(server.url, f"sum(count_over_time({job}[1m]))") == 4


def test_a_selector_alone_deletes_its_streams_lines_in_the_range(server, job):
    other = job.replace("}", ', extra="1"}')
    push(server.url, {"job": "del", "case": job.split('"')[3], "extra": "1"}, LINES[:2])
    r = delete(server.url, query=other, start="2026-01-01T00:00:00Z", end="2026-01-01T00:00:10Z")
    assert r.status_code == 204, r.text
    assert log_lines(server.url, other) == []
    assert len(log_lines(server.url, job)) == 6  # the other stream of the case is untouched


def test_listing_shows_loki_fields(server, job):
    q = job + ' |~ "secret [13]"'
    r = delete(server.url, query=q, start=str(T), end=str(T + 5))
    rid = r.headers["X-Delete-Request-ID"]
    got = [d for d in listing(server.url) if d["request_id"] == rid]
    assert len(got) == 1
    d = got[0]
    assert d["query"] == q and d["status"] == "received"
    assert (d["start_time"], d["end_time"]) == (T, T + 5)
    assert abs(d["created_at"] - time.time()) < 600 and d["user_id"] == ""


def test_cancel_within_the_period_brings_the_lines_back(server, job):
    rid = delete(server.url, query=job, start=str(T), end=str(T + 10)).headers["X-Delete-Request-ID"]
    assert log_lines(server.url, job) == []
    r = httpx.delete(server.url + "/loki/api/v1/delete", params={"request_id": rid})
    assert r.status_code == 204, r.text
    assert len(log_lines(server.url, job)) == 6
    assert rid not in [d["request_id"] for d in listing(server.url)]
    r = httpx.delete(server.url + "/loki/api/v1/delete", params={"request_id": rid})
    assert (r.status_code, r.text) == (404, "could not find delete request with given id")


def test_legacy_admin_paths(server, job):
    r = httpx.post(server.url + "/loki/api/admin/delete", params={"query": job, "start": str(T), "end": str(T + 10)})
    assert r.status_code == 204
    rid = r.headers["X-Delete-Request-ID"]
    assert rid in [d["request_id"] for d in httpx.get(server.url + "/loki/api/admin/delete").json()]
    r = httpx.post(server.url + "/loki/api/admin/cancel_delete_request", params={"request_id": rid})
    assert r.status_code == 204


@pytest.mark.parametrize("params, text", [
    ({}, "query not set"),
    ({"query": "{job=\"del\"}"}, "start time not set"),
    ({"query": "sum(rate({job=\"del\"}[1m]))", "start": str(T)}, "invalid query expression"),
    ({"query": "{job=\"del\"} |~ \"(\"", "start": str(T)}, "invalid query expression"),
    ({"query": "{job=\"del\"}", "start": "yesterday"}, "invalid start time: require unix seconds or RFC3339 format"),
    ({"query": "{job=\"del\"}", "start": str(T * 1000)}, "invalid start time: require unix seconds or RFC3339 format"),
    ({"query": "{job=\"del\"}", "start": str(T), "end": "x"}, "invalid end time: require unix seconds or RFC3339 format"),
    ({"query": "{job=\"del\"}", "start": str(T), "end": "4000000000"}, "deletes in the future are not allowed"),
    ({"query": "{job=\"del\"}", "start": str(T + 5), "end": str(T + 5)},
     "start time can't be greater than or equal to end time"),
    ({"query": "{job=\"del\"} |= \"x\"", "start": str(T), "end": str(T + 3600), "max_interval": "1ms"},
     "invalid max_interval: valid time units are 's', 'm', 'h'"),
    ({"query": "{job=\"del\"} |= \"x\"", "start": str(T), "end": str(T + 3600), "max_interval": "48h"},
     "max_interval can't be greater than 24h0m0s"),
    ({"query": "{job=\"del\"} |= \"x\"", "start": str(T), "end": str(T + 3600), "max_interval": "2h"},
     "max_interval can't be greater than the interval to be deleted (1h0m0s)"),
])
def test_bad_requests_get_lokis_400(server, params, text):
    r = delete(server.url, **params)
    assert (r.status_code, r.text) == (400, text)


def test_parameters_come_from_the_url_only(server):
    r = httpx.post(server.url + "/loki/api/v1/delete", data={"query": '{job="del"}', "start": str(T)})
    assert (r.status_code, r.text) == (400, "query not set")  # Loki reads no form body here


def test_a_request_survives_kill_minus_nine(tmp_path):
    srv = ServerProcess(tmp_path / "data", config_text=WAITING).start()
    try:
        push(srv.url, {"job": "del"}, LINES)
        r = delete(srv.url, query='{job="del"} |= "secret"', start=str(T), end=str(T + 10))
        rid = r.headers["X-Delete-Request-ID"]
        srv.kill()
        srv.start()
        assert [d["request_id"] for d in listing(srv.url)] == [rid]
        assert log_lines(srv.url) == ["ok 0", "ok 2", "ok 5"]
    finally:
        srv.stop()


def test_cancel_past_the_period_is_refused_unless_forced(tmp_path):
    cfg = WAITING.replace("delete_request_cancel_period: 1h", "delete_request_cancel_period: 1ms")
    with ServerProcess(tmp_path / "data", config_text=cfg) as srv:
        rid = delete(srv.url, query='{job="del"}', start=str(T), end=str(T + 10)).headers["X-Delete-Request-ID"]
        time.sleep(0.01)  # past the 1ms period (the assertion does not depend on how long past)
        r = httpx.delete(srv.url + "/loki/api/v1/delete", params={"request_id": rid})
        assert (r.status_code, r.text) == (400, (
            "Cancellation of partially completed delete request or delete request past the deadline of 1ms since "
            "its creation is not allowed. To force, use the ?force query parameter"))
        r = httpx.delete(srv.url + "/loki/api/v1/delete", params={"request_id": rid, "force": "true"})
        assert r.status_code == 204


def test_delete_api_needs_retention_enabled(tmp_path):
    cfg = WAITING + "  retention_enabled: false\n"
    with ServerProcess(tmp_path / "data", config_text=cfg) as srv:
        for method in ("GET", "POST", "DELETE"):
            r = httpx.request(method, srv.url + "/loki/api/v1/delete")
            assert (r.status_code, r.text) == (400, "Retention is not enabled")


def test_processed_request_leaves_no_line_on_disk(tmp_path):
    cfg = WAITING.replace("delete_request_cancel_period: 1h", "delete_request_cancel_period: 0s") + \
        "  compaction_interval: 1s\n"
    with ServerProcess(tmp_path / "data", config_text=cfg) as srv:
        push(srv.url, {"job": "del"}, [(ts, f"{line} marker-{i}") for i, (ts, line) in enumerate(LINES)])
        assert httpx.post(srv.url + "/flush").status_code == 204
        assert "secret 1 marker-1" in lines_on_disk(tmp_path / "data")
        rid = delete(srv.url, query='{job="del"} |= "secret"', start=str(T), end=str(T + 10)).headers[
            "X-Delete-Request-ID"]
        deadline = time.monotonic() + 60
        while [d["status"] for d in listing(srv.url)] != ["processed"] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [(d["request_id"], d["status"]) for d in listing(srv.url)] == [(rid, "processed")]
        assert log_lines(srv.url) == KEPT
        r = httpx.delete(srv.url + "/loki/api/v1/delete", params={"request_id": rid})
        assert (r.status_code, r.text) == (400, "deletion of request which is in process or already processed is not allowed")
        metrics = httpx.get(srv.url + "/metrics").text
        assert 'loki_compactor_deleted_lines{user="fake"} 3.0' in metrics
        assert 'loki_compactor_delete_requests_processed_total{user="fake"} 1.0' in metrics
        # the replaced block files go once no read uses them (the trash is emptied every second)
        while time.monotonic() < deadline and lines_on_disk(tmp_path / "data") != KEPT:
            time.sleep(0.2)
        assert lines_on_disk(tmp_path / "data") == KEPT


KEPT = ["ok 0 marker-0", "ok 2 marker-2", "ok 5 marker-5"]


def lines_on_disk(data_dir) -> list[str]:
    """The lines of every block file, read with Parquet (compaction may have compressed them)."""
    import pyarrow.parquet as pq

    out = []
    for p in sorted((data_dir / "blocks").rglob("*.parquet")):
        try:
            out += pq.read_table(p, columns=["line"]).column("line").to_pylist()
        except FileNotFoundError:  # replaced by a compaction meanwhile: its rows are in the new file
            continue
    return sorted(out)
