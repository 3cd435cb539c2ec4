"""Loki's distributor checks and ingest-time additions, applied to decoded streams.

Stream checks (ValidateLabels) drop a whole stream, entry checks (ValidateEntry: line size,
structured metadata size and count) drop one entry; the rest is kept and the messages are grouped
into one 400 answer, as Loki does. Also here: the `service_name` label, structured metadata key
normalisation, and `detected_level` (stream label, then metadata, then the line; see level.py).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from logyard.errors import BadRequestError
from logyard.ingest import _metajson
from logyard.ingest.labelparse import go_quote
from logyard.ingest.level import LEVEL_FIELDS, LEVELS, normalize_level
from logyard.ingest.level_fast import detect_levels
from logyard.ingest.model import PushStream
from logyard.ingest.raw import RawStream, remember
from logyard.labels import LabelSet

# Loki's default `discover_service_name` list (pkg/validation/limits.go), in priority order.
DEFAULT_LIST: list[str] = [
    "service", "app", "application", "app_name", "name", "app_kubernetes_io_name", "container",
    "container_name", "k8s_container_name", "component", "workload", "job", "k8s_job_name",
]  # fmt: skip
SERVICE_NAME = "service_name"
UNKNOWN_SERVICE = "unknown_service"
LEVEL_LABEL = "detected_level"
# Streams Loki writes for itself get no service_name (push.go isInternalStream).
_INTERNAL_LABELS = ("__aggregated_metric__", "__pattern__")

# Loki's validation texts (pkg/validation/validate.go).
MISSING_STREAMS = "error at least one valid stream is required for ingestion"
LINE_TOO_LONG = "max entry size '{}' bytes exceeded for stream '{}' while adding an entry with length '{}' bytes"
MAX_LABEL_NAMES = "entry for stream '{}' has {} label names; limit {}"
LABEL_NAME_TOO_LONG = "stream '{}' has label name too long: '{}'"
LABEL_VALUE_TOO_LONG = "stream '{}' has label value too long: '{}'"
DUPLICATE_LABEL = "stream '{}' has duplicate label name: '{}'"
SM_TOO_LARGE = (
    "stream '{}' has structured metadata too large: '{}' bytes, limit: '{}' bytes. Please see "
    "`limits_config.max_structured_metadata_size` or contact your Loki administrator to increase it"
)
SM_TOO_MANY = (
    "stream '{}' has too many structured metadata labels: '{}', limit: '{}'. Please see "
    "`limits_config.max_structured_metadata_entries_count` or contact your Loki administrator to increase it"
)

_SM_NAME_OK = re.compile(r"[A-Za-z_](?:[A-Za-z0-9]|_(?!_))*")
# `{"detected_level":"<level>"}` for each code, the metadata of an entry that has nothing else.
_LEVEL_ONLY = np.array([orjson.dumps({LEVEL_LABEL: lv}).decode() for lv in LEVELS], dtype=object)


@dataclass
class DecodeResult:
    """The accepted streams plus what the server needs for metrics and its answer."""

    streams: list[PushStream]
    lines: int = 0  # accepted entries
    bytes: int = 0  # accepted line bytes (UTF-8)
    metadata_bytes: int = 0  # accepted structured metadata bytes (names + values), as Loki counts
    discarded_lines: dict[str, int] = field(default_factory=dict)  # Loki reason -> entries dropped
    discarded_bytes: dict[str, int] = field(default_factory=dict)
    truncated_lines: int = 0  # lines cut to max_line_size (max_line_size_truncate): Loki's mutated samples
    truncated_bytes: int = 0  # bytes cut off them
    error: BadRequestError | None = None  # answer with this (400) after storing `streams`


def _print_labels(pairs: list[tuple[str, str]]) -> str:
    """Prometheus' labels.String(): sorted, Go-quoted; what Loki's messages show."""
    return "{" + ", ".join(f"{k}={go_quote(v)}" for k, v in sorted(pairs)) + "}"


def normalize_metadata_name(name: str) -> str:
    """Loki renames structured metadata keys with otlptranslator's LabelNamer (non-UTF-8 mode)."""
    if _SM_NAME_OK.fullmatch(name) and name.strip("_"):
        return name
    if not name:
        raise BadRequestError("label name is empty")
    reserved = len(name) >= 4 and name.startswith("__") and name.endswith("__")
    core = name[2:-2] if reserved else name
    out = re.sub(r"[^A-Za-z0-9]+", "_", core)  # invalid runs, underscores included, become one `_`
    if reserved:
        out = f"__{out}__"
    if out[:1].isdigit() and out[:1].isascii():
        out = "key_" + out
    if not out.strip("_"):
        raise BadRequestError(f"normalization for label name {go_quote(name)} resulted in invalid name {go_quote(out)}")
    return out


