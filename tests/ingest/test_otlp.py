"""OTLP bodies → requests (otlp.py, otlp_wire.py): encodings, content types, OTLP/JSON's own rules, and
the Collector's texts for protobuf it refuses."""

from __future__ import annotations

import gzip

import cramjam
import orjson
import pytest

from logyard.errors import BadRequestError, TooLargeError
from logyard.ingest.otlp import parse_otlp
from logyard.ingest.otlp_wire import go_proto_error

PROTO, JSON = "application/x-protobuf", "application/json"
TRACE = "5b8efff798038103d269b633813fc60c"


def json_body(record: dict) -> bytes:
    return orjson.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [record]}]}]})


def only_record(req):
    return req.resource_logs[0].scope_logs[0].log_records[0]


def test_json_ids_are_hex_and_enums_may_be_numbers_or_names():
    for severity in (9, "SEVERITY_NUMBER_INFO"):
        rec = only_record(parse_otlp(json_body({"traceId": TRACE, "spanId": "eee19b7ec3c1b174",
                                                "severityNumber": severity, "timeUnixNano": "5"}), JSON, None))
        assert rec.trace_id.hex() == TRACE and rec.span_id.hex() == "eee19b7ec3c1b174"
        assert rec.severity_number == 9 and rec.time_unix_nano == 5


def test_json_reads_the_proto_field_names_too_and_ignores_unknown_fields():
    body = orjson.dumps({"resource_logs": [{"scope_logs": [{"log_records": [
        {"trace_id": TRACE, "time_unix_nano": 7, "novel": 1}]}]}]})
    rec = only_record(parse_otlp(body, JSON, None))
    assert rec.trace_id.hex() == TRACE and rec.time_unix_nano == 7


@pytest.mark.parametrize("ids", [{"traceId": "zz"}, {"traceId": "abcd"}, {"spanId": TRACE}])
def test_json_ids_that_are_not_hex_of_the_right_length_are_a_400(ids):
    with pytest.raises(BadRequestError, match="^parse "):
        parse_otlp(json_body(ids), JSON, None)


@pytest.mark.parametrize("body", [b"{", b'{"resourceLogs": [{"scopeLogs": 3}]}', b'{"resourceLogs": [1]}'])
def test_malformed_json_is_a_400(body):
    with pytest.raises(BadRequestError):
        parse_otlp(body, JSON, None)


@pytest.mark.parametrize("body,text", [
    (b"", "ReadObject: expect { or , or } or n, but found \x00, error found in #0 byte of ...||..., bigger context ...||..."),
    (b" [1]", "ReadObject: expect { or , or } or n, but found [, error found in #2 byte of ...| [1]|..., bigger context ...| [1]|..."),
    (b"x" * 70, "ReadObject: expect { or , or } or n, but found x, error found in #1 byte of ...|" + "x" * 11
     + "|..., bigger context ...|" + "x" * 51 + "|..."),
])
def test_json_that_is_not_an_object_gets_the_collectors_text(body, text):
    with pytest.raises(BadRequestError) as exc:
        parse_otlp(body, JSON, None)
    assert exc.value.message == text


@pytest.mark.parametrize("body", [b"null", b" {}", b"}"])
def test_json_null_or_empty_object_holds_no_logs(body):
    assert parse_otlp(body, JSON, None).resource_logs == []


@pytest.mark.parametrize("encoding,pack", [
    ("gzip", gzip.compress), ("zstd", lambda b: bytes(cramjam.zstd.compress(b))),
    ("lz4", lambda b: bytes(cramjam.lz4.compress(b))), ("", lambda b: b),
])
def test_content_encodings_loki_accepts(encoding, pack):
    body = json_body({"timeUnixNano": "5"})
    assert only_record(parse_otlp(pack(body), JSON, encoding)).time_unix_nano == 5


@pytest.mark.parametrize("encoding,pack", [
    ("gzip", gzip.compress), ("zstd", lambda b: bytes(cramjam.zstd.compress(b))),
    ("lz4", lambda b: bytes(cramjam.lz4.compress(b))), ("", lambda b: b),
])
def test_inflated_body_over_the_limit_is_lokis_413(encoding, pack):
    with pytest.raises(TooLargeError, match="decompressed message size too large than max"):
        parse_otlp(pack(b" " * 5000), JSON, encoding, max_decompressed_size=1000)
    assert parse_otlp(pack(b" " * 999 + b"{}"), JSON, encoding, max_decompressed_size=1001).resource_logs == []


