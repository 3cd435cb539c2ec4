"""OTLP log records → `RawStream`s, mapped as Loki 3 maps them (pkg/loghttp/push/otlp.go and
otlplabels/labels.go); validation and `detected_level` then run as for any push (validate.py).

  - resource attributes: the first rule naming an attribute decides: stream label (`index_label`),
    `structured_metadata` (also when no rule names it) or `drop`. Names are normalised as Loki's
    label namer does (`service.name` → `service_name`); a map value becomes one entry per leaf,
    named `<key>_<subkey>`. No `service.name`: `service_name` comes from the first label of
    `discover_service_name` among the stream labels, else is `unknown_service`.
  - scope attributes, `scope_name`, `scope_version`, `scope_dropped_attributes_count`: metadata.
  - log record attributes (index_label possible), `severity_number`, `severity_text`, `trace_id`
    and `span_id` (hex), `flags`, `dropped_attributes_count`, `event_name`, `observed_timestamp`
    (when the record has its own timestamp too): metadata.
  - the body is the line: a string as is, other values as the Collector prints them (numbers in
    Go/ES6 form, maps and lists as compact JSON with sorted keys, bytes in base64).
  - the timestamp: time_unix_nano, else observed_time_unix_nano, else now.
The walk is a Python loop per record, deliberately: the records are protobuf objects.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from logyard.errors import BadRequestError
from logyard.gocompat.text import compile_re2
from logyard.ingest.raw import RawStream, remember
from logyard.ingest.validate import SERVICE_NAME, UNKNOWN_SERVICE, normalize_metadata_name

INDEX_LABEL, STRUCTURED_METADATA, DROP = "index_label", "structured_metadata", "drop"


@dataclass(frozen=True)
class AttributeRule:
    """One `attributes_config` entry: `action` for the names listed, or for those `regex` matches whole."""

    action: str
    names: frozenset[str] = frozenset()
    regex: str | None = None


@dataclass(frozen=True)
class OtlpRules:
    """The mapping of `limits.otlp_config`, effective (Loki's defaults already in `resource`)."""

    resource: tuple[AttributeRule, ...] = ()
    scope: tuple[AttributeRule, ...] = ()
    log: tuple[AttributeRule, ...] = ()
    severity_text_as_label: bool = False
    _compiled: dict = field(default_factory=dict, compare=False, repr=False)

    def action(self, rules: tuple[AttributeRule, ...], name: str) -> str:
        for rule in rules:
            if rule.regex is not None:
                regex = self._compiled.get(rule.regex)
                if regex is None:
                    regex = self._compiled[rule.regex] = compile_re2(f"^(?:{rule.regex})$")
                if regex.match(name):
                    return rule.action
            if name in rule.names:
                return rule.action
        return STRUCTURED_METADATA


def to_raw_streams(request, rules: OtlpRules, discover_service_name: list[str], now_ns: int) -> list[RawStream]:
    """The request's records grouped into streams by their labels, in order of first appearance."""
    streams: dict[tuple, _Builder] = {}
    for resource_logs in request.resource_logs:
        attrs = resource_logs.resource.attributes
        labels, resource_sm = _split(attrs, rules, rules.resource)
        has_service = any(kv.key == "service.name" and as_string(kv.value) for kv in attrs)
        if not has_service and discover_service_name:
            labels[SERVICE_NAME] = next((labels[n] for n in discover_service_name if labels.get(n)), UNKNOWN_SERVICE)
        resource_key = _key(labels)
        for scope_logs in resource_logs.scope_logs:
            shared = {**resource_sm, **_scope_metadata(scope_logs.scope, rules)}
            for record in scope_logs.log_records:
                record_labels, sm = _split(record.attributes, rules, rules.log, skip_event_name=bool(record.event_name))
                _record_fields(record, sm, record_labels, rules)
                key = _key({**labels, **record_labels}) if record_labels else resource_key
                builder = streams.get(key)
                if builder is None:
                    builder = streams[key] = _Builder(list(key), len(streams))
                builder.add(_timestamp(record, now_ns), as_string(record.body), {**shared, **sm})
    return [b.build() for b in streams.values()]


def _key(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in labels.items() if v))  # as pushed streams: empty values dropped


@dataclass
class _Builder:
    pairs: list[tuple[str, str]]
    index: int
    ts: list[int] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    sm: dict[int, dict[str, str]] = field(default_factory=dict)

    def add(self, ts: int, line: str, sm: dict[str, str]) -> None:
        if sm:
            self.sm[len(self.lines)] = sm
        self.ts.append(ts)
        self.lines.append(line)

    def build(self) -> RawStream:
        return RawStream(self.pairs, np.array(self.ts, dtype=np.int64), self.lines, self.sm, self.index)


def _split(attrs, rules: OtlpRules, which: tuple[AttributeRule, ...],
           skip_event_name: bool = False) -> tuple[dict[str, str], dict[str, str]]:
    """(index labels, structured metadata) of a list of KeyValues, by the rules' actions."""
    labels: dict[str, str] = {}
    sm: dict[str, str] = {}
    if not attrs:
        return labels, sm
    for kv in attrs:
        action = rules.action(which, kv.key)
        if action == DROP or (skip_event_name and kv.key == "event_name"):
            continue  # Loki: the record's own event_name field wins over an attribute of that name
        target = labels if action == INDEX_LABEL else sm
        for name, value in _flatten(kv.key, kv.value, ""):
            target[name] = value
    return labels, sm


