"""`/loki/api/v1/push` (and Loki's legacy `/api/prom/push`) and `/otlp/v1/logs`: read the body within
Loki's size limit, decode it in a worker process, write the payload to the WAL and the head, count
what was taken and what was discarded.

OTLP differs only in the decoding (DecodeOptions.otlp) and in how errors leave: as the OTLP/HTTP
spec asks, a protobuf `google.rpc.Status` holding Loki's text, and 503 for a 500 (clients retry
a 503, not a 500). A tenant refused is still Loki's plain 401: that answer comes before the handler.
"""

from __future__ import annotations

import asyncio
import dataclasses

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from logyard.api.ingest_pool import DecodeOptions, Decoded, decode_body
from logyard.api.responses import no_content
from logyard.api.server import Server
from logyard.config.server import parse_duration_ns, parse_size
from logyard.errors import LogyardError
from logyard.ingest.body import too_large

OTLP_LOGS_PATH = "/otlp/v1/logs"


class PushRoutes:
    def __init__(self, server: Server) -> None:
        self.server = server
        cfg = server.cfg
        lim = cfg.limits
        self.max_recv_msg_size = parse_size(cfg.distributor.max_recv_msg_size)
        self.decode_options = DecodeOptions(
            max_line_size=parse_size(lim.max_line_size),
            discover_service_name=tuple(lim.discover_service_name),
            discover_log_levels=lim.discover_log_levels,
            max_age_ns=parse_duration_ns(lim.reject_old_samples_max_age) if lim.reject_old_samples else None,
            grace_ns=parse_duration_ns(lim.creation_grace_period),
            max_decompressed_size=parse_size(cfg.distributor.max_decompressed_size),
        )
        self.otlp_options = dataclasses.replace(self.decode_options, otlp=lim.otlp_config.rules())

    def routes(self) -> list[Route]:
        return [
            Route("/loki/api/v1/push", self.push, methods=["POST"]),
            Route("/api/prom/push", self.push, methods=["POST"]),
            Route(OTLP_LOGS_PATH, self.otlp_push, methods=["POST"]),
        ]

    async def push(self, request: Request) -> Response:
        self.server.require_ready()
        return await self._ingest(request, self.server.tenant(request), self.decode_options)

    async def otlp_push(self, request: Request) -> Response:
        self.server.require_ready()
        tenant = self.server.tenant(request)
        try:
            return await self._ingest(request, tenant, self.otlp_options)
        except LogyardError as exc:
            return otlp_error(exc)

    async def _ingest(self, request: Request, tenant: str, options: DecodeOptions) -> Response:
        srv = self.server
        body = await self._read_body(request, tenant)
        args = (tenant, body, request.headers.get("content-type"), request.headers.get("content-encoding"),
                options)
        pool = srv.decode_pool
        future = pool.submit(*args)
        if future is None:
            decoded = await run_in_threadpool(decode_body, *args)
        else:
            try:
                decoded = await asyncio.wrap_future(future)
            except asyncio.CancelledError:
                future.add_done_callback(pool.discard)  # the client went away
                raise
        payload = pool.payload(decoded)
        if payload is not None:
            await run_in_threadpool(srv.store.append_prepared, payload)
        self._count(tenant, decoded)
        if decoded.error is not None:
            # Loki stores the valid entries of a push and still answers 400 for the invalid ones.
            raise LogyardError(decoded.error[1], status=decoded.error[0])
        return no_content()

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
        self.server.metrics.discarded_bytes.labels("request_body_too_large", tenant).inc(size)

    def _count(self, tenant: str, d: Decoded) -> None:
        metrics = self.server.metrics
        for reason, n in d.discarded.items():
            metrics.discarded.labels(reason, tenant).inc(n)
        for reason, n in d.discarded_bytes.items():
            metrics.discarded_bytes.labels(reason, tenant).inc(n)
        metrics.lines_received.labels(tenant).inc(d.lines)
        metrics.bytes_received.labels(tenant).inc(d.bytes)


def otlp_error(exc: LogyardError) -> Response:
    """Loki's OTLP error answer: a google.rpc.Status (code 0, left out; message = Loki's text)."""
    message = exc.message.encode()
    status = 503 if exc.status == 500 else exc.status
    return Response(b"\x12" + _varint(len(message)) + message, status_code=status,
                    media_type="application/octet-stream")


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)
