"""A small application instrumented with the real OpenTelemetry SDK, logging through its
OTLPLogExporter (protobuf over HTTP) to a logyard server, inside a trace span.

Run: python -m tests.api.otlp_app URL TENANT COMPRESSION (none or gzip). It logs three records
(info, warning, error with a `user.id` attribute), flushes, and prints the span's trace and span
ids (hex) and trace flags so the test can look for them; it exits 1 if the exporter reports a failure.
"""

from __future__ import annotations

import logging
import sys

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import LogRecordExportResult, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

RESOURCE = {"service.name": "checkout", "service.namespace": "shop", "service.instance.id": "checkout-1",
            "k8s.pod.name": "checkout-7d9f", "host.name": "node-1"}


class _Recording(OTLPLogExporter):
    """The real exporter, remembering whether any export failed (it only logs failures)."""

    failed = False

    def export(self, batch):
        result = super().export(batch)
        if result != LogRecordExportResult.SUCCESS:
            _Recording.failed = True
        return result


def main() -> int:
    url, tenant, compression = sys.argv[1], sys.argv[2], sys.argv[3]
    exporter = _Recording(endpoint=url + "/otlp/v1/logs", headers={"X-Scope-OrgID": tenant}, timeout=10,
                          compression=Compression.Gzip if compression == "gzip" else Compression.NoCompression)
    provider = LoggerProvider(resource=Resource.create(RESOURCE))
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    log = logging.getLogger("shop.checkout")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(LoggingHandler(level=logging.INFO, logger_provider=provider))

    tracer = TracerProvider().get_tracer("shop.checkout")
    with tracer.start_as_current_span("pay") as span:
        log.info("cart loaded")
        log.warning("slow payment provider")
        log.error("payment declined", extra={"user.id": "42"})
        ctx = span.get_span_context()
    provider.force_flush()
    provider.shutdown()
    print(f"{ctx.trace_id:032x} {ctx.span_id:016x} {int(ctx.trace_flags)}")
    return 1 if _Recording.failed else 0


if __name__ == "__main__":
    sys.exit(main())
