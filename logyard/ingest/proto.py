"""Loki's protobuf push message (`logproto.PushRequest`), described at import time, decoded by upb.

The wire format is grafana/loki `pkg/push/push.proto`:
  PushRequest      { repeated StreamAdapter streams = 1; string format = 2; }
  StreamAdapter    { string labels = 1; repeated EntryAdapter entries = 2; uint64 hash = 3; }
  EntryAdapter     { google.protobuf.Timestamp timestamp = 1; string line = 2;
                     repeated LabelPairAdapter structuredMetadata = 3; repeated LabelPairAdapter parsed = 4; }
  LabelPairAdapter { string name = 1; string value = 2; }
The descriptor is built in code, so no protoc runs at install time. A second variant declares the
text fields as `bytes`: upb rejects invalid UTF-8 in proto3 strings while Go's gogoproto does not,
so a body that fails the strict decode is decoded again leniently and its text repaired.
"""

from __future__ import annotations

import cramjam
import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

from logyard.errors import BadRequestError
from logyard.ingest.body import too_large
from logyard.ingest.raw import RawStream, go_text, selector_labels

_F = descriptor_pb2.FieldDescriptorProto


def _build(text_type: int, package: str) -> type:
    fdp = descriptor_pb2.FileDescriptorProto(name=f"{package}/push.proto", package=package, syntax="proto3")

    def msg(name: str, *fields: tuple[str, int, int, int, str]) -> None:
        m = fdp.message_type.add(name=name)
        for fname, number, ftype, label, type_name in fields:
            f = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = type_name

    opt, rep = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
    msg("Timestamp", ("seconds", 1, _F.TYPE_INT64, opt, ""), ("nanos", 2, _F.TYPE_INT32, opt, ""))
    msg("LabelPairAdapter", ("name", 1, text_type, opt, ""), ("value", 2, text_type, opt, ""))
    msg(
        "EntryAdapter",
        ("timestamp", 1, _F.TYPE_MESSAGE, opt, f".{package}.Timestamp"),
        ("line", 2, text_type, opt, ""),
        ("structuredMetadata", 3, _F.TYPE_MESSAGE, rep, f".{package}.LabelPairAdapter"),
        ("parsed", 4, _F.TYPE_MESSAGE, rep, f".{package}.LabelPairAdapter"),
    )
    msg(
        "StreamAdapter",
        ("labels", 1, text_type, opt, ""),
        ("entries", 2, _F.TYPE_MESSAGE, rep, f".{package}.EntryAdapter"),
        ("hash", 3, _F.TYPE_UINT64, opt, ""),
    )
    msg(
        "PushRequest",
        ("streams", 1, _F.TYPE_MESSAGE, rep, f".{package}.StreamAdapter"),
        ("format", 2, text_type, opt, ""),
    )
    # A private pool: the names cannot clash with anything else loaded in the process. The
    # Timestamp is a local copy of google.protobuf.Timestamp (same fields, same wire format).
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.PushRequest"))


PushRequest = _build(_F.TYPE_STRING, "logyard_push")
_PushRequestBytes = _build(_F.TYPE_BYTES, "logyard_push_raw")


def parse_push_request(body: bytes, snappy: bool = True, limit: int = 0):
    """Decompress (snappy block format) and parse; returns (message, lenient: bool).

    `lenient` means the text fields are bytes (invalid UTF-8 somewhere) and need decoding. A
    snappy block announces its decoded length first: over `limit` (0: none) it is Loki's 413
    (golang/snappy's DecodedLen, checked before anything is allocated).
    """
    if snappy:
        try:
            size = cramjam.snappy.decompress_raw_len(body)
        except Exception as e:  # cramjam's DecompressionError
            raise BadRequestError("snappy: corrupt input") from e
        if limit and size > limit:
            raise too_large(size, limit, decompressed=True)
        try:
            body = bytes(cramjam.snappy.decompress_raw(body))
        except Exception as e:  # cramjam raises its own DecompressionError (no common base to name)
            # Loki's text for an undecodable body (golang/snappy's ErrCorrupt).
            raise BadRequestError("snappy: corrupt input") from e
    req = PushRequest()
    try:
        req.ParseFromString(body)
        return req, False
    except DecodeError:
        raw = _PushRequestBytes()
        try:
            raw.ParseFromString(body)
        except DecodeError as e:
            raise BadRequestError(f"invalid protobuf push request: {e}") from e
        return raw, True


def decode_protobuf(body: bytes, limit: int = 0) -> list[RawStream]:
    req, lenient = parse_push_request(body, limit=limit)
    out = []
    for s in req.streams:
        label_text = go_text(s.labels) if lenient else s.labels
        pairs = selector_labels(label_text)
        entries = s.entries
        # Per-row Python, unavoidable: upb exposes entries as objects; each field read is one call.
        lines = [e.line for e in entries]
        stamps = [e.timestamp for e in entries]
        metas = [e.structuredMetadata for e in entries]
        if lenient:
            lines = [go_text(b) for b in lines]
        secs = np.fromiter([t.seconds for t in stamps], dtype=np.int64, count=len(stamps))
        nanos = np.fromiter([t.nanos for t in stamps], dtype=np.int64, count=len(stamps))
        _check_timestamps(secs, nanos)
        sm = {}
        for i in [i for i, m in enumerate(metas) if m]:
            if lenient:
                sm[i] = {go_text(p.name): go_text(p.value) for p in metas[i]}
            else:
                sm[i] = {p.name: p.value for p in metas[i]}
        out.append(RawStream(pairs, secs * 1_000_000_000 + nanos, lines, sm, len(out)))
    return out


# gogoproto's Timestamp bounds as Loki checks them (pkg/push/timestamp.go): [0001-01-01, 10000-01-01).
_MIN_VALID_S, _MAX_VALID_S = -62135596800, 253402300800
# Those whose nanoseconds since the epoch fit an int64 (1677-09-21T00:12:43.145224192Z to
# 2262-04-11T23:47:16.854775807Z): logyard's time column; Loki would wrap the value around.
_INT64_S, _INT64_NS = divmod(2**63 - 1, 1_000_000_000)
_NEG_S, _NEG_NS = divmod(-(2**63), 1_000_000_000)


def _check_timestamps(secs: np.ndarray, nanos: np.ndarray) -> None:
    """Refuse the body, as Loki's decoder does, at its first timestamp out of range."""
    loki_bad = (secs < _MIN_VALID_S) | (secs >= _MAX_VALID_S) | (nanos < 0) | (nanos >= 1_000_000_000)
    fits = ((secs > _NEG_S) & (secs < _INT64_S)) | ((secs == _INT64_S) & (nanos <= _INT64_NS)) | (
        (secs == _NEG_S) & (nanos >= _NEG_NS))
    bad = np.flatnonzero(loki_bad | ~fits)
    if not len(bad):
        return
    s, n = int(secs[bad[0]]), int(nanos[bad[0]])
    shown = f"timestamp: &types.Timestamp{{Seconds: {s},\nNanos: {n},\n}}"  # Go's %#v, as Loki prints it
    if s < _MIN_VALID_S:
        raise BadRequestError(f"{shown} before 0001-01-01")
    if s >= _MAX_VALID_S:
        raise BadRequestError(f"{shown} after 10000-01-01")
    if not 0 <= n < 1_000_000_000:
        raise BadRequestError(f"{shown}: nanos not in range [0, 1e9)")
    raise BadRequestError(f"{shown} is out of range: logyard stores times from 1677-09-21 to 2262-04-11 "
                          "(int64 nanoseconds since the epoch)")


