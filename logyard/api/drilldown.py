"""What Grafana's Logs Drilldown asks besides queries: detected labels, detected fields and their
values, log patterns, the tenant's limits, and LogQL formatting.

Parameters are parsed in the order Loki's parse functions check them (pkg/loghttp: detected.go's
ParseDetectedFieldsQuery, labels.go's ParseDetectedLabelsQuery, patterns.go's ParsePatternsQuery)
and answers have the shapes Loki's marshallers give them: detected_* answers are bare objects
(no status envelope) whose empty lists are left out; patterns answer in the usual envelope.
"""

from __future__ import annotations

import re
import uuid

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import logyard
from logyard.api.params import (END_BEFORE_START, parse_duration_or_seconds, parse_matchers_param, parse_range,
                                request_params)
from logyard.api.query import run_query
from logyard.api.responses import json_response, success
from logyard.api.server import Server
from logyard.errors import BadRequestError, LimitError, LogyardError
from logyard.ingest.level import LEVEL_FIELDS
from logyard.labels import quote
from logyard.logql import detected, patterns
from logyard.logql.deadline import Deadline
from logyard.logql.metric.steps import check_step, default_step_ns
from logyard.logql.pretty import prettify
from logyard.logql.syntax import ast
from logyard.logql.syntax.parser import parse

DEFAULT_LINE_LIMIT = 100
DEFAULT_FIELD_LIMIT = 1000
UINT32_MAX = (1 << 32) - 1
ONLY_LOG_SELECTOR = "only log selector is supported"
# Loki keeps these of a detected label even when all its values look like ids.
STATIC_LABELS = frozenset(("cluster", "namespace", "instance", "pod"))
_INT = re.compile(r"[+-]?[0-9]+")


def _atoi(value: str | None, default: int) -> int:
    """Loki's parseInt: Go's strconv.Atoi, its error text as it is."""
    if value is None or value == "":
        return default
    if not _INT.fullmatch(value):
        raise BadRequestError(f"strconv.Atoi: parsing {quote(value)}: invalid syntax")
    n = int(value)
    if not -(1 << 63) <= n < (1 << 63):
        raise BadRequestError(f"strconv.Atoi: parsing {quote(value)}: value out of range")
    return n


def parse_line_limit(value: str | None) -> int:
    n = _atoi(value, DEFAULT_LINE_LIMIT)
    if n <= 0:
        raise BadRequestError("limit must be a positive value")
    if n > UINT32_MAX:
        raise BadRequestError(f"line_limit value {n} is out of range [0, {UINT32_MAX}]")
    return n


def parse_field_limit(params) -> int:
    """`limit`, or `field_limit` (its older name) when `limit` is absent; 1000 by default."""
    value = params.get("limit") or params.get("field_limit")
    n = _atoi(value, DEFAULT_FIELD_LIMIT)
    if n <= 0:
        raise BadRequestError("limit must be a positive value")
    if n > UINT32_MAX:
        raise BadRequestError(f"limit value {n} is out of range [0, {UINT32_MAX}]")
    return n


def parse_step(params, start: int, end: int, max_points: int) -> int:
    value = params.get("step")
    step = parse_duration_or_seconds(value, "step") if value else default_step_ns(start, end)
    check_step(start, end, step, max_points)
    return step


def should_reject_label(values: list[str]) -> bool:
    """Loki's shouldRejectLabel: a label none of whose values is more than an id (a number or a
    UUID) says nothing to group by; `0`/`1` alone are booleans, kept."""
    if not values:
        return True
    if len(values) <= 2 and all(v in ("0", "1") for v in values):
        return False
    return all(_is_id(v) for v in values)


def _is_id(value: str) -> bool:
    if detected.is_float(value):
        return True
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


