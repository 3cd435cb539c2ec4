"""The Starlette application: Loki's routes, error rendering, readiness and request metrics."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
import time
from contextlib import asynccontextmanager

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from logyard import __version__
from logyard.api import meta, query
from logyard.api.metrics import ServerMetrics
from logyard.api.tenant import tenant_of
from logyard.config.server import ServerConfig, parse_duration_ns, parse_size
from logyard.errors import ConfigError, LogyardError
from logyard.api.ingest_pool import DecodeOptions, Decoded, DecodePool, decode_body
from logyard.ingest.body import too_large
from logyard.storage.store import Store

log = logging.getLogger("logyard.api")

JSON_TYPE = "application/json; charset=UTF-8"


def json_response(payload, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type=JSON_TYPE)


def error_response(exc: LogyardError) -> Response:
    return PlainTextResponse(exc.message, status_code=exc.status)


class Server:
    """Holds the store, the engine and the metrics for the routes; opens the store off the event loop."""

    def __init__(self, cfg: ServerConfig) -> None:
        self.cfg = cfg
        lim = cfg.limits
        self.max_line_size = parse_size(lim.max_line_size)
        self.max_recv_msg_size = parse_size(cfg.distributor.max_recv_msg_size)
        self.store = Store(
            cfg.storage.data_dir,
            # 0s means "keep forever", as in Loki; the store only knows a period, so make it endless.
            retention_ns=parse_duration_ns(lim.retention_period) or (1 << 62),
            block_window_ns=parse_duration_ns(cfg.storage.block_window),
            head_max_bytes=parse_size(cfg.storage.head_max_bytes),
            head_max_age_s=parse_duration_ns(cfg.storage.head_max_age) / 1e9,
            wal_fsync=cfg.storage.wal_fsync,
        )
        self.metrics = ServerMetrics(self._sizes, self.store.recovery.as_dict)
        self.decode_options = DecodeOptions(
            max_line_size=self.max_line_size,
            discover_service_name=tuple(lim.discover_service_name),
            discover_log_levels=lim.discover_log_levels,
            max_age_ns=parse_duration_ns(lim.reject_old_samples_max_age) if lim.reject_old_samples else None,
            grace_ns=parse_duration_ns(lim.creation_grace_period),
            max_decompressed_size=parse_size(cfg.distributor.max_decompressed_size),
        )
        self.decode_pool = DecodePool(cfg.server.decode_workers, nice=cfg.server.decode_nice)
        self.ready = threading.Event()
        self.open_error: BaseException | None = None
        from logyard.logql.engine import Engine, Limits

        self.engine = Engine(self.store, Limits(
            max_entries=lim.max_entries_limit_per_query,
            max_series=lim.max_query_series,
            max_points=lim.max_query_points,
            max_query_length_ns=parse_duration_ns(lim.max_query_length),
        ))
        self.query_timeout_ns = parse_duration_ns(lim.query_timeout) or None  # 0s: no timeout

    def _sizes(self) -> dict[str, int]:
        return self.store.sizes() if self.ready.is_set() else {}

    def open(self) -> None:
        """Replay the WAL while the decode workers start; ready once both are done."""
        t0 = time.monotonic()
        warm = threading.Thread(target=self.decode_pool.start_workers, name="decode-start", daemon=True)
        warm.start()
        try:
            self.store.open()
            self.store.start_background()
            warm.join()
        except (ConfigError, OSError, sqlite3.OperationalError) as exc:
            # a locked, unwritable or incompatible data dir: nothing to serve, say so in one line and stop
            reason = exc.message if isinstance(exc, ConfigError) else str(exc)
            log.error("cannot use the data directory %s: %s", self.cfg.storage.data_dir, reason)
            # The workers watch this pid, which stays until our parent reaps it; they hold our
            # stderr meanwhile, so whoever reads it to the end would wait on them. End them first.
            warm.join()
            self.decode_pool.shutdown()
            logging.shutdown()
            os._exit(2)
        except BaseException as exc:  # reported by /ready and logged; the process keeps serving errors
            self.open_error = exc
            log.exception("opening the data directory failed")
            return
        log.info("storage ready in %.2fs (WAL replayed)", time.monotonic() - t0)
        self.ready.set()

    def close(self) -> None:
        self.decode_pool.shutdown()
        if self.ready.is_set():
            self.store.close()

    def tenant(self, request: Request) -> str:
        return tenant_of(request.headers, self.cfg.auth_enabled)

    def require_ready(self) -> None:
        if not self.ready.is_set():
            raise LogyardError("Ingester not ready: waiting for the WAL replay to finish", status=503)

    # --- push -------------------------------------------------------------------------------
    async def push(self, request: Request) -> Response:
        self.require_ready()
        tenant = self.tenant(request)
        body = await self._read_body(request, tenant)
        args = (tenant, body, request.headers.get("content-type"), request.headers.get("content-encoding"),
                self.decode_options)
        future = self.decode_pool.submit(*args)
        if future is None:
            decoded = await run_in_threadpool(decode_body, *args)
        else:
            try:
                decoded = await asyncio.wrap_future(future)
            except asyncio.CancelledError:
                future.add_done_callback(self.decode_pool.discard)  # the client went away
                raise
        payload = self.decode_pool.payload(decoded)
        if payload is not None:
            await run_in_threadpool(self.store.append_prepared, payload)
        self._count(tenant, decoded)
        if decoded.error is not None:
            # Loki stores the valid entries of a push and still answers 400 for the invalid ones.
            raise LogyardError(decoded.error[1], status=decoded.error[0])
        return Response(status_code=204)

    async def _read_body(self, request: Request, tenant: str) -> bytearray:
        """The body, refused with Loki's 413 once it passes `distributor.max_recv_msg_size`: from its
        Content-Length before reading, else as soon as that many bytes came. One buffer, grown in
        place (no list of chunks joined at the end: that held the body twice)."""
        limit = self.max_recv_msg_size
        length = request.headers.get("content-length", "")
        if limit and length.isdigit() and int(length) > limit:
            self._refused_too_large(tenant, int(length))
            raise too_large(int(length), limit)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if limit and len(body) > limit:
                self._refused_too_large(tenant, len(body))
                raise too_large(limit + 1, limit)  # as Loki counts: it reads one byte past the limit
        return body

    def _refused_too_large(self, tenant: str, size: int) -> None:
        # Loki counts such a body's bytes as discarded, reason request_body_too_large.
        self.metrics.discarded_bytes.labels("request_body_too_large", tenant).inc(size)

    def _count(self, tenant: str, d: Decoded) -> None:
        for reason, n in d.discarded.items():
            self.metrics.discarded.labels(reason, tenant).inc(n)
        for reason, n in d.discarded_bytes.items():
            self.metrics.discarded_bytes.labels(reason, tenant).inc(n)
        self.metrics.lines_received.labels(tenant).inc(d.lines)
        self.metrics.bytes_received.labels(tenant).inc(d.bytes)

    # --- small endpoints --------------------------------------------------------------------
    async def ready_route(self, request: Request) -> Response:
        if self.ready.is_set():
            return PlainTextResponse("ready\n")
        if self.open_error is not None:
            return PlainTextResponse(f"storage failed to open: {self.open_error}\n", status_code=503)
        return PlainTextResponse("Ingester not ready: waiting for the WAL replay to finish\n", status_code=503)

    async def metrics_route(self, request: Request) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(self.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def config_route(self, request: Request) -> Response:
        import yaml

        doc = self.cfg.model_dump(mode="json")
        return PlainTextResponse(yaml.safe_dump(doc, sort_keys=False), media_type="text/plain; charset=utf-8")

    async def buildinfo(self, request: Request) -> Response:
        return json_response({"version": __version__, "revision": "", "branch": "main",
                              "buildUser": "", "buildDate": "", "goVersion": ""})

    async def flush_route(self, request: Request) -> Response:
        self.require_ready()
        await run_in_threadpool(self.store.flush)
        return Response(status_code=204)


def create_app(cfg: ServerConfig) -> Starlette:
    server = Server(cfg)

    @asynccontextmanager
    async def lifespan(app):
        t = threading.Thread(target=server.open, name="store-open", daemon=True)
        t.start()
        yield
        await run_in_threadpool(t.join)
        await run_in_threadpool(server.close)

    q = query.QueryRoutes(server)
    m = meta.MetaRoutes(server)
    routes = [
        Route("/loki/api/v1/push", server.push, methods=["POST"]),
        Route("/api/prom/push", server.push, methods=["POST"]),
        Route("/loki/api/v1/query_range", q.query_range, methods=["GET", "POST"]),
        Route("/loki/api/v1/query", q.query, methods=["GET", "POST"]),
        Route("/loki/api/v1/labels", m.labels, methods=["GET", "POST"]),
        Route("/loki/api/v1/label", m.labels, methods=["GET", "POST"]),
        Route("/loki/api/v1/label/{name}/values", m.label_values, methods=["GET", "POST"]),
        Route("/loki/api/v1/series", m.series, methods=["GET", "POST"]),
        Route("/loki/api/v1/index/stats", m.index_stats, methods=["GET", "POST"]),
        Route("/loki/api/v1/index/volume", m.volume, methods=["GET", "POST"]),
        Route("/loki/api/v1/index/volume_range", m.volume_range, methods=["GET", "POST"]),
        Route("/loki/api/v1/status/buildinfo", server.buildinfo),
        Route("/ready", server.ready_route),
        Route("/metrics", server.metrics_route),
        Route("/config", server.config_route),
        Route("/flush", server.flush_route, methods=["POST"]),
    ]

    async def on_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, LogyardError):
            if exc.status >= 500:
                log.error("%s %s: %s", request.method, request.url.path, exc.message)
            else:
                log.info("%s %s -> %d: %s", request.method, request.url.path, exc.status, exc.message)
            return error_response(exc)
        log.exception("internal error on %s %s", request.method, request.url.path)
        return PlainTextResponse(f"internal error: {exc}", status_code=500)

    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={LogyardError: on_error, Exception: on_error})
    app.state.server = server
    _instrument(app, server)
    return app


def _instrument(app: Starlette, server: Server) -> None:
    """Request-duration histogram per route template and status, as Loki's loki_request_duration_seconds."""

    inner = app.build_middleware_stack

    def build():
        stack = inner()

        async def timed(scope, receive, send):
            if scope["type"] != "http":
                return await stack(scope, receive, send)
            t0 = time.perf_counter()
            status = {"code": 500}

            async def send_wrapper(message):
                if message["type"] == "http.response.start":
                    status["code"] = message["status"]
                await send(message)

            try:
                await stack(scope, receive, send_wrapper)
            finally:
                route = _route_name(scope.get("path", ""))
                server.metrics.request_duration.labels(
                    scope.get("method", ""), route, str(status["code"])).observe(time.perf_counter() - t0)

        return timed

    app.build_middleware_stack = build  # type: ignore[method-assign]


def _route_name(path: str) -> str:
    if path.startswith("/loki/api/v1/label/") and path.endswith("/values"):
        return "loki_api_v1_label_name_values"
    return path.strip("/").replace("/", "_") or "root"
