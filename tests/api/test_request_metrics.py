"""The request-duration middleware: Loki's loki_request_duration_seconds labels for what was sent."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry, Histogram

from logyard.api.request_metrics import RequestMetrics, route_name


@pytest.mark.parametrize("path, route", [
    ("/loki/api/v1/push", "loki_api_v1_push"),
    ("/loki/api/v1/label/job/values", "loki_api_v1_label_name_values"),
    ("/loki/api/v1/label/a/b/values", "loki_api_v1_label_name_values"),
    ("/ready", "ready"),
    ("/", "root"),
    ("/ui/js/main.js", "ui"),
    ("/ui/vendor/uplot/uPlot.iife.min.js", "ui"),
])
def test_route_label_is_the_path_with_label_names_folded(path, route):
    assert route_name(path) == route


def _histogram() -> Histogram:
    return Histogram("loki_request_duration_seconds", "test", ["method", "route", "status_code"],
                     registry=CollectorRegistry())


def _call(app, scope) -> list[dict]:
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def _count(h: Histogram, *labels: str) -> float:
    return next(  # the _count sample of that series
        s.value for m in h.collect() for s in m.samples
        if s.name.endswith("_count") and tuple(s.labels.values()) == labels)


def test_a_request_is_observed_under_the_status_it_was_sent():
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    h = _histogram()
    sent = _call(RequestMetrics(app, h), {"type": "http", "method": "POST", "path": "/loki/api/v1/push"})
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert _count(h, "POST", "loki_api_v1_push", "204") == 1


def test_a_request_that_raises_before_answering_counts_as_500():
    async def app(scope, receive, send):
        raise RuntimeError("boom")

    h = _histogram()
    with pytest.raises(RuntimeError):
        _call(RequestMetrics(app, h), {"type": "http", "method": "GET", "path": "/loki/api/v1/query"})
    assert _count(h, "GET", "loki_api_v1_query", "500") == 1


def test_lifespan_passes_through_unobserved():
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["type"])

    h = _histogram()
    _call(RequestMetrics(app, h), {"type": "lifespan"})
    assert seen == ["lifespan"] and not [s for m in h.collect() for s in m.samples]
