"""The runtime file of per-tenant overrides, edited while a real server runs: a valid edit takes
effect without a restart, a broken one is logged with its line and the overrides in force stay;
`/runtime_config` shows them, `?mode=diff` only what differs from `limits:`."""

from __future__ import annotations

import time

import httpx
import orjson
import pytest

from tests.support.server import ServerProcess

T0 = 1767225600000000000
CONFIG = """\
auth_enabled: true
limits:
  retention_period: 0s
  reject_old_samples: false
  max_line_size: 100
runtime_config:
  file: {runtime}
  period: 100ms
"""


def push_line(srv, tenant: str, size: int) -> httpx.Response:
    body = {"streams": [{"stream": {"job": "rt"}, "values": [[str(T0), "x" * size]]}]}
    return httpx.post(srv.url + "/loki/api/v1/push", content=orjson.dumps(body),
                      headers={"Content-Type": "application/json", "X-Scope-OrgID": tenant})


def wait_for(check, what: str, timeout: float = 30.0):
    """Poll until `check()` is truthy: the server re-reads the file on its own clock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


INITIAL = "overrides:\n  wide:\n    max_line_size: 1KB\n"


def in_force(srv) -> str:
    """The overrides the server applies, as `/runtime_config?mode=diff` gives them."""
    return httpx.get(srv.url + "/runtime_config", params={"mode": "diff"}).text


@pytest.fixture(scope="module")
def module_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("runtime")
    runtime = tmp / "runtime.yaml"
    runtime.write_text(INITIAL)
    with ServerProcess(tmp / "data", config_text=CONFIG.format(runtime=runtime)) as srv:
        srv.runtime = runtime
        yield srv


@pytest.fixture
def server(module_server):
    """The module's server (one start, not one a test) with INITIAL in force; after the test, INITIAL
    again, applied before the next test begins."""
    assert in_force(module_server) == INITIAL
    yield module_server
    module_server.runtime.write_text(INITIAL)
    wait_for(lambda: in_force(module_server) == INITIAL, "the initial runtime file in force again")


def test_an_override_applies_to_its_tenant_only(server):
    assert push_line(server, "wide", 500).status_code == 204
    assert push_line(server, "narrow", 500).status_code == 400


def test_drilldown_limits_and_volume_cap_are_the_tenants(server):
    """Drilldown reads its tenant's limits, overrides included; volume answers stop at its cap."""
    server.runtime.write_text("overrides:\n  wide:\n    max_line_size: 1KB\n    max_query_series: 7\n"
                              "    volume_max_series: 1\n")

    def limits(tenant: str) -> dict:
        r = httpx.get(server.url + "/loki/api/v1/drilldown-limits", headers={"X-Scope-OrgID": tenant})
        assert r.status_code == 200, r.text
        return r.json()["limits"]

    wait_for(lambda: limits("wide")["max_query_series"] == 7, "the override in drilldown-limits")
    assert limits("narrow")["max_query_series"] == 500
    for tenant in ("wide", "narrow"):
        body = {"streams": [{"stream": {"job": job}, "values": [[str(T0), "x"]]} for job in ("a", "b")]}
        assert httpx.post(server.url + "/loki/api/v1/push", content=orjson.dumps(body), headers={
            "Content-Type": "application/json", "X-Scope-OrgID": tenant}).status_code == 204

    def volume(tenant: str) -> list:
        r = httpx.get(server.url + "/loki/api/v1/index/volume", headers={"X-Scope-OrgID": tenant}, params={
            "query": '{job=~"a|b"}', "start": str(T0 - 10**9), "end": str(T0 + 10**9)})
        assert r.status_code == 200, r.text
        return r.json()["data"]["result"]
    assert len(volume("wide")) == 1 and len(volume("narrow")) == 2


def test_an_edit_takes_effect_without_a_restart(server):
    server.runtime.write_text("overrides:\n  wide:\n    max_line_size: 1KB\n  narrow:\n    max_line_size: 2KB\n")
    wait_for(lambda: push_line(server, "narrow", 1500).status_code == 204, "the new override")
    assert push_line(server, "wide", 1500).status_code == 400


def test_a_broken_edit_is_reported_and_the_overrides_in_force_stay(server):
    server.runtime.write_text("overrides:\n  wide:\n    max_line_size: 1KB\n    not_a_limit: 3\n")
    wait_for(lambda: "not_a_limit" in server.log_tail(), "the error in the log")
    assert f"{server.runtime}:4: overrides.wide.not_a_limit: unknown key" in server.log_tail()
    assert push_line(server, "wide", 500).status_code == 204
    server.runtime.write_text("overrides: {}\n")  # fixed: applied again
    wait_for(lambda: push_line(server, "wide", 500).status_code == 400, "the fixed file")


def test_runtime_config_shows_the_overrides_in_force(server):
    full = httpx.get(server.url + "/runtime_config").text
    assert full.startswith("overrides:\n  wide:\n")
    assert "    max_line_size: 1KB\n" in full and "    reject_old_samples: false\n" in full
    diff = httpx.get(server.url + "/runtime_config", params={"mode": "diff"}).text
    assert diff == "overrides:\n  wide:\n    max_line_size: 1KB\n"


def test_a_broken_runtime_file_at_start_stops_the_server(tmp_path):
    runtime = tmp_path / "runtime.yaml"
    runtime.write_text("overrides:\n  t:\n    max_line_size: lots\n")
    srv = ServerProcess(tmp_path / "data", config_text=CONFIG.format(runtime=runtime))
    with pytest.raises(RuntimeError, match=r"runtime.yaml:3: overrides.t.max_line_size"):
        srv.start()
    srv.stop()


def test_tail_and_drilldown_routes_read_the_tenants_limits(server):
    """Tail's concurrency cap and entries limit, and detected_fields' entries limit, are per tenant."""
    from urllib.parse import urlencode

    from websockets.exceptions import ConnectionClosed, InvalidStatus
    from websockets.sync.client import connect

    from tests.api.test_tail import wait_tailing

    server.runtime.write_text("overrides:\n  wide:\n    max_line_size: 1KB\n"
                              "    max_concurrent_tail_requests: 1\n    max_entries_limit_per_query: 3\n")

    def tail(tenant: str, limit: int = 1):
        ws_url = server.url.replace("http://", "ws://") + "/loki/api/v1/tail?" + urlencode(
            {"query": '{job="rt"}', "limit": str(limit)})
        return connect(ws_url, additional_headers={"X-Scope-OrgID": tenant}, open_timeout=10)

    def fields(tenant: str) -> tuple[int, str]:
        r = httpx.get(server.url + "/loki/api/v1/detected_fields", headers={"X-Scope-OrgID": tenant}, params={
            "query": '{job="rt"}', "start": str(T0 - 10**9), "end": str(T0 + 10**9), "line_limit": "4"})
        return r.status_code, r.text

    wait_for(lambda: fields("wide")[0] == 400, "the override on detected_fields")
    assert "(4 > 3)" in fields("wide")[1]
    assert fields("narrow")[0] == 200
    with tail("wide"):
        wait_tailing(server, 1)
        with tail("wide") as second, pytest.raises(ConnectionClosed) as refused:
            second.recv(timeout=10)
        assert refused.value.rcvd.reason == "max concurrent tail requests limit exceeded, count > limit (2 > 1)"
        with tail("narrow"), tail("narrow"):
            wait_tailing(server, 3)  # the default limit (10) lets the other tenant in twice
    with pytest.raises(InvalidStatus) as too_many:
        with tail("wide", limit=4):
            pass
    assert too_many.value.response.status_code == 400
    with tail("narrow", limit=4):
        pass
