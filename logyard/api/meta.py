"""Metadata endpoints: labels, label values, series, index stats and volume.

Each parses the parameters Loki's endpoint parses (pkg/loghttp), also those it does not use (a stats
`step`, a volume `time`), so that a bad one is the same 400: labels, label values and series their
bounds (start, end, since); index/stats and index/volume_range a range query; index/volume an
instant query plus bounds.
"""

from __future__ import annotations

import time
from collections import defaultdict

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from logyard.api.params import (
    check_span,
    parse_aggregate_by,
    parse_match_groups,
    parse_matchers_param,
    parse_range,
    parse_range_query,
    parse_selector,
    parse_target_labels,
    parse_volume_query,
)
from logyard.api.responses import json_response, success
from logyard.api.server import Server
from logyard.labels import LabelSet
from logyard.gocompat.floatfmt import format_value as format_float, timestamp_json
from logyard.logql.query_stats import QueryStats

NS = 1_000_000_000


class MetaRoutes:
    def __init__(self, server: Server) -> None:
        self.server = server

    def routes(self) -> list[Route]:
        get_post = ["GET", "POST"]
        return [
            Route("/loki/api/v1/labels", self.labels, methods=get_post),
            Route("/loki/api/v1/label", self.labels, methods=get_post),
            Route("/loki/api/v1/label/{name}/values", self.label_values, methods=get_post),
            Route("/loki/api/v1/series", self.series, methods=get_post),
            Route("/loki/api/v1/index/stats", self.index_stats, methods=get_post),
            Route("/loki/api/v1/index/volume", self.volume, methods=get_post),
            Route("/loki/api/v1/index/volume_range", self.volume_range, methods=get_post),
        ]

    async def labels(self, request: Request) -> Response:
        p, tenant = await self.server.read_request(request)
        start, end = parse_range(p)
        matchers = parse_matchers_param(p.get("query"))
        names = await run_in_threadpool(self.server.store.label_names, tenant, start, end, matchers)
        return json_response(_label_list(names))

    async def label_values(self, request: Request) -> Response:
        p, tenant = await self.server.read_request(request)
        start, end = parse_range(p)
        matchers = parse_matchers_param(p.get("query"))
        name = request.path_params["name"]
        values = await run_in_threadpool(self.server.store.label_values, tenant, name, start, end, matchers)
        return json_response(_label_list(values))

    async def series(self, request: Request) -> Response:
        p, tenant = await self.server.read_request(request)
        start, end = parse_range(p)
        groups = parse_match_groups(p)
        found = await run_in_threadpool(self.server.store.series, tenant, groups, start, end)
        return success([dict(ls) for ls in found])

    async def index_stats(self, request: Request) -> Response:
        srv = self.server
        p, tenant = await srv.read_request(request)
        q = parse_range_query(p, max_entries=None, max_points=srv.engine.limits_for(tenant).max_points)
        matchers = parse_selector(p.get("query"))
        stats = await run_in_threadpool(srv.store.index_stats, tenant, matchers, q.start, q.end)
        return json_response({k: int(stats.get(k, 0)) for k in ("streams", "chunks", "bytes", "entries")})

    async def volume(self, request: Request) -> Response:
        p, tenant = await self.server.read_request(request)
        start, end, limit = parse_volume_query(p)
        return await self._volume(p, tenant, start, end, limit, step=None)

    async def volume_range(self, request: Request) -> Response:
        srv = self.server
        p, tenant = await srv.read_request(request)
        q = parse_range_query(p, max_entries=None, max_points=srv.engine.limits_for(tenant).max_points, volume=True)
        return await self._volume(p, tenant, q.start, q.end, q.limit, step=q.step)

    async def _volume(self, p, tenant: str, start: int, end: int, limit: int, step: int | None) -> Response:
        aggregate_by = parse_aggregate_by(p.get("aggregateBy"))
        matchers = parse_selector(p.get("query"))
        targets = parse_target_labels(p.get("targetLabels"))
        check_span(start, end)
        began = time.perf_counter()
        rows = await run_in_threadpool(self.server.store.volume, tenant, matchers, start, end, step_ns=step)
        limit = min(limit, self.server.limits_for(tenant).volume_max_series)
        data = _volume_result(rows, matchers, targets, aggregate_by, limit, start, end, step)
        # Loki answers volume through its query path, so `data.stats` is there as for a query: the
        # index did the work (streams matched), no line was decompressed.
        stats = QueryStats()
        stats.streams = len(rows)
        data["stats"] = stats.to_json(exec_s=time.perf_counter() - began, entries_returned=0)
        return success(data)


def _label_list(items: list[str]) -> dict:
    # Loki quirk: with no values it leaves `data` out altogether.
    if not items:
        return {"status": "success"}
    return {"status": "success", "data": sorted(items)}


def _volume_keys(labels: LabelSet, matchers, targets: list[str], aggregate_by: str) -> list[tuple[str, LabelSet]]:
    """What a stream's bytes count towards, each as (Loki's name for it, the answer's metric).

    Loki (pkg/util/series_volume.go, the TSDB index's Volume): target labels the selector does not
    name must be on the stream (each becomes a `=~".+"` matcher). By series, a stream counts towards
    its labels among the targets, else among the selector's names: one entry per distinct set, named
    by its `{a="b"}` text. By labels, it counts towards each of its label names (only the targets'
    when there are targets), the metric being that name with an empty value."""
    named = {m.name for m in matchers}
    if any(t not in named and not labels.get(t) for t in targets):
        return []
    if aggregate_by == "labels":
        names = [n for n, _ in labels if not targets or n in targets]
        return [(n, LabelSet([(n, "")])) for n in names]
    wanted = set(targets or named)
    key = LabelSet((n, v) for n, v in labels if n in wanted)
    return [(str(key), key)] if key else []


def _volume_result(rows, matchers, targets, aggregate_by, limit, start, end, step):
    totals: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    metrics: dict[str, LabelSet] = {}
    for labels, ts, nbytes in rows:
        keys = _volume_keys(labels, matchers, targets, aggregate_by)
        if not keys:
            continue
        points = [(int(t), float(b)) for t, b in zip(np.asarray(ts).tolist(), np.asarray(nbytes).tolist()) if b]
        for name, metric in keys:
            metrics[name] = metric
            acc = totals[name]
            for t, b in points:
                acc[t] += b
    # Loki's order (seriesvolume.MapToVolumeResponse): most bytes first, then by name.
    grand = sorted(totals.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))[:limit]
    if step is None:
        result = [{"metric": dict(metrics[k]), "value": [_stamp(end), format_float(sum(v.values()))]}
                  for k, v in grand]
        return {"resultType": "vector", "result": result}
    result = []
    for k, v in grand:
        values = []
        for t, b in sorted(v.items()):
            # Loki quirk: a bucket is stamped 1 ms before its end; the last one at the query's end.
            stamp = min(t + step - 1_000_000, end) if t + step < end else end
            values.append([_stamp(stamp), format_float(b)])
        result.append({"metric": dict(metrics[k]), "values": values})
    return {"resultType": "matrix", "result": result}


def _stamp(ns: int) -> int | float:
    """A point's time as Prometheus writes it: milliseconds, an integer for whole seconds."""
    return timestamp_json(ns // 1_000_000)
