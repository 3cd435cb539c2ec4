"""The server's /metrics under Loki's names and labels, moving with what it takes in: lines and bytes
received, streams created and held in memory, lines discarded with their reason, requests timed.
Against a real `logyard serve`."""

from __future__ import annotations

import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.server import ServerProcess

TENANT = frozenset({("tenant", "fake")})  # the tenant of every request when auth is off, as in Loki


def samples(url: str) -> dict[tuple[str, frozenset], float]:
    text = httpx.get(url + "/metrics").text
    return {(s.name, frozenset(s.labels.items())): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def push(url: str, streams: dict[str, list[str]]) -> int:
    now = time.time_ns()
    body = {"streams": [{"stream": {"job": job}, "values": [[str(now + i), line] for i, line in enumerate(lines)]}
                        for job, lines in streams.items()]}
    return httpx.post(url + "/loki/api/v1/push", json=body).status_code


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with ServerProcess(tmp_path_factory.mktemp("loki-metrics") / "data") as srv:
        yield srv


def test_received_lines_bytes_and_streams_move_with_a_push(server):
    before = samples(server.url)
    assert push(server.url, {"m-a": ["one", "two"], "m-b": ["three"]}) == 204
    after = samples(server.url)

    def delta(name, labels=TENANT):
        return after.get((name, labels), 0) - before.get((name, labels), 0)

    assert delta("loki_distributor_lines_received_total") == 3
    assert delta("loki_distributor_bytes_received_total") == len("one" "two" "three")
    assert delta("loki_ingester_streams_created_total") == 2
    assert after[("loki_ingester_memory_streams", TENANT)] >= 2
    push_ok = frozenset({("method", "POST"), ("route", "loki_api_v1_push"), ("status_code", "204")})
    assert delta("loki_request_duration_seconds_count", push_ok) == 1

    # the same streams again: lines counted, no stream created
    assert push(server.url, {"m-a": ["four"]}) == 204
    again = samples(server.url)
    assert again[("loki_ingester_streams_created_total", TENANT)] == after[("loki_ingester_streams_created_total", TENANT)]
    assert again[("loki_distributor_lines_received_total", TENANT)] == after[("loki_distributor_lines_received_total", TENANT)] + 1


def test_discarded_lines_and_bytes_carry_reason_and_tenant(server):
    before = samples(server.url)
    assert push(server.url, {"m-long": ["x" * 300_000]}) == 400
    after = samples(server.url)
    key = frozenset({("reason", "line_too_long"), ("tenant", "fake")})
    assert after[("loki_discarded_samples_total", key)] - before.get(("loki_discarded_samples_total", key), 0) == 1
    assert after[("loki_discarded_bytes_total", key)] - before.get(("loki_discarded_bytes_total", key), 0) == 300_000


def test_build_info_names_the_version_the_api_reports(server):
    version = httpx.get(server.url + "/loki/api/v1/status/buildinfo").json()["version"]
    info = [labels for (name, labels), v in samples(server.url).items() if name == "loki_build_info" and v == 1]
    assert [dict(labels)["version"] for labels in info] == [version]