# Structured metadata names seen to need no renaming (most bodies repeat a handful of names).
_CLEAN_NAMES: set[str] = set()
_LEVEL_KEYS = frozenset((*LEVEL_FIELDS, LEVEL_LABEL, "severity_number"))


def _metadata_name(name: str) -> str:
    fixed = normalize_metadata_name(name)
    if fixed == name and len(_CLEAN_NAMES) < 10000:
        _CLEAN_NAMES.add(name)
    return fixed


@dataclass
class _StreamInfo:
    """What validation and enrichment need of one stream's labels, worked out once per label set."""

    pairs: list[tuple[str, str]]  # with service_name
    labels: LabelSet
    printed: str  # as Loki prints it in messages
    level: str | None  # detected_level from a level-like stream label
    problem: tuple[str, str] | None  # (discard reason, message) when the stream is invalid


_STREAM_INFO: dict[tuple, dict[tuple, _StreamInfo]] = {}


def _with_service_name(pairs: list[tuple[str, str]], service_list: list[str]) -> list[tuple[str, str]]:
    names = {k for k, _ in pairs}
    if SERVICE_NAME in names or not service_list or not names.isdisjoint(_INTERNAL_LABELS):
        return pairs
    found = dict(pairs)
    service = next((found[n] for n in service_list if found.get(n)), UNKNOWN_SERVICE)
    return pairs + [(SERVICE_NAME, service)]


