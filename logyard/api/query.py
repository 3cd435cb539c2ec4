"""`/loki/api/v1/query_range` and `/loki/api/v1/query`: parse parameters, run the engine, encode."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from logyard.api.params import parse_instant_query, parse_range_query


async def request_params(request: Request):
    """Query-string parameters, plus form fields for POST (Grafana and logcli POST forms)."""
    items = list(request.query_params.multi_items())
    if request.method == "POST":
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("application/x-www-form-urlencoded"):
            body = (await request.body()).decode("utf-8", errors="replace")
            items.extend(parse_qsl(body, keep_blank_values=True))
    return _Params(items)


class _Params:
    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._items = items

    def get(self, key: str, default=None):
        for k, v in self._items:
            if k == key:
                return v
        return default

    def getlist(self, key: str) -> list[str]:
        return [v for k, v in self._items if k == key]


class QueryRoutes:
    def __init__(self, server) -> None:
        self.server = server

    async def query_range(self, request: Request) -> Response:
        from logyard.api.app import json_response

        srv = self.server
        p = await request_params(request)
        tenant = srv.tenant(request)
        srv.require_ready()
        limits = srv.engine.limits
        q = parse_range_query(p, max_entries=limits.max_entries, max_points=limits.max_points)
        data = await run_in_threadpool(srv.engine.query_range, tenant, p.get("query") or "", q.start, q.end, q.step,
                                       q.interval, q.limit, q.direction)
        return json_response({"status": "success", "data": data})

    async def query(self, request: Request) -> Response:
        from logyard.api.app import json_response

        srv = self.server
        p = await request_params(request)
        tenant = srv.tenant(request)
        srv.require_ready()
        q = parse_instant_query(p, max_entries=srv.engine.limits.max_entries)
        data = await run_in_threadpool(srv.engine.query_instant, tenant, p.get("query") or "", q.time, q.limit,
                                       q.direction)
        return json_response({"status": "success", "data": data})
