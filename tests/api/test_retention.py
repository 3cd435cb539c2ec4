"""Retention against a real server: `limits.retention_stream` rules remove exactly their streams'
old lines, the others keep `limits.retention_period`, and the lines leave the block files."""

from __future__ import annotations

import time

import httpx
import orjson

from tests.api.test_delete import lines_on_disk
from tests.support.server import ServerProcess

S = 10**9
CONFIG = """\
limits:
  retention_period: 3h
  reject_old_samples: false
  retention_stream:
    - selector: '{app="short"}'
      priority: 1
      period: 1h
    - selector: '{app=~"short|forever", pin="yes"}'
      priority: 2
      period: 0s
compactor:
  compaction_interval: 1s
  retention_delete_delay: 0s
"""


def test_stream_rules_and_the_global_period_remove_exactly_their_lines(tmp_path):
    now = time.time_ns()
    hours = lambda h: now - int(h * 3600 * S)  # noqa: E731
    pushes = [
        ({"app": "short"}, hours(2), "short 2h"),                  # rule 1h: gone
        ({"app": "short"}, hours(0.2), "short 12m"),               # rule 1h: kept
        ({"app": "short", "pin": "yes"}, hours(5), "pinned 5h"),  # priority 2, 0s: kept forever
        ({"app": "other"}, hours(4), "other 4h"),                  # global 3h: gone
        ({"app": "other"}, hours(2), "other 2h"),                  # global 3h: kept
    ]
    with ServerProcess(tmp_path / "data", config_text=CONFIG) as srv:
        for labels, ts, line in pushes:
            body = {"streams": [{"stream": labels, "values": [[str(ts), line]]}]}
            r = httpx.post(srv.url + "/loki/api/v1/push", content=orjson.dumps(body),
                           headers={"Content-Type": "application/json"})
            assert r.status_code == 204, r.text
        assert httpx.post(srv.url + "/flush").status_code == 204
        kept = ["other 2h", "pinned 5h", "short 12m"]

        def answer() -> list[str]:
            r = httpx.get(srv.url + "/loki/api/v1/query_range", params={
                "query": '{app=~".+"}', "start": str(hours(6)), "end": str(now + S), "limit": "100"})
            assert r.status_code == 200, r.text
            return sorted(v[1] for s in r.json()["data"]["result"] for v in s["values"])

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (answer() != kept or lines_on_disk(tmp_path / "data") != kept):
            time.sleep(0.2)
        assert answer() == kept
        assert lines_on_disk(tmp_path / "data") == kept
        assert 'logyard_retention_deleted_lines_total{user="fake"} 2.0' in httpx.get(srv.url + "/metrics").text


def test_a_tenant_override_sets_that_tenants_retention(tmp_path):
    """Per-tenant retention: `retention_period` and `retention_stream` from the runtime file apply to
    their tenant only; the others keep `limits:`."""
    runtime = tmp_path / "overrides.yaml"
    runtime.write_text("overrides:\n  brief:\n    retention_period: 1h\n"
                       "    retention_stream:\n      - selector: '{app=\"keep\"}'\n        period: 0s\n")
    config = ("auth_enabled: true\nlimits:\n  retention_period: 3h\n  reject_old_samples: false\n"
              "compactor:\n  compaction_interval: 1s\n  retention_delete_delay: 0s\n"
              f"runtime_config:\n  file: {runtime}\n")
    now = time.time_ns()
    two_hours_ago = now - 2 * 3600 * S
    with ServerProcess(tmp_path / "data", config_text=config) as srv:
        for tenant in ("brief", "long"):
            body = {"streams": [{"stream": {"app": app}, "values": [[str(two_hours_ago), f"{tenant} {app}"]]}
                                for app in ("drop", "keep")]}
            r = httpx.post(srv.url + "/loki/api/v1/push", content=orjson.dumps(body),
                           headers={"Content-Type": "application/json", "X-Scope-OrgID": tenant})
            assert r.status_code == 204, r.text
        assert httpx.post(srv.url + "/flush").status_code == 204

        def answer(tenant: str) -> list[str]:
            r = httpx.get(srv.url + "/loki/api/v1/query_range", headers={"X-Scope-OrgID": tenant}, params={
                "query": '{app=~".+"}', "start": str(now - 3 * 3600 * S), "end": str(now + S), "limit": "100"})
            assert r.status_code == 200, r.text
            return sorted(v[1] for s in r.json()["data"]["result"] for v in s["values"])

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and answer("brief") != ["brief keep"]:
            time.sleep(0.2)
        assert answer("brief") == ["brief keep"]        # its 1h period, its stream rule pins `keep`
        assert answer("long") == ["long drop", "long keep"]  # `limits:`' 3h
