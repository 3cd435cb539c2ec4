"""Why an OTLP protobuf body does not parse, in the words of the Collector's decoder (pdata, which
Loki uses): `unexpected EOF`, `proto: wrong wireType = 0 for field LogRecords`, ...

The body is parsed by the generated classes; this walk runs only when they refuse it, to name the
fault as Loki's 400 does. It follows the wire format the way pdata's generated code does: each
known field must have its wire type, each nested message is walked in turn, unknown fields are
skipped (groups included).
"""

from __future__ import annotations

VARINT, I64, LEN, START_GROUP, END_GROUP, I32 = 0, 1, 2, 3, 4, 5
_EOF = "unexpected EOF"

# message -> field number -> (pdata's field name, wire type, nested message or an id check or None)
_SCHEMA: dict[str, dict[int, tuple[str, int, str | None]]] = {
    "ExportLogsServiceRequest": {1: ("ResourceLogs", LEN, "ResourceLogs")},
    "ResourceLogs": {1: ("Resource", LEN, "Resource"), 2: ("ScopeLogs", LEN, "ScopeLogs"),
                     3: ("SchemaUrl", LEN, None), 1000: ("DeprecatedScopeLogs", LEN, "ScopeLogs")},
    "Resource": {1: ("Attributes", LEN, "KeyValue"), 2: ("DroppedAttributesCount", VARINT, None),
                 3: ("EntityRefs", LEN, "")},
    "ScopeLogs": {1: ("Scope", LEN, "InstrumentationScope"), 2: ("LogRecords", LEN, "LogRecord"),
                  3: ("SchemaUrl", LEN, None)},
    "InstrumentationScope": {1: ("Name", LEN, None), 2: ("Version", LEN, None), 3: ("Attributes", LEN, "KeyValue"),
                             4: ("DroppedAttributesCount", VARINT, None)},
    "LogRecord": {1: ("TimeUnixNano", I64, None), 11: ("ObservedTimeUnixNano", I64, None),
                  2: ("SeverityNumber", VARINT, None), 3: ("SeverityText", LEN, None), 5: ("Body", LEN, "AnyValue"),
                  6: ("Attributes", LEN, "KeyValue"), 7: ("DroppedAttributesCount", VARINT, None),
                  8: ("Flags", I32, None), 9: ("TraceId", LEN, "#TraceID:16"), 10: ("SpanId", LEN, "#SpanID:8"),
                  12: ("EventName", LEN, None)},
    "KeyValue": {1: ("Key", LEN, None), 2: ("Value", LEN, "AnyValue"), 3: ("KeyStrindex", VARINT, None)},
    "AnyValue": {1: ("StringValue", LEN, None), 2: ("BoolValue", VARINT, None), 3: ("IntValue", VARINT, None),
                 4: ("DoubleValue", I64, None), 5: ("ArrayValue", LEN, "ArrayValue"),
                 6: ("KvlistValue", LEN, "KeyValueList"), 7: ("BytesValue", LEN, None),
                 8: ("StringValueStrindex", VARINT, None)},
    "ArrayValue": {1: ("Values", LEN, "AnyValue")},
    "KeyValueList": {1: ("Values", LEN, "KeyValue")},
}  # fmt: skip


class _Fault(Exception):
    pass


def go_proto_error(buf: bytes) -> str | None:
    """pdata's error for an ExportLogsServiceRequest body, or None when pdata would read it."""
    try:
        _message(buf, "ExportLogsServiceRequest")
    except _Fault as e:
        return str(e)
    return None


def _message(buf: bytes, name: str) -> None:
    fields = _SCHEMA[name]
    pos, end = 0, len(buf)
    while pos < end:
        num, wire, pos = _tag(buf, pos)
        spec = fields.get(num)
        if spec is None:
            pos = _skip(buf, pos, wire)
            continue
        field, want, nested = spec
        if wire != want:
            raise _Fault(f"proto: wrong wireType = {wire} for field {field}")
        if want == VARINT:
            _, pos = _varint(buf, pos)
        elif want in (I64, I32):
            pos = _fixed(buf, pos, 8 if want == I64 else 4)
        else:
            length, pos = _len(buf, pos)
            body = buf[pos - length : pos]
            if nested and nested.startswith("#"):
                kind, size = nested[1:].split(":")
                if length and length != int(size):
                    raise _Fault(f"unmarshal: invalid {kind} length")
            elif nested:
                _message(body, nested)


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    num, shift = 0, 0
    while True:
        if shift >= 64:
            raise _Fault("proto: integer overflow")
        if pos >= len(buf):
            raise _Fault(_EOF)
        b = buf[pos]
        pos += 1
        num |= (b & 0x7F) << shift
        if b < 0x80:
            return num, pos
        shift += 7


def _tag(buf: bytes, pos: int) -> tuple[int, int, int]:
    tag, pos = _varint(buf, pos)
    num = (tag >> 3) & 0xFFFFFFFF
    if num >= 1 << 31:
        num -= 1 << 32  # Go: int32(tag >> 3)
    if num <= 0:
        raise _Fault(f"proto: Link: illegal field={num} (tag={tag}, pos={pos})")  # pdata's text, "Link" and all
    return num, tag & 7, pos


def _fixed(buf: bytes, pos: int, size: int) -> int:
    pos += size
    if pos > len(buf):
        raise _Fault(_EOF)
    return pos


def _len(buf: bytes, pos: int) -> tuple[int, int]:
    length, pos = _varint(buf, pos)
    if length >= 1 << 63:
        raise _Fault("proto: negative length found during unmarshaling")
    pos += length
    if pos > len(buf):
        raise _Fault(_EOF)
    return length, pos


def _skip(buf: bytes, pos: int, wire: int) -> int:
    depth = 0
    while pos < len(buf):
        if wire == VARINT:
            return _varint(buf, pos)[1]
        if wire == I64:
            return _fixed(buf, pos, 8)
        if wire == LEN:
            return _len(buf, pos)[1]
        if wire == I32:
            return _fixed(buf, pos, 4)
        if wire == START_GROUP:
            depth += 1
        elif wire == END_GROUP:
            if depth == 0:
                raise _Fault("proto: unexpected end of group")
            depth -= 1
        else:
            raise _Fault(f"proto: illegal wireType {wire}")
        if depth == 0:
            return pos
        _, wire, pos = _tag(buf, pos)
    raise _Fault(_EOF)
