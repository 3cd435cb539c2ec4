"""Loki's JSON push body: `{"streams":[{"stream":{labels},"values":[["<ns>","line",{metadata}]]}]}`.

Errors name the place (`streams[0].values[3][0]: ...`); Go's decoder texts are not copied. Label
maps are printed and parsed the way Loki does it, so bad names get its exact parse errors.
"""

from __future__ import annotations

import re

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from logyard.errors import BadRequestError
from logyard.ingest.labelparse import LabelParseError, labels_string, parse_labels
from logyard.ingest.raw import NO_TS, PARSED_LABELS, RawStream, remember

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def decode_json(body: bytes) -> list[RawStream]:
    if not body or body.isspace():
        raise BadRequestError("EOF")  # Loki's answer to an empty body
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise BadRequestError(f"malformed JSON push body: {e}") from e
    if not isinstance(doc, dict):
        raise BadRequestError(f"push body must be a JSON object with a `streams` array, not {_kind(doc)}")
    streams = doc.get("streams")
    if streams is None:
        # Loki's decoder (jsoniter) matches the top-level field name case-insensitively.
        streams = next((v for k, v in doc.items() if k.lower() == "streams"), None)
    if streams is None:
        return []
    if not isinstance(streams, list):
        raise BadRequestError(f"`streams` must be an array, not {_kind(streams)}")
    out = []
    all_ts: list[str] = []
    for si, s in enumerate(streams):
        if not isinstance(s, dict):
            raise BadRequestError(f"streams[{si}] must be an object, not {_kind(s)}")
        raw, ts = _json_stream(si, s)
        out.append(raw)
        all_ts += ts
    # One cast for the whole body: per-stream Arrow calls cost more than the work itself.
    try:
        ts_int = pc.cast(pa.array(all_ts, type=pa.string()), pa.int64()).to_numpy()
    except pa.ArrowException:
        for si, raw in enumerate(out):
            _explain_bad_timestamp(si, [v[0] for v in raw.values])
        raise BadRequestError("invalid timestamps") from None
    start = 0
    for raw in out:
        raw.ts = ts_int[start : start + len(raw.lines)]
        start += len(raw.lines)
    return out


def _kind(v: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(v), "a number"
    )


def _json_stream(si: int, s: dict) -> RawStream:
    labels = s.get("stream") or {}
    if not isinstance(labels, dict):
        raise BadRequestError(f"streams[{si}].stream must be an object of label names to values, not {_kind(labels)}")
    if not {*map(type, labels.values())} <= {str}:
        for k, v in labels.items():
            if isinstance(v, (dict, list)):
                raise BadRequestError(f"streams[{si}].stream.{k}: label values must be strings, not {_kind(v)}")
            if not isinstance(v, str):
                labels[k] = orjson.dumps(v).decode()  # Loki takes a scalar's JSON text as the value
    pairs = stream_pairs(labels)
    values = s.get("values")
    if values is None:
        values = []
    if not isinstance(values, list):
        raise BadRequestError(f"streams[{si}].values must be an array, not {_kind(values)}")
    try:
        # Per-row Python, unavoidable: orjson hands us lists of lists; these are C-level loops.
        ts = [v[0] for v in values]
        lines = [v[1] for v in values]
        widest = max(map(len, values), default=2)
    except (IndexError, KeyError, TypeError):
        if None not in values:
            _explain_bad_entry(si, values)
            raise BadRequestError(f"streams[{si}].values: malformed entries") from None
        return _json_stream(si, {"stream": labels, "values": [v for v in values if v is not None]})  # Loki skips nulls
    sm: dict[int, dict[str, str]] = {}
    if widest > 2:
        # Per-entry Python over entries with structured metadata only.
        lens = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
        for i in np.flatnonzero(lens > 2).tolist():
            meta = values[i][2]
            if type(meta) is not dict or not {*map(type, meta.values())} <= {str}:
                _explain_bad_metadata(si, i, meta)
            if meta:
                sm[i] = meta
    return RawStream(pairs, NO_TS, lines, sm, si, values), ts


def stream_pairs(labels: dict[str, str]) -> list[tuple[str, str]]:
    """A stream's label map (string values) as parsed label pairs, cached; shared with json_fast."""
    key = tuple(labels.items())
    pairs = PARSED_LABELS.get(key)
    if pairs is None:
        pairs = _json_labels(labels)
        remember(PARSED_LABELS, key, pairs)
    return pairs


def _explain_bad_metadata(si: int, i: int, meta: object) -> None:
    if not isinstance(meta, dict):
        raise BadRequestError(f"streams[{si}].values[{i}][2]: structured metadata must be an object, not {_kind(meta)}")
    for k, v in meta.items():
        if not isinstance(v, str):
            raise BadRequestError(
                f"streams[{si}].values[{i}][2].{k}: structured metadata values must be strings, not {_kind(v)}"
            )


def _json_labels(labels: dict[str, str]) -> list[tuple[str, str]]:
    if all(_LABEL_NAME.fullmatch(k) for k in labels):
        return [(k, v) for k, v in labels.items() if v]
    # Loki prints the map as `{a="b", ...}` and parses that: its error names a position in it.
    try:
        return parse_labels(labels_string(labels))
    except LabelParseError as e:
        raise BadRequestError(f"couldn't parse labels: {e}") from e


def _explain_bad_entry(si: int, values: list) -> None:
    for i, v in enumerate(values):
        where = f"streams[{si}].values[{i}]"
        if not isinstance(v, list):
            raise BadRequestError(f'{where} must be an array ["<unix ns>", "<line>"], not {_kind(v)}')
        if len(v) < 2:
            raise BadRequestError(f'{where} must hold a timestamp and a line: ["<unix ns>", "<line>"]')
        if not isinstance(v[0], str):
            raise BadRequestError(f"{where}[0]: the timestamp must be a string of integer nanoseconds, not {_kind(v[0])}")
        if not isinstance(v[1], str):
            raise BadRequestError(f"{where}[1]: the log line must be a string, not {_kind(v[1])}")


def _explain_bad_timestamp(si: int, ts: list[str]) -> None:
    for i, t in enumerate(ts):
        if not isinstance(t, str):
            raise BadRequestError(
                f"streams[{si}].values[{i}][0]: the timestamp must be a string of integer nanoseconds, not {_kind(t)}"
            )
        if not re.fullmatch(r"-?[0-9]{1,19}", t) or not -(2**63) <= int(t) < 2**63:
            raise BadRequestError(
                f"streams[{si}].values[{i}][0]: invalid timestamp {orjson.dumps(t).decode()}: "
                "must be a string of integer nanoseconds since the epoch"
            )