class DrilldownRoutes:
    def __init__(self, server: Server) -> None:
        self.server = server

    def routes(self) -> list[Route]:
        get_post = ["GET", "POST"]
        return [
            Route("/loki/api/v1/detected_labels", self.detected_labels, methods=get_post),
            Route("/loki/api/v1/detected_fields", self.detected_fields, methods=get_post),
            Route("/loki/api/v1/detected_field/{name}/values", self.detected_field_values, methods=get_post),
            Route("/loki/api/v1/patterns", self.patterns, methods=get_post),
            Route("/loki/api/v1/drilldown-limits", self.drilldown_limits, methods=["GET"]),
            Route("/loki/api/v1/format_query", self.format_query, methods=get_post),
        ]

    # --- detected labels ------------------------------------------------------------------------
    async def detected_labels(self, request: Request) -> Response:
        p, tenant = await self.server.read_request(request)
        start, end = parse_range(p)
        if end < start:
            raise BadRequestError(END_BEFORE_START)
        matchers = parse_matchers_param(p.get("query"))
        found = await run_in_threadpool(self._label_values, tenant, start, end, matchers)
        labels = [{"label": name, "cardinality": len(values)} for name, values in sorted(found.items())
                  if (name in STATIC_LABELS and values) or not should_reject_label(values)]
        return json_response({"detectedLabels": labels} if labels else {})

    def _label_values(self, tenant: str, start: int, end: int, matchers) -> dict[str, list[str]]:
        store = self.server.store
        return {name: store.label_values(tenant, name, start, end, matchers)
                for name in store.label_names(tenant, start, end, matchers)}

    # --- detected fields ------------------------------------------------------------------------
    async def _fields_request(self, request: Request):
        """ParseDetectedFieldsQuery, then the codec's and the handler's checks of the query."""
        srv = self.server
        p, tenant = await srv.read_request(request)
        query = p.get("query") or ""
        start, end = parse_range(p)
        if end < start:
            raise BadRequestError(END_BEFORE_START)
        line_limit = parse_line_limit(p.get("line_limit"))
        limit = parse_field_limit(p)
        limits = srv.engine.limits_for(tenant)
        parse_step(p, start, end, limits.max_points)
        expr = parse(query)
        if not ast.is_log_query(expr):
            raise BadRequestError(ONLY_LOG_SELECTOR)
        max_entries = limits.max_entries
        if line_limit > max_entries:
            raise LimitError(f"max entries limit per query exceeded, limit > max_entries_limit_per_query "
                             f"({line_limit} > {max_entries})")
        deadline = Deadline(srv.query_timeout_ns(tenant))
        entries = await run_query(request, deadline, detected.select_entries, srv.store, tenant, expr, start, end,
                                  line_limit)
        return entries, limit

    async def detected_fields(self, request: Request) -> Response:
        entries, limit = await self._fields_request(request)
        fields = detected.detected_fields(entries, limit)
        # Loki gives the limit only with some fields ("otherwise all they get is the field limit").
        return json_response({"fields": fields, "limit": limit} if fields else {})

    async def detected_field_values(self, request: Request) -> Response:
        entries, limit = await self._fields_request(request)
        values = detected.field_values(entries, request.path_params["name"], limit)
        return json_response({"values": values, "limit": limit} if values else {})

    # --- patterns -------------------------------------------------------------------------------
    async def patterns(self, request: Request) -> Response:
        srv = self.server
        p, tenant = await srv.read_request(request)
        start, end = parse_range(p)
        step = parse_step(p, start, end, srv.engine.limits_for(tenant).max_points)
        matchers = parse_matchers_param(p.get("query")) or []
        deadline = Deadline(srv.query_timeout_ns(tenant))
        data = await run_query(request, deadline, patterns.query_patterns, srv.store, tenant, matchers, start, end,
                               step)
        return success(data)

    # --- limits and formatting ------------------------------------------------------------------
    async def drilldown_limits(self, request: Request) -> Response:
        tenant = self.server.tenant(request)  # a bad tenant is Loki's 401
        lim = self.server.limits_for(tenant)  # what is in force for this tenant, overrides included
        limits = {
            "discover_log_levels": lim.discover_log_levels,
            "discover_service_name": list(lim.discover_service_name),
            "max_entries_limit_per_query": lim.max_entries_limit_per_query,
            "max_query_length": str(lim.max_query_length),
            "max_query_series": lim.max_query_series,
            "query_timeout": str(lim.query_timeout),
            "retention_period": str(lim.retention_period),
            "volume_enabled": True,
            "volume_max_series": lim.volume_max_series,
            # Fixed behaviours, in the shape Drilldown's LokiConfig reads: the level fields ingest looks
            # at, over-long lines refused (not truncated), no byte/lookback/range caps beyond
            # max_query_length, no pattern persistence or metric aggregation.
            "log_level_fields": list(LEVEL_FIELDS),
            "max_line_size_truncate": False,
            "max_query_bytes_read": 0,
            "max_query_lookback": "0s",
            "max_query_range": "0s",
            "metric_aggregation_enabled": False,
            "pattern_persistence_enabled": False,
            "otlp_config": lim.otlp_config.loki_json(),
        }
        # Patterns are computed when asked (there is no pattern ingester to enable).
        return json_response({"limits": limits, "pattern_ingester_enabled": True, "version": logyard.__version__})

    async def format_query(self, request: Request) -> Response:
        p = await request_params(request)
        try:
            text = prettify(parse(p.get("query") or ""))
        except LogyardError as exc:
            return json_response({"status": "invalid-query", "error": exc.message}, status=400)
        return json_response({"status": "success", "data": text})


__all__ = ["DrilldownRoutes"]