class Validator:
    def __init__(self, max_line: int, max_names: int, max_name_len: int, max_value_len: int, max_sm_size: int, max_sm_count: int, truncate: bool = False) -> None:  # fmt: skip
        self.limits = (max_line, max_names, max_name_len, max_value_len, max_sm_size, max_sm_count)
        self.max_line = max_line
        self.truncate = truncate  # max_line_size_truncate: long lines are cut, not dropped
        self.max_names = max_names
        self.max_name_len = max_name_len
        self.max_value_len = max_value_len
        self.max_sm_size = max_sm_size
        self.max_sm_count = max_sm_count
        self.errors: list[str] = []
        self.result = DecodeResult(streams=[])
        self._cache: dict[tuple, _StreamInfo] | None = None
        self._cache_for: list[str] | None = None

    def discard(self, reason: str, lines: int, nbytes: int, message: str | None) -> None:
        r = self.result
        r.discarded_lines[reason] = r.discarded_lines.get(reason, 0) + lines
        r.discarded_bytes[reason] = r.discarded_bytes.get(reason, 0) + nbytes
        if message is not None:
            self.errors.append(message)

    def run(self, raw: list[RawStream], service_list: list[str], levels: bool) -> DecodeResult:
        kept: list[tuple[_StreamInfo, RawStream]] = []
        for s in raw:
            if not s.lines:
                continue  # Loki skips empty streams before validating them
            info = self.stream(s.pairs, service_list)
            if info.problem is not None:
                size = sum(len(line.encode()) for line in s.lines)  # error path only
                self.discard(info.problem[0], len(s.lines), size, info.problem[1])
                continue
            kept.append((info, s))
        if kept:
            self.entries(kept, levels)
        if self.errors:
            self.result.error = BadRequestError(_group_errors(self.errors))
        return self.result

    def stream(self, pairs: list[tuple[str, str]], service_list: list[str]) -> _StreamInfo:
        """`stream_info`, worked out once per label set (streams repeat from push to push)."""
        if self._cache is None or self._cache_for != service_list:
            self._cache_for = service_list
            self._cache = _STREAM_INFO.setdefault((tuple(service_list), self.limits), {})
        key = tuple(pairs)
        info = self._cache.get(key)
        if info is None:
            info = self.stream_info(pairs, service_list)
            remember(self._cache, key, info)
        return info

    def stream_info(self, raw_pairs: list[tuple[str, str]], service_list: list[str]) -> _StreamInfo:
        pairs = _with_service_name(raw_pairs, service_list)
        labels = dict(pairs)
        field_value = next((labels[f] for f in LEVEL_FIELDS if f in labels), None)
        return _StreamInfo(
            pairs=pairs,
            labels=LabelSet(pairs),
            printed=_print_labels(pairs),
            # Loki: a level field among the stream labels decides every entry's detected_level.
            level=None if field_value is None else normalize_level(field_value),
            problem=self.stream_problem(pairs),
        )

    def stream_problem(self, pairs: list[tuple[str, str]]) -> tuple[str, str] | None:
        """Loki's ValidateLabels: (reason, message) when the whole stream must be dropped."""
        names = {k for k, _ in pairs}
        if not names.isdisjoint(_INTERNAL_LABELS):
            return None
        count = len(pairs) - (1 if SERVICE_NAME in names else 0)
        printed = _print_labels(pairs)
        if self.max_names and count > self.max_names:
            return "max_label_names_per_series", MAX_LABEL_NAMES.format(printed, count, self.max_names)
        last = ""
        for k, v in sorted(pairs):
            if self.max_name_len and len(k.encode()) > self.max_name_len:
                return "label_name_too_long", LABEL_NAME_TOO_LONG.format(printed, k)
            if self.max_value_len and len(v.encode()) > self.max_value_len:
                return "label_value_too_long", LABEL_VALUE_TOO_LONG.format(printed, v)
            if k == last:
                return "duplicate_label_names", DUPLICATE_LABEL.format(printed, k)
            last = k
        return None

    def entries(self, kept: list[tuple[_StreamInfo, RawStream]], levels: bool) -> None:
        # One column for the whole body: byte lengths, size checks and level detection run once.
        column = _line_column(kept)
        nbytes = pc.binary_length(column).to_numpy()
        if self.truncate and self.max_line and (nbytes > self.max_line).any():
            column, nbytes = self.truncate_lines(kept, nbytes)
        ok = nbytes <= self.max_line if self.max_line else np.ones(len(column), dtype=bool)
        all_ok = bool(ok.all())
        codes = detect_levels(column) if levels else None

        whole: list[PushStream] = []
        start = 0
        for info, s in kept:
            n = len(s.lines)
            stop = start + n
            keep = None
            if not all_ok and not ok[start:stop].all():
                keep = ok[start:stop].copy()
                for i in np.flatnonzero(~keep).tolist():
                    size = int(nbytes[start + i])
                    self.discard("line_too_long", 1, size, LINE_TOO_LONG.format(self.max_line, info.printed, size))
            metadata = self.metadata(info, s, keep, codes[start:stop] if codes is not None else None)
            if keep is None and s.sm_dropped:
                keep = np.ones(n, dtype=bool)
            if keep is not None:
                for i in s.sm_dropped:
                    keep[i] = False
                idx = np.flatnonzero(keep)
                if len(idx):
                    ilist = idx.tolist()
                    self.result.streams.append(
                        PushStream(info.labels, s.ts[idx], [s.lines[i] for i in ilist], [metadata[i] for i in ilist])
                    )
                    self.result.lines += len(idx)
                ok[start + np.flatnonzero(~keep)] = False
            else:
                # The body's line column, sliced (zero-copy): storage need not convert the lines again.
                whole.append(PushStream(info.labels, s.ts, s.lines, metadata, column.slice(start, n)))
                self.result.streams.append(whole[-1])
                self.result.lines += n
            start = stop
        if whole:
            # One conversion for the metadata of every stream kept whole, sliced back per stream.
            meta = pa.array(list(itertools.chain.from_iterable(w.metadata for w in whole)), type=pa.string())
            at = 0
            for w in whole:
                w.arrow_meta = meta.slice(at, len(w.metadata))
                at += len(w.metadata)
        self.result.bytes = int(nbytes.sum() if all_ok and ok.all() else nbytes[ok].sum())

    def truncate_lines(self, kept: list[tuple[_StreamInfo, RawStream]], nbytes: np.ndarray) -> tuple[pa.Array, np.ndarray]:  # fmt: skip
        """Loki's truncateLines: each line over max_line_size cut to that many bytes. Go slices the
        bytes and may split a character; here the split character is left out, so a cut line may be
        a few bytes shorter than the limit. Per long line only; the column is then built again."""
        over = np.flatnonzero(nbytes > self.max_line)
        bounds = np.cumsum([len(s.lines) for _, s in kept])
        for where in over.tolist():
            k = int(np.searchsorted(bounds, where, side="right"))
            s = kept[k][1]
            i = where - (int(bounds[k - 1]) if k else 0)
            if not isinstance(s.lines, list):
                s.lines = list(s.lines)  # a scanner column: now plain strings, rebuilt below
            s.lines[i] = s.lines[i].encode()[: self.max_line].decode("utf-8", errors="ignore")
        self.result.truncated_lines += len(over)
        self.result.truncated_bytes += int((nbytes[over] - self.max_line).sum())
        column = _line_column(kept)
        return column, pc.binary_length(column).to_numpy()

    def metadata(self, info: _StreamInfo, s: RawStream, keep: np.ndarray | None, codes: np.ndarray | None) -> list[str]:  # fmt: skip
        """Per entry: canonical JSON of its structured metadata, `detected_level` included."""
        n = len(s.lines)
        stream_level = info.level
        if codes is None:
            out = [""] * n
        elif stream_level is not None:
            out = [orjson.dumps({LEVEL_LABEL: stream_level}).decode()] * n
        else:
            out = _LEVEL_ONLY[codes].tolist()
        if not s.sm:
            return out
        max_size, max_count = self.max_sm_size, self.max_sm_count  # Loki checks size, then count
        items = s.sm.items()
        if keep is None and stream_level is None:
            # The C pass writes the entries whose names are clean and hold no level field; the
            # rest (renames, level fields, limits) come back for the per-entry code below.
            done_bytes, declined = _metajson.canonical(s.sm, codes, LEVELS, _LEVEL_KEYS, out, max_size, max_count)
            self.result.metadata_bytes += done_bytes
            items = [(i, s.sm[i]) for i in declined]
        code_list = codes.tolist() if codes is not None else None
        keep_list = keep.tolist() if keep is not None else None
        # Per-entry Python, deliberately: only entries that carry structured metadata get here.
        for i, sm in items:
            if keep_list is not None and not keep_list[i]:
                continue
            meta = sm
            if not _CLEAN_NAMES.issuperset(sm) or "\ufffd" in "\n".join(sm.values()):
                # Loki renames keys and drops U+FFFD (its mark of invalid UTF-8) from values.
                meta = {_metadata_name(k): v.replace("\ufffd", "") for k, v in sm.items()}
            if code_list is not None:
                if stream_level is None and meta.keys().isdisjoint(_LEVEL_KEYS):
                    meta = {**meta, LEVEL_LABEL: LEVELS[code_list[i]]}
                else:
                    level = _entry_level(meta, stream_level, code_list[i])
                    meta = {k: v for k, v in meta.items() if k != LEVEL_LABEL}
                    if level:
                        meta[LEVEL_LABEL] = level
            dumped = orjson.dumps(meta, option=orjson.OPT_SORT_KEYS)
            # The JSON text is longer than names plus values: only a long one needs counting.
            if (max_size and len(dumped) > max_size) or (max_count and len(sm) > max_count):
                size = sum(len(k.encode()) + len(v.encode()) for k, v in sm.items())
                if max_size and size > max_size:
                    reason, text = "structured_metadata_too_large", SM_TOO_LARGE.format(info.printed, size, max_size)
                elif max_count and len(sm) > max_count:
                    reason, text = "structured_metadata_too_many", SM_TOO_MANY.format(info.printed, len(sm), max_count)
                else:
                    reason = ""
                if reason:
                    self.discard(reason, 1, len(s.lines[i].encode()) + size, text)
                    s.sm_dropped.append(i)
                    continue
            out[i] = dumped.decode()
            self.result.metadata_bytes += _names_values_bytes(meta, dumped)
        return out


