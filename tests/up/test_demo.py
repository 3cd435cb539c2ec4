"""The demo stream: a compose stack's streams and line shapes, in order, reproducible from a seed."""

from __future__ import annotations

import json

import numpy as np

from logyard.up import demo

SECOND = 1_000_000_000
T0 = 1_780_000_000 * SECOND


def entries(body: dict) -> list[tuple[dict, int, str]]:
    return [(s["stream"], int(ts), line) for s in body["streams"] for ts, line in s["values"]]


def test_a_body_holds_the_five_services_with_agent_labels_in_time_order():
    body = demo.body(np.random.default_rng(7), T0, T0 + 60 * SECOND, 2000)
    assert {s["stream"]["compose_service"] for s in body["streams"]} == set(demo.SERVICES)
    for s in body["streams"]:
        lab = s["stream"]
        assert lab == demo.labels(lab["compose_service"])
        ts = [int(t) for t, _ in s["values"]]
        assert ts == sorted(ts) and T0 <= ts[0] and ts[-1] < T0 + 60 * SECOND
    assert len(entries(body)) == 2000


def test_lines_are_json_or_logfmt_with_levels_errors_slow_requests_and_trace_ids():
    rows = entries(demo.body(np.random.default_rng(3), T0, T0 + 60 * SECOND, 3000))
    webui = [json.loads(line) for lab, _, line in rows if lab["compose_service"] == "open-webui"]
    assert {"ts", "level", "msg", "trace_id", "duration_ms"} <= set(webui[0])
    assert {r["level"] for r in webui} >= {"info", "warn", "error"}
    assert any(r.get("event") == "auth.login" for r in webui)
    grafana = [line for lab, _, line in rows if lab["compose_service"] == "grafana"]
    assert all(" level=" in line and " traceID=" in line for line in grafana)
    postgres = [line for lab, _, line in rows if lab["compose_service"] == "postgres"]
    assert any(" ERROR: " in line or " FATAL: " in line for line in postgres)
    assert any("duration:" in line and float(line.split("duration: ")[1].split()[0]) >= demo.SLOW_MS for line in postgres)
    assert any('msg="loading model"' in line for lab, _, line in rows if lab["compose_service"] == "ollama")


def test_a_burst_comes_from_one_service_mostly_as_errors():
    rows = entries(demo.body(np.random.default_rng(5), T0, T0 + SECOND, 300, burst=1))
    assert {lab["compose_service"] for lab, _, _ in rows} == {"postgres"}
    errors = sum(" ERROR: " in line or " FATAL: " in line for _, _, line in rows)
    assert errors > len(rows) / 2


def test_bodies_follow_the_clock_without_gaps_or_overlaps_and_repeat_for_a_seed():
    def run(seed: int) -> list[dict]:
        now = iter(range(T0, T0 + 200 * SECOND, SECOND))
        gen = demo.bodies(np.random.default_rng(seed), lambda: next(now), rate=20, burst_every=20)
        return [next(gen) for _ in range(150)]

    bodies = run(11)
    assert bodies == run(11)
    times = [ts for b in bodies for _, ts, _ in entries(b)]
    assert min(times) >= T0 - SECOND and max(times) < T0 + 150 * SECOND
    sizes = [len(entries(b)) for b in bodies]
    assert 10 <= np.median(sizes) <= 30  # about `rate` a second
    assert max(sizes) >= 150  # and a burst now and then