# Attribute names repeat from record to record: each is normalised once (bounded, as raw.py's caches).
_NAMES: dict[str, str] = {}


def _flatten(key: str, value, prefix: str) -> list[tuple[str, str]]:
    """Loki's AttributeToLabels: a normalised name, a map expanded one entry per leaf."""
    full = f"{prefix}_{key}" if prefix else key
    name = _NAMES.get(full)
    if name is None:
        try:
            name = normalize_metadata_name(full)
        except BadRequestError as e:
            raise BadRequestError(f"symbolizer lookup: {e.message}") from e
        remember(_NAMES, full, name)
    if value.WhichOneof("value") != "kvlist_value":
        return [(name, as_string(value))]
    out: list[tuple[str, str]] = []
    for kv in value.kvlist_value.values:
        try:
            out += _flatten(kv.key, kv.value, name)
        except BadRequestError as e:
            raise BadRequestError(f"symbolizer lookup: {e.message}") from e
    return out


def _scope_metadata(scope, rules: OtlpRules) -> dict[str, str]:
    _, sm = _split(scope.attributes, rules, rules.scope)
    if scope.name:
        sm["scope_name"] = scope.name
    if scope.version:
        sm["scope_version"] = scope.version
    if scope.dropped_attributes_count:
        sm["scope_dropped_attributes_count"] = str(scope.dropped_attributes_count)
    return sm


def _record_fields(record, sm: dict[str, str], labels: dict[str, str], rules: OtlpRules) -> None:
    """The record's own fields, added to its structured metadata (and labels) in Loki's order."""
    if record.time_unix_nano and record.observed_time_unix_nano:
        sm["observed_timestamp"] = str(record.observed_time_unix_nano)
    if record.severity_number:
        sm["severity_number"] = str(record.severity_number)
    if record.severity_text:
        if rules.severity_text_as_label:
            labels["severity_text"] = record.severity_text
        sm["severity_text"] = record.severity_text
    if record.dropped_attributes_count:
        sm["dropped_attributes_count"] = str(record.dropped_attributes_count)
    if record.flags:
        sm["flags"] = str(record.flags)
    ids = (("trace_id", record.trace_id, 16, "TraceID"), ("span_id", record.span_id, 8, "SpanID"))
    for name, raw, size, kind in ids:
        if raw and len(raw) != size:
            raise BadRequestError(f"unmarshal: invalid {kind} length")  # pdata refuses the body
        if any(raw):
            sm[name] = raw.hex()
    if record.event_name:
        sm["event_name"] = record.event_name


def _timestamp(record, now_ns: int) -> int:
    return record.time_unix_nano or record.observed_time_unix_nano or now_ns


# --- AnyValue as text: pdata's Value.AsString ----------------------------------------------------


def as_string(value) -> str:
    kind = value.WhichOneof("value")
    if kind is None:
        return ""
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        f = value.double_value
        if math.isnan(f):
            return "NaN"
        if math.isinf(f):
            return "Infinity" if f > 0 else "-Infinity"
        return _es6(f)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    try:
        return _json(_raw(value))
    except ValueError:
        return ""  # Go's encoder refuses NaN and infinities inside a map or list; pdata then prints nothing


def _raw(value):
    """pdata's Value.AsRaw: the value as plain Python data."""
    kind = value.WhichOneof("value")
    if kind == "kvlist_value":
        return {kv.key: _raw(kv.value) for kv in value.kvlist_value.values}
    if kind == "array_value":
        return [_raw(v) for v in value.array_value.values]
    return None if kind is None else getattr(value, kind)


def _es6(f: float) -> str:
    """Go's shortest float text in ES6 style, as encoding/json and pdata print float64: fixed
    notation, exponent form below 1e-6 and from 1e21 (`1e+21`, `1e-7`)."""
    if f == 0:
        return "-0" if math.copysign(1, f) < 0 else "0"
    dec = Decimal(repr(f)).normalize()
    if 1e-6 <= abs(f) < 1e21:
        return format(dec, "f")
    sign, digits, _ = dec.as_tuple()
    exp = dec.adjusted()
    text = "".join(map(str, digits))
    mant = ("-" if sign else "") + text[0] + ("." + text[1:] if len(text) > 1 else "")
    # Go writes at least two exponent digits; pdata then trims `e-07` to `e-7`.
    return f"{mant}e+{exp:02d}" if exp >= 0 else f"{mant}e-{-exp}"


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f",
            "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _json_str(s: str) -> str:
    """encoding/json's string with HTML escaping off."""
    out = []
    for ch in s:
        esc = _ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ch < " ":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _json(v) -> str:
    """Go's json.Marshal of AsRaw's value: compact, map keys sorted, bytes in base64."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            raise ValueError("unsupported value")
        return _es6(v)
    if isinstance(v, str):
        return _json_str(v)
    if isinstance(v, bytes):
        return _json_str(base64.b64encode(v).decode())
    if isinstance(v, dict):
        return "{" + ",".join(f"{_json_str(k)}:{_json(v[k])}" for k in sorted(v)) + "}"
    return "[" + ",".join(_json(x) for x in v) + "]"
