"""Metadata endpoints: labels, label values, series, index stats and volume."""

from __future__ import annotations

from collections import defaultdict

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from logyard.api.params import (
    END_BEFORE_START,
    check_span,
    parse_aggregate_by,
    parse_instant_query,
    parse_range,
    parse_range_query,
)
from logyard.api.query import request_params
from logyard.errors import BadRequestError
from logyard.labels import LabelSet

NS = 1_000_000_000


def _matchers(text: str | None):
    if not text:
        return None
    from logyard.logql.syntax.parser import parse_matchers

    return parse_matchers(text)


class MetaRoutes:
    def __init__(self, server) -> None:
        self.server = server

    async def _common(self, request: Request, kind: str = "bounds"):
        """Parameters, tenant, start, end and the parsed query of a request, parsed as Loki parses it
        (pkg/loghttp): "bounds" (labels, series) only start/end/since; "range" (index/stats) and
        "volume_range" as a range query; "volume" as an instant query plus bounds. Parameters a route
        does not use (a stats `step`, a volume `time`) are still checked, as in Loki."""
        srv = self.server
        p = await request_params(request)
        tenant = srv.tenant(request)
        srv.require_ready()
        if kind in ("range", "volume_range"):
            q = parse_range_query(p, max_entries=None, max_points=srv.engine.limits.max_points,
                                  volume=kind == "volume_range")
            return p, tenant, q.start, q.end, q
        q = parse_instant_query(p, max_entries=None, volume=True) if kind == "volume" else None
        start, end = parse_range(p)
        if kind == "volume" and end < start:
            raise BadRequestError(END_BEFORE_START)
        return p, tenant, start, end, q

    async def labels(self, request: Request) -> Response:
        from logyard.api.app import json_response

        p, tenant, start, end, _ = await self._common(request)
        matchers = _matchers(p.get("query"))
        names = await run_in_threadpool(self.server.store.label_names, tenant, start, end, matchers)
        return json_response(_label_list(names))

    async def label_values(self, request: Request) -> Response:
        from logyard.api.app import json_response

        p, tenant, start, end, _ = await self._common(request)
        matchers = _matchers(p.get("query"))
        name = request.path_params["name"]
        values = await run_in_threadpool(self.server.store.label_values, tenant, name, start, end, matchers)
        return json_response(_label_list(values))

    async def series(self, request: Request) -> Response:
        from logyard.api.app import json_response

        p, tenant, start, end, _ = await self._common(request)
        groups = [_matchers(m) for m in p.getlist("match[]") or p.getlist("match")]
        groups = [g for g in groups if g]
        if not groups:
            raise BadRequestError("at least one match[] argument must be provided")
        found = await run_in_threadpool(self.server.store.series, tenant, groups, start, end)
        return json_response({"status": "success", "data": [dict(ls) for ls in found]})

    async def index_stats(self, request: Request) -> Response:
        from logyard.api.app import json_response

        p, tenant, start, end, _ = await self._common(request, "range")
        matchers = _selector_matchers(p.get("query"))
        stats = await run_in_threadpool(self.server.store.index_stats, tenant, matchers, start, end)
        return json_response({k: int(stats.get(k, 0)) for k in ("streams", "chunks", "bytes", "entries")})

    async def volume(self, request: Request) -> Response:
        return await self._volume(request, ranged=False)

    async def volume_range(self, request: Request) -> Response:
        return await self._volume(request, ranged=True)

    async def _volume(self, request: Request, ranged: bool) -> Response:
        from logyard.api.app import json_response

        p, tenant, start, end, q = await self._common(request, "volume_range" if ranged else "volume")
        aggregate_by = parse_aggregate_by(p.get("aggregateBy"))
        matchers = _selector_matchers(p.get("query"))
        targets = [t.strip() for t in (p.get("targetLabels") or "").split(",") if t.strip()]
        check_span(start, end)
        step = q.step if ranged else None
        rows = await run_in_threadpool(
            self.server.store.volume, tenant, matchers, start, end, step_ns=step)
        data = _volume_result(rows, matchers, targets, aggregate_by, q.limit, start, end, step)
        return json_response({"status": "success", "data": data})


def _label_list(items: list[str]) -> dict:
    # Loki quirk: with no values it leaves `data` out altogether.
    if not items:
        return {"status": "success"}
    return {"status": "success", "data": sorted(items)}


def _selector_matchers(text: str | None):
    matchers = _matchers(text)
    if not matchers:
        raise BadRequestError("parse error : syntax error: unexpected $end")
    return matchers


def _volume_key(labels: LabelSet, matchers, targets: list[str], aggregate_by: str) -> LabelSet:
    """Loki groups volume by the target labels, else by the selector's label names."""
    if aggregate_by == "labels":
        names = targets or [m.name for m in matchers]
        return LabelSet((n, labels.get(n)) for n in names if labels.get(n))
    names = targets or [m.name for m in matchers]
    return LabelSet((n, labels.get(n)) for n in names if labels.get(n))


def _volume_result(rows, matchers, targets, aggregate_by, limit, start, end, step):
    import numpy as np

    totals: dict[LabelSet, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for labels, ts, nbytes in rows:
        key = _volume_key(labels, matchers, targets, aggregate_by)
        if not key:
            continue
        acc = totals[key]
        for t, b in zip(np.asarray(ts).tolist(), np.asarray(nbytes).tolist()):
            if b:
                acc[int(t)] += float(b)
    grand = sorted(totals.items(), key=lambda kv: -sum(kv[1].values()))[:limit]
    from logyard.gocompat.floatfmt import format_value as format_float

    if step is None:
        result = [{"metric": dict(k), "value": [end / NS, format_float(sum(v.values()))]} for k, v in grand]
        return {"resultType": "vector", "result": result}
    result = []
    for k, v in grand:
        values = []
        for t, b in sorted(v.items()):
            # Loki quirk: a bucket is stamped 1 ms before its end; the last one at the query's end.
            stamp = min(t + step - 1_000_000, end) if t + step < end else end
            values.append([stamp / NS, format_float(b)])
        result.append({"metric": dict(k), "values": values})
    return {"resultType": "matrix", "result": result}
