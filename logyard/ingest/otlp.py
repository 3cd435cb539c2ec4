"""An OTLP logs body (`POST /otlp/v1/logs`) → an `ExportLogsServiceRequest`, with Loki's checks and
texts (pkg/loghttp/push/otlp.go extractLogs).

Loki's order: Content-Encoding (gzip, zstd, lz4 or none) is undone and the size limit checked,
then Content-Type picks the decoder, compared as a whole string: `application/x-protobuf` or
`application/json` and nothing else (not even with `; charset=...`).

OTLP/JSON is protobuf's JSON mapping with two differences (OTLP spec, "JSON Protobuf Encoding"):
trace and span ids are hex, not base64, and enums may be given as numbers. Both field spellings
(`traceId`, `trace_id`) are read and unknown fields are ignored, as the Collector's decoder does.
"""

from __future__ import annotations

import base64

import cramjam
import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from logyard.errors import BadRequestError
from logyard.ingest.body import decompress, too_large
from logyard.ingest.otlp_wire import go_proto_error
from logyard.ingest.raw import go_text

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_ID_FIELDS = {"traceId": 16, "trace_id": 16, "spanId": 8, "span_id": 8}


def parse_otlp(body: bytes, content_type: str | None, content_encoding: str | None,
               max_decompressed_size: int = 0) -> ExportLogsServiceRequest:
    """Decode one OTLP logs body; BadRequestError (400) or TooLargeError (413) with Loki's text."""
    data = _decompress(bytes(body), content_encoding or "", max_decompressed_size)
    ctype = content_type or ""
    if ctype == PROTOBUF:
        request = ExportLogsServiceRequest()
        try:
            request.ParseFromString(data)
        except DecodeError as e:
            raise BadRequestError(go_proto_error(data) or f"proto: {e}") from e
        # The generated classes keep a known field sent with the wrong wire type as an unknown
        # field; pdata refuses the body. Only a body holding unknown fields (or not encoded the
        # canonical way) re-encodes to another size, and only then is it walked for the fault.
        request.DiscardUnknownFields()
        if request.ByteSize() != len(data):
            fault = go_proto_error(data)
            if fault is not None:
                raise BadRequestError(fault)
        return request
    if ctype == JSON:
        return _from_json(data)
    raise BadRequestError(f"content type: {ctype} is not supported")


def _decompress(body: bytes, encoding: str, limit: int) -> bytes:
    """The body with its Content-Encoding undone, at most `limit` bytes of it (0: no limit): as for
    the push path, a bomb costs the limit in memory, not what it would inflate to."""
    if encoding == "":
        if limit and len(body) > limit:
            raise too_large(len(body), limit, decompressed=True)
        return body
    if encoding == "gzip":
        if not body:
            raise BadRequestError("EOF")  # Go's gzip.NewReader on an empty body
        return decompress(body, encoding, limit)
    if encoding not in ("zstd", "lz4"):
        raise BadRequestError(f"unsupported content encoding {encoding}: only gzip, lz4 and zstd are supported")
    codec = cramjam.zstd if encoding == "zstd" else cramjam.lz4
    try:
        if not limit:
            return bytes(codec.decompress(body))
        out = bytearray(limit + 1)  # Loki reads one byte past the limit to know it was passed
        n = codec.decompress_into(body, out)
    except cramjam.DecompressionError as e:
        if "failed to write whole buffer" in str(e):
            raise too_large(limit + 1, limit, decompressed=True) from e
        raise BadRequestError(f"{encoding}: {e}") from e
    if n > limit:
        raise too_large(n, limit, decompressed=True)
    del out[n:]
    return bytes(out)


def _from_json(data: bytes) -> ExportLogsServiceRequest:
    first = _first_token(data)
    if first is None or data[first] not in b"{n}":
        # The Collector's decoder reads an object first; anything else fails there, with its text.
        head = len(data) if first is None else first + 1
        found = "\x00" if first is None else go_text(data[first : first + 1])
        text = _jsoniter_error("ReadObject", f"expect {{ or , or }} or n, but found {found}", data, head)
        raise BadRequestError(text)
    if data[first] == ord("}"):
        return ExportLogsServiceRequest()  # jsoniter reads a lone `}` as the end of an empty object
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise BadRequestError(f"invalid JSON: {e}") from e  # deeper faults: the same 400, orjson's words
    if not isinstance(doc, dict):
        return ExportLogsServiceRequest()  # `null`: no logs
    for resource in _items(doc, "resourceLogs", "resource_logs"):
        for scope in _items(resource, "scopeLogs", "scope_logs"):
            for record in _items(scope, "logRecords", "log_records"):
                _hex_ids_to_base64(record)
    try:
        return json_format.ParseDict(doc, ExportLogsServiceRequest(), ignore_unknown_fields=True)
    except json_format.ParseError as e:
        raise BadRequestError(str(e)) from e


def _first_token(data: bytes) -> int | None:
    """Where jsoniter's nextToken stops: the first byte that is not a space, tab, CR or LF."""
    stripped = data.lstrip(b" \t\r\n")
    return len(data) - len(stripped) if stripped else None


def _jsoniter_error(operation: str, msg: str, buf: bytes, head: int) -> str:
    """json-iterator's ReportError text: the bytes around `head`, 10 and 50 each side."""
    peek_start = max(head - 10, 0)
    parsing = go_text(buf[peek_start : head + 10])
    context = go_text(buf[max(head - 50, 0) : head + 50])
    return (f"{operation}: {msg}, error found in #{head - peek_start} byte of ...|{parsing}|..., "
            f"bigger context ...|{context}|...")


def _items(obj, *names: str) -> list:
    if not isinstance(obj, dict):
        return []
    for name in names:
        value = obj.get(name)
        if isinstance(value, list):
            return value
    return []


def _hex_ids_to_base64(record) -> None:
    """OTLP/JSON ids are hex; protobuf's JSON mapping reads bytes as base64."""
    if not isinstance(record, dict):
        return
    for name, size in _ID_FIELDS.items():
        value = record.get(name)
        if not isinstance(value, str):
            continue
        try:
            raw = bytes.fromhex(value) if value else b""
        except ValueError:
            raw = None
        if raw is None or (raw and len(raw) != size):
            what = "TraceID" if size == 16 else "SpanID"
            raise BadRequestError(f"parse {name}: invalid {what} {value!r}")
        record[name] = base64.b64encode(raw).decode()


__all__ = ["JSON", "PROTOBUF", "parse_otlp"]