def _line_column(kept: list[tuple[_StreamInfo, RawStream]]) -> pa.Array:
    """The lines of the kept streams as one Arrow string array."""
    if all(s.column is not None for _, s in kept):
        # The C decoder's arrays (slices of one body column): concatenated, not converted.
        return kept[0][1].column if len(kept) == 1 else pa.concat_arrays([s.column for _, s in kept])
    all_lines = list(itertools.chain.from_iterable(s.lines for _, s in kept)) if len(kept) > 1 else kept[0][1].lines
    try:
        return pa.array(all_lines, type=pa.string())
    except (pa.ArrowException, TypeError):
        for _, s in kept:  # error path only: name the first line that is not a string
            for i, line in enumerate(s.lines):
                if not isinstance(line, str):
                    raise BadRequestError(f"streams[{s.index}].values[{i}][1]: the log line must be a string") from None
        raise


def _names_values_bytes(meta: dict[str, str], dumped: bytes) -> int:
    """Loki's structured metadata size: UTF-8 bytes of names and values, detected_level left out
    (Loki adds it after counting). Read off the JSON text when it holds no escape: each pair adds
    6 bytes of quotes, colon and comma to its name and value, less one comma, plus the braces."""
    if b"\\" in dumped:  # rare: escaped characters; count them one by one
        return sum(len(k.encode()) + len(v.encode()) for k, v in meta.items() if k != LEVEL_LABEL)
    size = len(dumped) - 6 * len(meta) - 1 if meta else 0
    level = meta.get(LEVEL_LABEL)
    return size - len(LEVEL_LABEL) - len(level.encode()) if level is not None else size


