"""Loki's JSON push body: `{"streams":[{"stream":{labels},"values":[["<ns>","line",{metadata}]]}]}`,
and the legacy (v0) shape `{"streams":[{"labels":"{a=\"b\"}","entries":[{"ts":"<RFC3339>","line":"..."}]}]}`.

Loki reads the legacy shape on /api/prom/push only and the v1 shape on /loki/api/v1/push only; a
body of the other shape decodes there to streams without entries, which Loki acknowledges (204) and
drops. logyard reads each stream object by its own keys on both routes, so no push of either shape
is acknowledged and lost; a stream object of neither shape is a 400.

Errors name the place (`streams[0].values[3][0]: ...`); Go's decoder texts are not copied. Label
maps are printed and parsed the way Loki does it, so bad names get its exact parse errors. Invalid
UTF-8 becomes U+FFFD, one per bad byte, as Go's decoders do (orjson refuses it: the body is
repaired and decoded again).
"""

from __future__ import annotations

import re

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from logyard.errors import BadRequestError
from logyard.ingest.labelparse import LabelParseError, labels_string, parse_labels
from logyard.ingest.raw import NO_TS, PARSED_LABELS, RawStream, go_utf8, remember, selector_labels

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_V1_KEYS = ("stream", "values")
_LEGACY_KEYS = ("labels", "entries")


def decode_json(body: bytes) -> list[RawStream]:
    if not body or body.isspace():
        raise BadRequestError("EOF")  # Loki's answer to an empty body
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        if "not valid UTF-8" in str(e):
            return decode_json(go_utf8(body))
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
    v1: list[RawStream] = []
    all_ts: list[str] = []
    legacy: list[RawStream] = []
    legacy_ts: list[str] = []
    for si, s in enumerate(streams):
        if not isinstance(s, dict):
            raise BadRequestError(f"streams[{si}] must be an object, not {_kind(s)}")
        shape = _shape(si, s)
        if shape == "v1":
            raw, ts = _json_stream(si, s)
            v1.append(raw)
            all_ts += ts
        else:
            raw, ts = _legacy_stream(si, s)
            legacy.append(raw)
            legacy_ts += ts
        out.append(raw)
    # One cast for the whole body: per-stream Arrow calls cost more than the work itself.
    try:
        ts_int = pc.cast(pa.array(all_ts, type=pa.string()), pa.int64()).to_numpy()
    except pa.ArrowException:
        for raw in v1:
            _explain_bad_timestamp(raw.index, [v[0] for v in raw.values])
        raise BadRequestError("invalid timestamps") from None
    _spread(v1, ts_int)
    if legacy:
        _spread(legacy, _rfc3339_ns(legacy, legacy_ts))
    return out


def _spread(raws: list[RawStream], ts: np.ndarray) -> None:
    start = 0
    for raw in raws:
        raw.ts = ts[start : start + len(raw.lines)]
        start += len(raw.lines)


def _shape(si: int, s: dict) -> str:
    """"v1" or "legacy" by the stream object's keys (matched case-insensitively like jsoniter's)."""
    keys = {k.lower() for k in s}
    v1 = any(k in keys for k in _V1_KEYS)
    legacy = any(k in keys for k in _LEGACY_KEYS)
    if v1 != legacy:
        return "v1" if v1 else "legacy"
    what = "mixes" if v1 else "has neither"
    raise BadRequestError(
        f'streams[{si}] {what} the keys of a push stream: {{"stream":{{labels}},"values":[["<unix ns>","<line>"]]}} '
        'or the legacy {"labels":"{labels}","entries":[{"ts":"<RFC3339>","line":"<line>"}]}'
    )


def _get(d: dict, key: str):
    """d[key], or the value of a key that matches it case-insensitively (Go's decoders do), or None."""
    if key in d:
        return d[key]
    return next((v for k, v in d.items() if k.lower() == key.lower()), None)


