"""Detected fields: what Logs Drilldown's field tabs show (Loki's queryrange/detected_fields.go).

A log query's newest `line_limit` entries are read backward. Each entry contributes its structured
metadata (no parser) and the labels of the query's own parsers, then its line is parsed the way
Loki does it: `| json` first (keeping each field's JSON path), and `| logfmt` when JSON fails. For
every field the answer gives its type (Loki's six: string, int, float, boolean, duration, bytes),
its cardinality and the parsers that found it.

Where Loki is arbitrary, this module is exact and stable, on purpose:
* cardinality is the exact count of distinct values seen (Loki estimates it with a HyperLogLog
  sketch, which is exact for small sets anyway);
* a field's type is the first of int, float, boolean, duration, bytes that every value seen parses
  as (else string). Loki takes the type of whichever value it happens to look at last, so a
  `latency_ms` that is `12` in one line and `12.5` in the next is `int` or `float` by chance;
* fields come sorted by name (Loki's come in Go map order).

Lines per request are bounded by `line_limit` (100 by default), so the per-entry work here is a
bounded loop over a few hundred entries, not over a query's range.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from logyard.gocompat.humanize import parse_bytes
from logyard.gocompat.text import parse_float
from logyard.logql import stages as st
from logyard.logql.deadline import NO_DEADLINE, Deadline
from logyard.logql.entry_labels import without_stages
from logyard.logql.log_query import log_entries
from logyard.logql.rows import Rows, meta_pairs
from logyard.logql.stages.builder import ERROR_DETAILS_LABEL, ERROR_LABEL, METADATA, PARSED, PRESERVE_ERROR_LABEL
from logyard.logql.syntax import ast
from logyard.units import parse_go_duration

STRING, INT, FLOAT, BOOLEAN, DURATION, BYTES = "string", "int", "float", "boolean", "duration", "bytes"
_INT = re.compile(r"[+-]?[0-9]+")
_BOOLS = frozenset(("1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"))
_HIDDEN = frozenset((ERROR_LABEL, ERROR_DETAILS_LABEL, PRESERVE_ERROR_LABEL))
# Loki's allowedBytesUnits: a value ending so (lower-cased) that ParseBytes reads is re-printed.
_BYTES_SUFFIXES = ("b", "kib", "kb", "mib", "mb", "gib", "gb", "tib", "tb", "pib", "pb", "eib", "eb",
                   "ki", "k", "mi", "m", "gi", "g", "ti", "t", "pi", "p", "ei", "e")


# --- Go's parsers, as Loki's determineType calls them ---------------------------------------------
def is_int(v: str) -> bool:
    """strconv.ParseInt(v, 10, 64)."""
    return bool(_INT.fullmatch(v)) and -(1 << 63) <= int(v) < (1 << 63)


def is_float(v: str) -> bool:
    """strconv.ParseFloat(v, 64) without error (an out-of-range value is an error)."""
    try:
        parse_float(v)
    except ValueError:
        return False
    return True


def is_bool(v: str) -> bool:
    return v in _BOOLS


def is_duration(v: str) -> bool:
    try:
        parse_go_duration(v)
    except ValueError:
        return False
    return True


def is_bytes(v: str) -> bool:
    try:
        parse_bytes(v)
    except ValueError:
        return False
    return True


_CHECKS = ((INT, is_int), (FLOAT, is_float), (BOOLEAN, is_bool), (DURATION, is_duration), (BYTES, is_bytes))


def determine_type(value: str) -> str:
    """Loki's determineType: the first of int, float, boolean, duration, bytes that `value` parses as."""
    for name, check in _CHECKS:
        if check(value):
            return name
    return STRING


def field_type(values) -> str:
    """The first type every value parses as (int values are also floats and bytes, so a field of
    `12` and `12.5` is a float); string when none fits them all."""
    for name, check in _CHECKS:
        if all(check(v) for v in values):
            return name
    return STRING


def humanize_bytes(n: int) -> str:
    """go-humanize's Bytes (SI units), without the space, as Loki prints a bytes value."""
    sizes = ("B", "kB", "MB", "GB", "TB", "PB", "EB")
    if n < 10:
        return f"{n}B"
    e = int(math.floor(math.log(n) / math.log(1000)))
    val = math.floor(n / 1000**e * 10 + 0.5) / 10
    return (f"{val:.1f}" if val < 10 else f"{val:.0f}") + sizes[e]


def value_for_query(value: str) -> str:
    """Loki re-prints a bytes value (`1.5KiB` -> `1.5kB`) so it can go straight into a query.

    Unlike Loki, a value that is a Go duration is left alone: Loki turns `12.345m` (minutes) into
    `12MB`, because `m` is also a byte suffix."""
    if not value.lower().endswith(_BYTES_SUFFIXES) or is_duration(value):
        return value
    try:
        return humanize_bytes(parse_bytes(value))
    except ValueError:
        return value


# --- one entry's fields -------------------------------------------------------------------------
@dataclass
class Entry:
    """One entry's labels by category, as the query's pipeline left them."""

    stream: dict[str, str]
    line: str
    metadata: dict[str, str]
    parsed: dict[str, str]