def _entry_level(meta: dict[str, str], stream_level: str | None, line_code: int) -> str:
    """Loki's extractLogLevel for an entry that has structured metadata."""
    if LEVEL_LABEL in meta:
        return normalize_level(meta[LEVEL_LABEL])  # already set by the client: only normalised
    if stream_level is not None:
        return stream_level
    for f in LEVEL_FIELDS:
        if f in meta:
            return normalize_level(meta[f])
    severity = meta.get("severity_number")
    if severity:
        return _otlp_severity(severity)
    return LEVELS[line_code]


def _otlp_severity(text: str) -> str:
    """OTLP severity numbers (1-4 trace, 5-8 debug, ... 21-24 fatal), as Loki maps them."""
    try:
        n = int(text)
    except ValueError:
        return "info"  # Loki's choice for an unparsable number
    if n == 0:
        return "unknown"
    for bound, name in ((4, "trace"), (8, "debug"), (12, "info"), (16, "warn"), (20, "error"), (24, "fatal")):
        if n <= bound:
            return name
    return "unknown"


def _group_errors(errors: list[str]) -> str:
    """Loki's GroupedErrors text: `N errors like: msg` when a message repeats or differs."""
    counts: dict[str, int] = {}
    for e in errors:
        counts[e] = counts.get(e, 0) + 1
    if len(counts) == 1 and len(errors) == 1:
        return errors[0]
    return "; ".join(f"{n} errors like: {e}" for e, n in counts.items())
