"""Loki's `loki_request_duration_seconds`: every HTTP request timed, labelled by method, route and
status code, as a plain ASGI middleware around the application."""

from __future__ import annotations

import time

from prometheus_client import Histogram


def route_name(path: str) -> str:
    """The `route` label: the path with `/` as `_` (Loki's names, e.g. `loki_api_v1_push`); label
    values collapse into their template so that each label name does not make a series."""
    if path.startswith("/loki/api/v1/label/") and path.endswith("/values"):
        return "loki_api_v1_label_name_values"
    if path.startswith("/ui/"):  # the explorer's assets: one route, not a series per file
        return "ui"
    return path.strip("/").replace("/", "_") or "root"


class RequestMetrics:
    """Observes each HTTP request's duration into `histogram` (labels: method, route, status_code).

    The status is the one sent; a request that ends without sending one (an exception the app
    does not handle, a client gone before the answer) counts as 500."""

    def __init__(self, app, histogram: Histogram) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = 500

        async def send_status(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.histogram.labels(scope.get("method", ""), route_name(scope.get("path", "")),
                                  str(status)).observe(time.perf_counter() - t0)