@dataclass
class _Field:
    values: set[str] = field(default_factory=set)
    parsers: list[str] = field(default_factory=list)
    json_path: list[str] | None = None


def parse_line(line: str, stream: dict[str, str]) -> tuple[str | None, dict[str, str], dict[str, list[str]]]:
    """Loki's parseEntry: `| json`, else `| logfmt`; (parser or None, labels, JSON paths)."""
    lbs = st.LabelsBuilder(stream)
    paths: dict[str, list[str]] = {}
    st.JSONParser(paths=paths).process(0, line, lbs)
    parser = "json"
    if lbs.has_err():
        lbs = st.LabelsBuilder(stream)
        paths = {}
        st.LogfmtParser().process(0, line, lbs)
        parser = "logfmt"
        if lbs.has_err():
            return None, {}, {}
    parsed = {k: v for k, v in lbs.add[PARSED].items() if k not in lbs.deleted}
    return parser, parsed, paths


class FieldCollector:
    """Fields of entries fed in order; the first `limit` names found are kept."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.fields: dict[str, _Field] = {}

    def _get(self, name: str) -> _Field | None:
        f = self.fields.get(name)
        if f is None and len(self.fields) < self.limit:
            f = self.fields[name] = _Field()
        return f

    def add(self, entry: Entry) -> None:
        for name, value in entry.metadata.items():
            f = self._get(name)
            if f is not None:
                f.values.add(value)
        parser, parsed, paths = parse_line(entry.line, entry.stream)
        found = {k: v for k, v in entry.parsed.items() if k not in _HIDDEN}
        found.update(parsed)
        for name, value in found.items():
            f = self._get(name)
            if f is None:
                continue
            if parser is not None and parser not in f.parsers:
                f.parsers.append(parser)
            if parser == "json":
                f.json_path = paths.get(name)
            f.values.add(value)
            if name in entry.parsed and entry.parsed[name] != value:
                f.values.add(entry.parsed[name])

    def result(self) -> list[dict]:
        out = []
        for name in sorted(self.fields):
            f = self.fields[name]
            item = {"label": name, "type": field_type(f.values), "cardinality": len(f.values),
                    "parsers": f.parsers or None}
            if f.json_path:
                item["jsonPath"] = f.json_path
            out.append(item)
        return out


def field_values(entries, name: str, limit: int) -> list[str]:
    """Loki's parseDetectedFieldValues: the distinct values of `name` (metadata or parsed), at most
    `limit` entries' worth once `limit` values are found; sorted."""
    values: set[str] = set()
    for entry in entries:
        if len(values) >= limit:
            break
        if name in entry.metadata:
            values.add(entry.metadata[name])
        _, parsed, _ = parse_line(entry.line, entry.stream)
        for v in {entry.parsed.get(name), parsed.get(name)} - {None}:
            values.add(value_for_query(v))
    return sorted(values)


# --- reading the entries ------------------------------------------------------------------------
def _categorised(ts: int, line: str, lbs: st.LabelsBuilder) -> tuple[dict, dict]:
    """The `extra` hook of the row stages: an entry's metadata and parsed labels, apart."""
    return ({k: v for k, v in lbs.add[METADATA].items() if k not in lbs.deleted},
            {k: v for k, v in lbs.add[PARSED].items() if k not in lbs.deleted})


def select_entries(store, tenant: str, expr: ast.LogQuery, start: int, end: int, line_limit: int,
                   deadline: Deadline = NO_DEADLINE) -> list[Entry]:
    """The newest `line_limit` entries of the log query, labels kept by category."""
    parts, streams = log_entries(store, tenant, expr, start, end, line_limit, "backward", deadline,
                                 extra=_categorised)
    stream_dicts = {sid: dict(ls) for sid, ls in streams.items()}
    out: list[Entry] = []
    for rows in parts:
        out.extend(_entries(rows, stream_dicts))
    return out


def _entries(rows: Rows, stream_dicts: dict[int, dict]) -> list[Entry]:
    lines = rows.line.to_pylist()
    sids = rows.stream.tolist()
    if rows.labels is not None:
        return [Entry(stream_dicts[s], line, meta, parsed) for s, line, (meta, parsed) in zip(sids, lines, rows.labels)]
    metas = rows.meta.to_pylist() if rows.meta is not None else [""] * len(rows)
    # Per entry, bounded by line_limit: the metadata category of its labels (a name taken by a
    # stream label is `<name>_extracted`, as the row stages' builder has it).
    out = []
    for s, line, m in zip(sids, lines, metas):
        labels = without_stages(stream_dicts[s], dict(meta_pairs(m or "")))
        out.append(Entry(stream_dicts[s], line, {k: labels[k] for k in labels.metadata}, {}))
    return out


def detected_fields(entries: list[Entry], limit: int) -> list[dict]:
    collector = FieldCollector(limit)
    for entry in entries:
        collector.add(entry)
    return collector.result()


__all__ = ["Entry", "FieldCollector", "detected_fields", "determine_type", "field_type", "field_values",
           "select_entries", "value_for_query"]
