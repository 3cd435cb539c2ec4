"""`/loki/api/v1/push` (and Loki's legacy `/api/prom/push`) and `/otlp/v1/logs`: read the body within
Loki's size limit, decode it in a worker process under the tenant's limits, apply the rate and stream
limits (ingest_limits.py), write the payload to the WAL and the head, count what was taken and what
was discarded.

OTLP differs only in the decoding (DecodeOptions.otlp, from the tenant's otlp_config) and in how
errors leave: as the OTLP/HTTP spec asks, a protobuf `google.rpc.Status` holding Loki's text, and 503
for a 500 (clients retry a 503, not a 500). A tenant refused is still Loki's plain 401: that answer
comes before the handler.
"""

from __future__ import annotations

import asyncio
import dataclasses

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from logyard.api.ingest_limits import IngestLimits
from logyard.api.ingest_pool import DecodeOptions, Decoded, decode_body
from logyard.api.responses import no_content
from logyard.api.server import Server
from logyard.config.server import LimitsSection, parse_duration_ns, parse_size
from logyard.errors import LogyardError
from logyard.ingest.body import too_large
from logyard.storage.wal import decode_record


def decode_options(lim: LimitsSection, max_decompressed_size: int) -> DecodeOptions:
    """What a decode worker needs of a tenant's limits."""
    return DecodeOptions(
        max_line_size=parse_size(lim.max_line_size),
        discover_service_name=tuple(lim.discover_service_name),
        discover_log_levels=lim.discover_log_levels,
        max_age_ns=parse_duration_ns(lim.reject_old_samples_max_age) if lim.reject_old_samples else None,
        grace_ns=parse_duration_ns(lim.creation_grace_period),
        max_decompressed_size=max_decompressed_size,
        max_label_names_per_series=lim.max_label_names_per_series,
        max_label_name_length=lim.max_label_name_length,
        max_label_value_length=lim.max_label_value_length,
        max_structured_metadata_size=parse_size(lim.max_structured_metadata_size),
        max_structured_metadata_count=lim.max_structured_metadata_entries_count,
        max_line_size_truncate=lim.max_line_size_truncate,
    )

OTLP_LOGS_PATH = "/otlp/v1/logs"


class PushRoutes:
    def __init__(self, server: Server) -> None:
        self.server = server
        cfg = server.cfg
        lim = cfg.limits
        self.max_recv_msg_size = parse_size(cfg.distributor.max_recv_msg_size)
        self.max_decompressed_size = parse_size(cfg.distributor.max_decompressed_size)
        self.decode_options = decode_options(lim, self.max_decompressed_size)
        self.otlp_options = dataclasses.replace(self.decode_options, otlp=lim.otlp_config.rules())
        # Per tenant with an override: (overrides generation, options); rebuilt when the file changes.
        self._tenant_options: dict[tuple[str, bool], tuple[int, DecodeOptions]] = {}

    def options_for(self, tenant: str, lim: LimitsSection, otlp: bool) -> DecodeOptions:
        if lim is self.server.overrides.base:
            return self.otlp_options if otlp else self.decode_options
        generation = self.server.overrides.generation
        cached = self._tenant_options.get((tenant, otlp))
        if cached is None or cached[0] != generation:
            options = decode_options(lim, self.max_decompressed_size)
            if otlp:
                options = dataclasses.replace(options, otlp=lim.otlp_config.rules())
            cached = self._tenant_options[(tenant, otlp)] = (generation, options)
        return cached[1]

    def routes(self) -> list[Route]:
        return [
            Route("/loki/api/v1/push", self.push, methods=["POST"]),
            Route("/api/prom/push", self.push, methods=["POST"]),
            Route(OTLP_LOGS_PATH, self.otlp_push, methods=["POST"]),
        ]

    async def push(self, request: Request) -> Response:
        self.server.require_accepting()
        return await self._ingest(request, self.server.tenant(request), otlp=False)

    async def otlp_push(self, request: Request) -> Response:
        self.server.require_accepting()
        tenant = self.server.tenant(request)
        try:
            return await self._ingest(request, tenant, otlp=True)
        except LogyardError as exc:
            return otlp_error(exc)

    async def _ingest(self, request: Request, tenant: str, *, otlp: bool) -> Response:
        srv = self.server
        lim = srv.limits_for(tenant)
        body = await self._read_body(request, tenant)
        args = (tenant, body, request.headers.get("content-type"), request.headers.get("content-encoding"),
                self.options_for(tenant, lim, otlp))
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
        self._count(tenant, decoded)
        refused = None
        if payload is not None:
            refused = await self._store(tenant, lim, decoded, payload)
        if refused is not None:
            # The stream limits' 429 wins over validation's 400, as Loki's ingester error does.
            raise refused
        if decoded.error is not None:
            # Loki stores the valid entries of a push and still answers 400 for the invalid ones.
            raise LogyardError(decoded.error[1], status=decoded.error[0])
        return no_content()

    async def _store(self, tenant: str, lim: LimitsSection, decoded: Decoded, payload) -> LogyardError | None:
        """Append the decoded push within the tenant's rate and stream limits; the 429 to answer with."""
        srv = self.server
        limits = srv.ingest_limits
        refused = limits.check_tenant_rate(tenant, lim, decoded.lines, decoded.bytes)
        if refused is not None:
            # Loki's distributor refuses the whole push: every entry it would have kept is discarded.
            self._discard(tenant, {"rate_limited": decoded.lines}, {"rate_limited": decoded.bytes})
            raise refused
        if not IngestLimits.has_stream_limits(lim):
            await run_in_threadpool(srv.store.append_prepared, payload)
            return None
        rec = decode_record(payload, "push")
        admitted = limits.admit_streams(tenant, lim, rec)
        self._discard(tenant, admitted.discarded, admitted.discarded_bytes)
        if admitted.record is not None:
            kept = payload if admitted.record is rec else None
            await run_in_threadpool(srv.store.append_record, admitted.record, kept)
        return admitted.error

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
        self._discard(tenant, d.discarded, d.discarded_bytes)
        if d.truncated:
            metrics.mutated.labels("line_too_long", tenant).inc(d.truncated)
            metrics.mutated_bytes.labels("line_too_long", tenant).inc(d.truncated_bytes)
        metrics.lines_received.labels(tenant).inc(d.lines)
        metrics.bytes_received.labels(tenant).inc(d.bytes)

    def _discard(self, tenant: str, lines: dict[str, int], nbytes: dict[str, int]) -> None:
        metrics = self.server.metrics
        for reason, n in lines.items():
            metrics.discarded.labels(reason, tenant).inc(n)
        for reason, n in nbytes.items():
            metrics.discarded_bytes.labels(reason, tenant).inc(n)


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
