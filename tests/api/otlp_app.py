"""A small application instrumented with the real OpenTelemetry SDK, logging through one of its OTLP HTTP
log exporters to a logyard server, inside a trace span.

Run: python -m tests.api.otlp_app URL TENANT ENCODING COMPRESSION, ENCODING `proto`
(opentelemetry-exporter-otlp-proto-http, SimpleLogRecordProcessor) or `json`
(opentelemetry-exporter-otlp-json-http, BatchLogRecordProcessor), COMPRESSION `none` or `gzip`. It logs
three records (info, warning, error with `user.id` and `retries` attributes), flushes, and prints the
span's trace and span ids (hex) and trace flags so the test can look for them; it exits 1 if the
exporter reports a failure.
"""

from __future__ import annotations

import logging
import sys

from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExportResult, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

RESOURCE = {"service.name": "checkout", "service.namespace": "shop", "service.instance.id": "checkout-1",
            "k8s.pod.name": "checkout-7d9f", "k8s.namespace.name": "prod", "deployment.environment": "staging",
            "host.name": "node-1", "shop.build": 1234}


def exporter_class(encoding: str):
    """The real exporter of `encoding`, remembering whether any export failed (it only logs failures)."""
    if encoding == "json":
        from opentelemetry.exporter.otlp.common.http import Compression
        from opentelemetry.exporter.otlp.json.http._log_exporter import OTLPLogExporter

        gzip, plain = Compression.GZIP, Compression.NONE
    else:
        from opentelemetry.exporter.otlp.proto.http import Compression
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

        gzip, plain = Compression.Gzip, Compression.NoCompression

    class Recording(OTLPLogExporter):
        failed = False

        def export(self, batch):
            result = super().export(batch)
            if result != LogRecordExportResult.SUCCESS:
                Recording.failed = True
            return result

    return Recording, {"gzip": gzip, "none": plain}


def main() -> int:
    url, tenant, encoding, compression = sys.argv[1:5]
    cls, compressions = exporter_class(encoding)
    exporter = cls(endpoint=url + "/otlp/v1/logs", headers={"X-Scope-OrgID": tenant}, timeout=10,
                   compression=compressions[compression])
    processor = BatchLogRecordProcessor(exporter) if encoding == "json" else SimpleLogRecordProcessor(exporter)
    provider = LoggerProvider(resource=Resource.create(RESOURCE))
    provider.add_log_record_processor(processor)
    log = logging.getLogger("shop.checkout")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(LoggingHandler(level=logging.INFO, logger_provider=provider))

    tracer = TracerProvider().get_tracer("shop.checkout")
    with tracer.start_as_current_span("pay") as span:
        log.info("cart loaded")
        log.warning("slow payment provider")
        log.error("payment declined", extra={"user.id": "42", "retries": 3})
        ctx = span.get_span_context()
    provider.force_flush()
    provider.shutdown()
    print(f"{ctx.trace_id:032x} {ctx.span_id:016x} {int(ctx.trace_flags)}")
    return 1 if cls.failed else 0


if __name__ == "__main__":
    sys.exit(main())