@pytest.mark.parametrize("body,text", [
    (b"\x0a\x05\x0a", "unexpected EOF"),
    (b"\x08\x01", "proto: wrong wireType = 0 for field ResourceLogs"),
    (b"\x00", "proto: Link: illegal field=0 (tag=0, pos=1)"),
    (b"\x0a\x0b" + b"\xff" * 11, "proto: integer overflow"),
    (b"\x17\x00", "proto: illegal wireType 7"),  # field 2 (unknown) with wire type 7
    (b"\x14\x00", "proto: unexpected end of group"),
    (b"\x14", "unexpected EOF"),  # pdata's quirk: an unknown field's tag as the last byte is a short body
    # ResourceLogs > ScopeLogs > LogRecord whose TimeUnixNano comes as a varint
    (b"\x0a\x06\x12\x04\x12\x02\x08\x01", "proto: wrong wireType = 0 for field TimeUnixNano"),
    (b"\x0a\x06\x12\x04\x12\x02\x4a\x01", "unexpected EOF"),
])
def test_protobuf_faults_are_named_as_the_collector_names_them(body, text):
    assert go_proto_error(body) == text
    with pytest.raises(BadRequestError) as exc:
        parse_otlp(body, PROTO, None)
    assert exc.value.message == text


def test_unknown_protobuf_fields_are_skipped():
    body = b"\x0a\x07\x12\x02\x12\x00\xa0\x1f\x01"  # an unknown varint field 500 inside ResourceLogs
    assert go_proto_error(body) is None
    assert len(parse_otlp(body, PROTO, None).resource_logs) == 1


# --- what the SDK's own exporters send ------------------------------------------------------------------

def sdk_batches() -> list:
    """Batches of real SDK log records holding every kind of value: ids from a span, int64 extremes,
    NaN and infinities, bytes, arrays, maps, empty and absent bodies, an event name, a far timestamp."""
    from opentelemetry._logs import SeverityNumber
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=Resource.create({"service.name": "x", "k8s.pod.name": "p", "n": -5,
                                                        "f": 1.5, "b": True, "l": ["a", "b"]}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    log = provider.get_logger("scope.a", "1.0", schema_url="https://example.com/s", attributes={"sa": 1})
    with TracerProvider().get_tracer("t").start_as_current_span("s"):
        log.emit(body="hello", severity_number=SeverityNumber.WARN, severity_text="WARN", timestamp=2**63 - 5,
                 attributes={"i": 7, "big": 2**63 - 1, "small": -2**63, "d": 0.25, "bo": False, "by": b"\x01\xff",
                             "li": [1, 2], "fl": [1.5, float("nan")], "nan": float("nan"), "inf": float("inf"),
                             "ninf": float("-inf"), "text": "é\u2028😀"})
    bodies = [{"k": [1, {"z": b"\x00"}], "e": None}, None, b"\x00\x01", 3.5, True, [1, "a", None], "", -42]
    for body in bodies:
        log.emit(body=body, event_name="ev", severity_number=SeverityNumber.FATAL4)
    return [[r] for r in exporter.get_finished_logs()]


def test_the_sdks_json_exporter_decodes_to_what_its_protobuf_exporter_sends():
    """opentelemetry-exporter-otlp-json-http's encoder (hex ids, int64 as strings, NaN as "NaN", enums as
    numbers) read by the JSON decoder gives the very request the protobuf exporter's bytes give."""
    from opentelemetry.exporter.otlp.json.common._internal._log_encoder import encode_logs as encode_json
    from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs as encode_proto

    batches = sdk_batches()
    assert len(batches) == 9
    for batch in batches:
        from_json = parse_otlp(encode_json(batch).to_json().encode(), JSON, None)
        from_proto = parse_otlp(encode_proto(batch).SerializeToString(), PROTO, None)
        assert from_json.SerializeToString(deterministic=True) == from_proto.SerializeToString(deterministic=True)
        assert from_json.ByteSize() > 0
