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