def _legacy_stream(si: int, s: dict) -> tuple[RawStream, list]:
    """A stream of Loki's v0 push shape (logproto.Stream's JSON): `labels` a selector string, entries
    `{"ts": RFC3339, "line": ..., "structuredMetadata": {...}}`; returns it and its `ts` strings."""
    label_text = _get(s, "labels")
    if label_text is None:
        label_text = ""
    if not isinstance(label_text, str):
        raise BadRequestError(f'streams[{si}].labels must be a string such as "{{app=\\"x\\"}}", not {_kind(label_text)}')
    pairs = selector_labels(label_text)
    entries = _get(s, "entries")
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise BadRequestError(f"streams[{si}].entries must be an array, not {_kind(entries)}")
    entries = [e for e in entries if e is not None]  # Go decodes a null element to nothing here
    if not all(type(e) is dict for e in entries):
        i, e = next((i, e) for i, e in enumerate(entries) if type(e) is not dict)
        raise BadRequestError(f'streams[{si}].entries[{i}] must be an object {{"ts":"<RFC3339>","line":"<line>"}}, '
                              f"not {_kind(e)}")
    # Per-row Python, C-level loops over orjson's dicts, as in _json_stream.
    ts = [_get(e, "ts") for e in entries]
    lines = [_get(e, "line") for e in entries]
    if not {*map(type, lines)} <= {str}:
        for i, line in enumerate(lines):
            if line is None:
                lines[i] = ""  # an absent line is Go's zero value
            elif not isinstance(line, str):
                raise BadRequestError(f"streams[{si}].entries[{i}].line: the log line must be a string, not {_kind(line)}")
    sm: dict[int, dict[str, str]] = {}
    for i in [i for i, e in enumerate(entries) if len(e) > 2]:  # only entries with more than ts and line
        meta = _get(entries[i], "structuredMetadata")
        if meta is None:
            continue
        if type(meta) is not dict or not {*map(type, meta.values())} <= {str}:
            raise BadRequestError(f"streams[{si}].entries[{i}].structuredMetadata must be an object of strings")
        if meta:
            sm[i] = meta
    return RawStream(pairs, NO_TS, lines, sm, si), ts


# Go's RFC 3339 reading (time.Time's UnmarshalJSON): date, clock, optional fraction, Z or an offset.
_RFC3339 = (r"^(?P<clock>\d{4}-\d{2}-\d{2}T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d)(?:\.(?P<frac>\d+))?"
            r"(?P<zone>Z|(?P<sign>[+-])(?P<hh>[01]\d|2[0-3]):(?P<mm>[0-5]\d))$")
# Unix seconds whose nanoseconds fit an int64 (1677-09-21 to 2262-04-11), one second of margin.
_MIN_S, _MAX_S = -(2**63) // 10**9 + 1, (2**63 - 1) // 10**9 - 1


def _rfc3339_ns(raws: list[RawStream], ts: list) -> np.ndarray:
    """The legacy entries' RFC 3339 `ts` strings as int64 ns, for the whole body at once."""
    try:
        arr = pa.array(ts, type=pa.string())
    except (pa.ArrowException, TypeError):
        arr = None
    if arr is not None and arr.null_count == 0:
        m = pc.extract_regex(arr, _RFC3339)
        if m.null_count == 0:
            try:
                clock = np.array(m.field("clock").to_numpy(zero_copy_only=False), dtype="datetime64[s]")
            except ValueError:
                clock = None  # a day or month out of range: found and named below
            if clock is not None:
                secs = clock.astype(np.int64)
                # Groups that did not take part come back as "" (the zone "Z", no fraction).
                sign = np.where(pc.equal(m.field("sign"), "-").to_numpy(zero_copy_only=False), -1, 1)
                hh, mm = (pc.cast(pc.binary_join_element_wise("0", m.field(g), ""), pa.int64()).to_numpy()
                          for g in ("hh", "mm"))
                secs = secs - sign * (hh * 3600 + mm * 60)
                # Go keeps nanoseconds and drops further digits.
                frac = pc.utf8_slice_codeunits(pc.utf8_rpad(m.field("frac"), 9, "0"), 0, 9)
                if ((secs >= _MIN_S) & (secs <= _MAX_S)).all():
                    return secs * 1_000_000_000 + pc.cast(frac, pa.int64()).to_numpy()
    _explain_bad_rfc3339(raws, ts)
    raise AssertionError("BUG: a legacy timestamp was refused without a reason")


def _explain_bad_rfc3339(raws: list[RawStream], ts: list) -> None:
    start = 0
    for raw in raws:
        for i, t in enumerate(ts[start : start + len(raw.lines)]):
            where = f"streams[{raw.index}].entries[{i}].ts"
            if t is None:
                raise BadRequestError(f"{where}: missing; each entry needs an RFC3339 time such as "
                                      '"2006-01-02T15:04:05.999999999Z07:00"')
            if not isinstance(t, str):
                raise BadRequestError(f"{where}: the timestamp must be an RFC3339 string, not {_kind(t)}")
            m = re.fullmatch(_RFC3339.strip("^$"), t)
            try:
                secs = int(np.datetime64(m["clock"], "s").astype(np.int64)) if m else None
            except ValueError:
                secs = None
            if secs is None:
                raise BadRequestError(f"{where}: invalid timestamp {orjson.dumps(t).decode()}: must be an RFC3339 "
                                      'time such as "2006-01-02T15:04:05.999999999Z07:00"')
            if m["sign"]:
                secs -= (1 if m["sign"] == "+" else -1) * (int(m["hh"]) * 3600 + int(m["mm"]) * 60)
            if not _MIN_S <= secs <= _MAX_S:
                raise BadRequestError(f"{where}: timestamp {t} is out of range: logyard stores times from "
                                      "1677-09-21 to 2262-04-11 (int64 nanoseconds since the epoch)")
        start += len(raw.lines)


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
