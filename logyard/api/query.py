"""`/loki/api/v1/query_range` and `/loki/api/v1/query`: parse parameters, run the engine, encode.

Each query gets a `Deadline` (`limits.query_timeout`) and runs in a worker thread while the event
loop watches the connection: a client that hangs up cancels the query's work (Loki answers such a
request 499, "the request was cancelled by the client", which only the log sees).
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from logyard.api.params import parse_instant_query, parse_range_query
from logyard.logql.deadline import Deadline


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


async def run_query(request: Request, deadline: Deadline, fn, *args):
    """`fn(*args, deadline=deadline)` in a worker thread, cancelled when the client disconnects."""

    async def watch() -> None:
        # The request body has been read (or is empty): what the ASGI server sends next is the
        # disconnect, whenever the client hangs up.
        while (await request.receive())["type"] != "http.disconnect":
            pass
        deadline.cancel()

    watcher = asyncio.ensure_future(watch())
    try:
        return await run_in_threadpool(fn, *args, deadline=deadline)
    finally:
        watcher.cancel()


class QueryRoutes:
    def __init__(self, server) -> None:
        self.server = server

    async def query_range(self, request: Request) -> Response:
        from logyard.api.app import json_response

        srv = self.server
        deadline = Deadline(srv.query_timeout_ns)
        p = await request_params(request)
        tenant = srv.tenant(request)
        srv.require_ready()
        limits = srv.engine.limits
        q = parse_range_query(p, max_entries=limits.max_entries, max_points=limits.max_points)
        data = await run_query(request, deadline, srv.engine.query_range, tenant, p.get("query") or "", q.start, q.end,
                               q.step, q.interval, q.limit, q.direction)
        return json_response({"status": "success", "data": data})

    async def query(self, request: Request) -> Response:
        from logyard.api.app import json_response

        srv = self.server
        deadline = Deadline(srv.query_timeout_ns)
        p = await request_params(request)
        tenant = srv.tenant(request)
        srv.require_ready()
        q = parse_instant_query(p, max_entries=srv.engine.limits.max_entries)
        data = await run_query(request, deadline, srv.engine.query_instant, tenant, p.get("query") or "", q.time,
                               q.limit, q.direction)
        return json_response({"status": "success", "data": data})
