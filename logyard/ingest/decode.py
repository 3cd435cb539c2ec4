"""Decode one push request body into `PushStream`s, validated and enriched the way Loki's
distributor does it (pkg/loghttp/push/push.go, pkg/distributor/{distributor,validator}.go).

What a client sees, as in Loki:
  - an undecodable body, or a stream whose labels do not parse: the whole request fails (400);
  - no stream at all: 422 `error at least one valid stream is required for ingestion`;
  - an invalid entry (line over `max_line_size`, unless `max_line_size_truncate` cuts it; too much structured metadata) or stream (too many
    labels, duplicate names, ...): only that entry or stream is dropped, the rest is stored, and the
    client is answered 400 with the grouped messages. `DecodeResult.error` carries that answer; the
    server stores `streams` first, then raises it.
At ingest Loki also adds the `service_name` stream label and `detected_level` structured metadata.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from functools import partial

from logyard.errors import UnprocessableError
from logyard.ingest.body import decompress, media_type
from logyard.ingest.columns import BodyColumns, body_columns
from logyard.ingest.json_fast import raw_streams, scan
from logyard.ingest.json_push import decode_json
from logyard.ingest.otlp import parse_otlp
from logyard.ingest.otlp_map import OtlpRules, to_raw_streams
from logyard.ingest.proto import decode_protobuf
from logyard.ingest.validate import DEFAULT_LIST, MISSING_STREAMS, DecodeResult, Validator, normalize_metadata_name

__all__ = ["DEFAULT_LIST", "BodyColumns", "DecodeResult", "OtlpRules", "decode_otlp_push", "decode_push",
           "decode_push_columns", "normalize_metadata_name"]


def decode_push(body: bytes, content_type: str | None, content_encoding: str | None, **limits) -> DecodeResult:
    """Decode, validate and enrich one push body. `limits` are decode_push_columns' keywords;
    limits of 0 mean no limit, as in Loki."""
    result = decode_push_columns(body, content_type, content_encoding, None, **limits)
    assert isinstance(result, DecodeResult)
    return result


def validators(
    *,
    max_line_size: int = 262144,
    max_label_names_per_series: int = 15,
    max_label_name_length: int = 1024,
    max_label_value_length: int = 2048,
    max_structured_metadata_size: int = 65536,
    max_structured_metadata_count: int = 128,
    max_line_size_truncate: bool = False,
) -> Callable[[], Validator]:
    """The validation limits (Loki's defaults), the one list both decoders take, as a maker of
    Validators: a Validator holds one body's results, so each body gets a fresh one."""
    return partial(Validator, max_line_size, max_label_names_per_series, max_label_name_length,
                   max_label_value_length, max_structured_metadata_size, max_structured_metadata_count,
                   max_line_size_truncate)


def decode_push_columns(
    body: bytes,
    content_type: str | None,
    content_encoding: str | None,
    ts_range: tuple[int | None, int] | None,
    *,
    discover_service_name: list[str] | None = DEFAULT_LIST,
    discover_log_levels: bool = True,
    max_decompressed_size: int = 100 << 20,
    **limits,
) -> BodyColumns | DecodeResult:
    """`decode_push`, or with `ts_range` (oldest or None, newest) the body's columns when it is
    the usual body: nothing dropped, every timestamp in range (columns.py). A body that inflates
    past `max_decompressed_size` (0: no limit) is Loki's 413, found without inflating further.
    `limits` are `validators`' keywords."""
    new_validator = validators(**limits)
    # orjson makes a list per entry, all freed by reference counting once the body is decoded. With
    # the collector on, those allocations set off ~9 collections per body (bench: 0.4 us/line
    # spent collecting, ~1 us/line in all) for nothing; it waits until the decode is done.
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        return _decode(body, content_type, content_encoding, ts_range, max_decompressed_size, new_validator,
                       discover_service_name or [], discover_log_levels)
    finally:
        if paused:
            gc.enable()


def _decode(
    body: bytes,
    content_type: str | None,
    content_encoding: str | None,
    ts_range: tuple[int | None, int] | None,
    max_decompressed_size: int,
    new_validator: Callable[[], Validator],
    service_names: list[str],
    discover_log_levels: bool,
) -> BodyColumns | DecodeResult:
    body = decompress(body, content_encoding or "", max_decompressed_size)
    if media_type(content_type) == "application/json":
        # The C scanner takes the usual bodies; anything else (and every error) goes to orjson.
        scanned = scan(body)
        if scanned is None:
            raw = decode_json(body)
        else:
            if ts_range is not None:
                columns = body_columns(scanned, new_validator(), service_names, discover_log_levels, ts_range)
                if columns is not None:
                    return columns
            raw = raw_streams(scanned)
    else:
        # Loki: any other type is protobuf, snappy block compressed ("snappy: corrupt input").
        raw = decode_protobuf(body, max_decompressed_size)
    if not any(len(r.lines) for r in raw):
        # Loki answers 422 to a push without streams, but 204 to one whose streams hold no entry,
        # keeping nothing: logyard never acknowledges a push that stores nothing, and says why.
        raise UnprocessableError(MISSING_STREAMS)
    return new_validator().run(raw, service_names, discover_log_levels)


def decode_otlp_push(
    body: bytes,
    content_type: str | None,
    content_encoding: str | None,
    rules: OtlpRules,
    now_ns: int,
    *,
    discover_service_name: list[str] | None = DEFAULT_LIST,
    discover_log_levels: bool = True,
    max_decompressed_size: int = 100 << 20,
    **limits,
) -> DecodeResult:
    """An OTLP logs body (`/otlp/v1/logs`), mapped by `rules` into streams (otlp_map.py), then
    validated and enriched exactly as a Loki push (`limits`: `validators`' keywords). `service_name`
    is settled by the mapping (Loki discovers it among the OTLP stream labels), so the validator is
    given no list to discover from."""
    new_validator = validators(**limits)
    request = parse_otlp(body, content_type, content_encoding, max_decompressed_size)
    raw = to_raw_streams(request, rules, discover_service_name or [], now_ns)
    if not any(len(r.lines) for r in raw):
        raise UnprocessableError(MISSING_STREAMS)  # Loki: no record at all is no stream at all
    return new_validator().run(raw, [], discover_log_levels)
