"""`/loki/api/v1/query_range` and `/loki/api/v1/query`: parse parameters, run the engine, encode.

Each query gets a `Deadline` (`limits.query_timeout`) and runs in a worker thread while the event
loop watches the connection: a client that hangs up cancels the query's work (Loki answers such a
request 499, "the request was cancelled by the client", which only the log sees).

Answers carry Loki's `data.stats` (`QueryStats`: what the query read, its times), and a log answer
follows the request's encoding flags (`encoding_flags`: Grafana's `categorize-labels`).
"""

from __future__ import annotations

import asyncio
import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from logyard.api.encoding_flags import categorize, encoding_flags, with_encoding_flags
from logyard.api.memory import QueryMemory
from logyard.api.params import parse_instant_query, parse_range_query
from logyard.api.responses import json_response, success
from logyard.api.server import Server
from logyard.api.writer_heads import MISSED
from logyard.logql.deadline import Deadline
from logyard.logql.head_scope import query_scope
from logyard.logql.query_stats import QueryStats, entries_returned


# The allocators are the process's: one count of the queries running, whatever their route.
QUERIES_RUNNING = QueryMemory()


async def run_query(request: Request, deadline: Deadline, fn, *args, **kwargs):
    """`fn(*args, deadline=deadline, **kwargs)` in a worker thread, cancelled when the client
    disconnects; what it freed is returned to the OS once no query runs (memory.py)."""

    async def watch() -> None:
        # The request body has been read (or is empty): what the ASGI server sends next is the
        # disconnect, whenever the client hangs up.
        while (await request.receive())["type"] != "http.disconnect":
            pass
        deadline.cancel()

    # Measured and not taken: the query on a ThreadPoolExecutor of its own through
    # loop.run_in_executor rather than anyio's worker threads (bench day, interleaved with main):
    # the needle 0.92-0.95x, the selector 0.97-1.01x, within this machine's noise; and a shorter
    # sys.setswitchinterval (1 ms, 0.2 ms) for the window readers' GIL hand-offs: no faster, at
    # 0.2 ms slower. What HTTP adds to a query is 1.3-1.8 ms (bench/query.py's `server ms`).
    watcher = asyncio.ensure_future(watch())
    QUERIES_RUNNING.started()
    try:
        return await run_in_threadpool(fn, *args, deadline=deadline, **kwargs)
    finally:
        QUERIES_RUNNING.ended()
        watcher.cancel()


def snapshot(srv: Server, tenant: str, fn, query: str, start_ns: int, end_ns: int, step_ns: int | None):
    """`fn` run on one fetch of the writers' heads (target read): every window it reads shares it;
    only the rows the query can read are fetched (logql/head_scope.py)."""
    def run(*args, **kwargs):
        with srv.store.heads_snapshot(tenant, query_scope(query, start_ns, end_ns, step_ns)):
            return fn(*args, **kwargs)
    return run


class QueryRoutes:
    def __init__(self, server: Server) -> None:
        self.server = server

    def routes(self) -> list[Route]:
        return [
            Route("/loki/api/v1/query_range", self.query_range, methods=["GET", "POST"]),
            Route("/loki/api/v1/query", self.query, methods=["GET", "POST"]),
        ]

    async def query_range(self, request: Request) -> Response:
        started = time.perf_counter()
        srv = self.server
        p, tenant = await srv.read_request(request)
        deadline = Deadline(self.server.query_timeout_ns(tenant))
        limits = srv.engine.limits_for(tenant)
        q = parse_range_query(p, max_entries=limits.max_entries, max_points=limits.max_points)
        flags = encoding_flags(request.headers)
        stats = QueryStats()
        missed: list[str] = []
        MISSED.set(missed)
        query = p.get("query") or ""
        run = snapshot(srv, tenant, srv.engine.query_range, query, q.start, q.end, q.step)
        data = await run_query(request, deadline, stats.timed(run), tenant, query,
                               q.start, q.end, q.step, q.interval, q.limit, q.direction,
                               categorize=categorize(flags), stats=stats)
        return with_warnings(answer(data, flags, stats, started), missed)

    async def query(self, request: Request) -> Response:
        started = time.perf_counter()
        srv = self.server
        p, tenant = await srv.read_request(request)
        deadline = Deadline(self.server.query_timeout_ns(tenant))
        q = parse_instant_query(p, max_entries=srv.engine.limits_for(tenant).max_entries)
        stats = QueryStats()
        missed: list[str] = []
        MISSED.set(missed)
        query = p.get("query") or ""
        run = snapshot(srv, tenant, srv.engine.query_instant, query, q.time, q.time, None)
        data = await run_query(request, deadline, stats.timed(run), tenant, query,
                               q.time, q.limit, q.direction, stats=stats)
        return with_warnings(answer(data, encoding_flags(request.headers), stats, started), missed)


def with_warnings(data: dict, missed: list[str]) -> Response:
    """The success envelope; with `warnings` (the Prometheus API's partial-answer field) only when a
    reader answered without some writers' unflushed rows (target read: api/writer_heads.py)."""
    if not missed:
        return success(data)
    return json_response({"status": "success", "data": data, "warnings": [
        f"writer {a} did not answer: lines it holds unflushed are missing" for a in missed]})


def answer(data: dict, flags: list[str], stats: QueryStats, started: float) -> dict:
    """The engine's `data` as Loki answers it: `encodingFlags` (log answers), then `stats` last."""
    data = with_encoding_flags(data, flags)
    return {**data, "stats": stats.to_json(exec_s=time.perf_counter() - started,
                                           entries_returned=entries_returned(data))}
