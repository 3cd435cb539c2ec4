"""Loki's log deletion API (the compactor's routes): `POST /loki/api/v1/delete` makes a request,
`GET` lists them, `DELETE ...?request_id=` cancels one within the cancel period. Also the paths
Loki served before 2.5, `/loki/api/admin/delete` and `/loki/api/admin/cancel_delete_request`.

Parameters, statuses and error texts are Loki's (pkg/compactor/deletion/request_handler.go).
Parameters come from the URL only, as in Loki. Times are Loki's too: milliseconds, `start` required, `end` defaulting to now, each unix seconds
(exactly 10 digits, a fraction allowed) or RFC 3339.
"""

from __future__ import annotations

import math
import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from logyard.api.params import Params, parse_rfc3339
from logyard.api.responses import json_response
from logyard.api.server import Server
from logyard.errors import BadRequestError, LogyardError
from logyard.gocompat.durations import format_duration
from logyard.units import parse_duration_ns, parse_go_duration

NOT_ENABLED = "Retention is not enabled"
NOT_FOUND = "could not find delete request with given id"
ALREADY_PROCESSED = "deletion of request which is in process or already processed is not allowed"
BAD_START = "invalid start time: require unix seconds or RFC3339 format"
BAD_END = "invalid end time: require unix seconds or RFC3339 format"
BAD_INTERVAL = "invalid max_interval: valid time units are 's', 'm', 'h'"
MS = 10**6


def parse_delete_time(value: str, now_ms: int) -> int | None:
    """Loki's deletion `parseTime`: "" is now; RFC 3339; else exactly 10 characters of (float)
    unix seconds, the fraction rounded to ms. Milliseconds, or None when it does not parse."""
    if value == "":
        return now_ms
    ns = parse_rfc3339(value)
    if ns is not None:
        return ns // MS
    if len(value) != 10:
        return None
    try:
        f = float(value)
    except ValueError:
        return None
    if not math.isfinite(f):
        return None
    sec = math.floor(f)
    return int(sec) * 1000 + int(round(round((f - sec) * 1000, 3)))


class DeleteRoutes:
    def __init__(self, server: Server) -> None:
        self.server = server

    def routes(self) -> list[Route]:
        return [
            Route("/loki/api/v1/delete", self.add, methods=["PUT", "POST"]),
            Route("/loki/api/v1/delete", self.list, methods=["GET"]),
            Route("/loki/api/v1/delete", self.cancel, methods=["DELETE"]),
            Route("/loki/api/admin/delete", self.add, methods=["PUT", "POST"]),
            Route("/loki/api/admin/delete", self.list, methods=["GET"]),
            Route("/loki/api/admin/cancel_delete_request", self.cancel, methods=["PUT", "POST"]),
        ]

    def _request(self, request: Request) -> tuple[Params, str]:
        srv = self.server
        if not srv.cfg.compactor.retention_enabled:
            raise BadRequestError(NOT_ENABLED)
        tenant = srv.tenant(request)
        srv.require_ready()
        # Loki's handlers read the URL's query string only (a form body is not looked at).
        return Params(list(request.query_params.multi_items())), tenant

    async def add(self, request: Request) -> Response:
        params, tenant = self._request(request)
        now_ms = time.time_ns() // MS
        query = params.get("query", "")
        if not query:
            raise BadRequestError("query not set")
        deletes = self.server.store.deletes
        flt = deletes.compile(query)  # the 400 of a bad query comes before the times'
        start_text = params.get("start", "")
        if not start_text:
            raise BadRequestError("start time not set")
        start = parse_delete_time(start_text, now_ms)
        if start is None:
            raise BadRequestError(BAD_START)
        end = parse_delete_time(params.get("end", ""), now_ms)
        if end is None:
            raise BadRequestError(BAD_END)
        if end > now_ms:
            raise BadRequestError("deletes in the future are not allowed")
        if start >= end:
            raise BadRequestError("start time can't be greater than or equal to end time")
        if flt.has_pipeline:
            self._check_interval(params.get("max_interval", ""), start, end)
        req = await run_in_threadpool(deletes.add, tenant, query, start, end)
        return Response(status_code=204, headers={"X-Delete-Request-ID": req.request_id})

    def _check_interval(self, text: str, start_ms: int, end_ms: int) -> None:
        """Loki shards a request with line filters by `max_interval`; logyard applies it whole, and
        checks the parameter as Loki does."""
        if not text:
            return
        limit = parse_duration_ns(self.server.cfg.compactor.delete_max_interval)
        try:
            interval = parse_go_duration(text)
        except LogyardError:
            raise BadRequestError(BAD_INTERVAL) from None
        if interval < 10**9:
            raise BadRequestError(BAD_INTERVAL)
        if limit and interval > limit:
            raise BadRequestError(f"max_interval can't be greater than {format_duration(limit)}")
        span = (end_ms - start_ms) * MS
        if interval > span:
            raise BadRequestError(f"max_interval can't be greater than the interval to be deleted ({format_duration(span)})")

    async def list(self, request: Request) -> Response:
        params, tenant = self._request(request)
        reqs = await run_in_threadpool(self.server.store.deletes.list, tenant)  # the bucket's, if shared
        start_text, end_text = params.get("start", ""), params.get("end", "")
        if start_text and end_text:  # Loki: only requests overlapping [start, end]
            now_ms = time.time_ns() // MS
            start, end = parse_delete_time(start_text, now_ms), parse_delete_time(end_text, now_ms)
            if start is None:
                raise BadRequestError(BAD_START)
            if end is None:
                raise BadRequestError(BAD_END)
            reqs = [r for r in reqs if r.start_ms <= end and r.end_ms >= start]
        return json_response([r.as_loki() for r in reqs])

    async def cancel(self, request: Request) -> Response:
        params, tenant = self._request(request)
        deletes = self.server.store.deletes
        req = await run_in_threadpool(deletes.get, tenant, params.get("request_id", ""))
        if req is None:
            raise LogyardError(NOT_FOUND, status=404)
        if req.status == "processed":
            raise BadRequestError(ALREADY_PROCESSED)
        period_ns = parse_duration_ns(self.server.cfg.compactor.delete_request_cancel_period)
        if req.created_ms * MS + period_ns < time.time_ns() and params.get("force") != "true":
            raise BadRequestError(
                f"Cancellation of partially completed delete request or delete request past the deadline of "
                f"{format_duration(period_ns)} since its creation is not allowed. To force, use the ?force query "
                f"parameter")
        if not await run_in_threadpool(deletes.remove, tenant, req.request_id):
            raise BadRequestError(ALREADY_PROCESSED)  # processed meanwhile (by the backend's pass)
        return Response(status_code=204)
