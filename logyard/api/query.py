"""`/loki/api/v1/query_range` and `/loki/api/v1/query`: parse parameters, run the engine, encode.

Each query gets a `Deadline` (`limits.query_timeout`) and runs in a worker thread while the event
loop watches the connection: a client that hangs up cancels the query's work (Loki answers such a
request 499, "the request was cancelled by the client", which only the log sees).
"""

from __future__ import annotations

import asyncio

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from logyard.api.params import parse_instant_query, parse_range_query
from logyard.api.responses import success
from logyard.api.server import Server
from logyard.config.server import parse_duration_ns
from logyard.logql.deadline import Deadline


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
    def __init__(self, server: Server) -> None:
        self.server = server
        self.timeout_ns = parse_duration_ns(server.cfg.limits.query_timeout) or None  # 0s: no timeout

    def routes(self) -> list[Route]:
        return [
            Route("/loki/api/v1/query_range", self.query_range, methods=["GET", "POST"]),
            Route("/loki/api/v1/query", self.query, methods=["GET", "POST"]),
        ]

    async def query_range(self, request: Request) -> Response:
        srv = self.server
        deadline = Deadline(self.timeout_ns)
        p, tenant = await srv.read_request(request)
        limits = srv.engine.limits
        q = parse_range_query(p, max_entries=limits.max_entries, max_points=limits.max_points)
        data = await run_query(request, deadline, srv.engine.query_range, tenant, p.get("query") or "", q.start, q.end,
                               q.step, q.interval, q.limit, q.direction)
        return success(data)

    async def query(self, request: Request) -> Response:
        srv = self.server
        deadline = Deadline(self.timeout_ns)
        p, tenant = await srv.read_request(request)
        q = parse_instant_query(p, max_entries=srv.engine.limits.max_entries)
        data = await run_query(request, deadline, srv.engine.query_instant, tenant, p.get("query") or "", q.time,
                               q.limit, q.direction)
        return success(data)
