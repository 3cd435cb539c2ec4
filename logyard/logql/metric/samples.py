"""The samples of a range aggregation: rows read through its pipeline, one sample a surviving row.

A sample is 1, the line's bytes, or an unwrapped value, keyed by its series. Where Loki pushes a
`sum by` grouping into the range aggregation (`evaluate` decides when), rows map straight to the
output groups, which is both Loki's semantics (errors and labels aggregated away never surface)
and far less work. Without row stages, rows are grouped into series by column operations (a
Python step per distinct series, never per row); with them (or an unwrap), slices of `ROW_SLICE`
rows go through the per-row walk. Storage is asked only for the columns the pipeline and the
function need; the deadline and the series limit are checked between slices.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from logyard.errors import LimitError
from logyard.labels import LabelSet
from logyard.logql.deadline import NO_DEADLINE
from logyard.logql.entry_labels import without_stages
from logyard.logql.functions import FUNCTION_BY_NAME
from logyard.logql.line_hint import line_hint
from logyard.logql.metric import limits
from logyard.logql.parsed_columns import ParsedGroups
from logyard.logql.pipeline import _label_node, compile_pipeline, keeps_every_entry, needs_labels_after_parsers
from logyard.logql.stages import ParserHints, required_label_names
from logyard.logql.readahead import window_reads
from logyard.logql.storage_filter import storage_match
from logyard.logql.rows import Rows, group_codes, group_codes_by_meta_names, meta_pairs
from logyard.logql.syntax import ast
from logyard.logql.unwrap import unwrap_value

# Rows run through the row stages at once when extracting samples: between two slices the deadline
# and the series limit are checked, so neither waits for a whole window's worth of labels.
ROW_SLICE = 4096
COLUMNAR_PARSERS = True  # grouped parser pipelines answered by parsed_columns.py (tests turn it off)


def extract(store, tenant: str, grid: np.ndarray, expr: ast.RangeAggregation, grouping: ast.Grouping | None, *,
            max_series: int = 0, check=NO_DEADLINE.check, parallelism: int = 2):
    """Samples of the range aggregation: series labels, and per sample (series id, ts, value).

    `grouping` is the aggregation's own or the one a parent `sum by` pushes into it. `max_series`
    (0: none) is the series limit when these series are the query's result series one for one.
    """
    lo = int(grid[0]) - expr.offset_ns - expr.range_ns + 1   # windows are (t-range, t]
    hi = int(grid[-1]) - expr.offset_ns + 1
    log = expr.log
    streams = store.streams(tenant, list(log.selector.matchers), lo, hi)
    empty = ([], np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    if not streams:
        return empty
    pipe = tuple(s for s in log.pipeline if not keeps_every_entry(s))
    no_labels = (grouping is not None and not grouping.without and not grouping.labels
                 and expr.unwrap is None and not needs_labels_after_parsers(pipe))
    compiled = compile_pipeline(pipe, streams, skip_parsers=no_labels, check=check)
    compiled = replace(compiled, hints=_parser_hints(expr, compiled, grouping))
    grouping = _extractor_grouping(expr, grouping)
    # Literal filters alone before the samples: storage runs them, and no line is read.
    match = storage_match(compiled.filters) if not compiled.row_stages and expr.unwrap is None else None
    if match is not None:
        compiled = replace(compiled, filters=[])
    # An unwrap runs per row (`_row_samples`), and the per-row walk hands every stage its line.
    need_line = bool(compiled.filters or compiled.row_stages or expr.unwrap is not None)
    # `sum(...)` without labels and no row stage: every label, metadata too, is aggregated away.
    need_meta = not (no_labels and not compiled.row_stages and not compiled.label_filters)
    columns = ["stream", "ts", "meta"] if need_meta else ["stream", "ts"]
    if need_line:
        columns.append("line")
    if FUNCTION_BY_NAME[expr.op].bytes_samples:
        columns.append("len")
    keys: dict[LabelSet, int] = {}
    key_cache: dict[tuple, int] = {}  # (stream, metadata) -> series id, across windows
    all_ids, all_ts, all_vals = [], [], []
    keep_line = bool(compiled.row_stages) or expr.unwrap is not None
    stream_ids = np.fromiter(streams, dtype=np.int64, count=len(streams))

    # When every series made here is a result series, past the limit the query fails now, not after
    # grouping everything (`sum by (x)` of `label_format x="{{__line__}}"` makes a series a row).
    def check_series() -> None:
        nonlocal max_series
        if 0 < max_series < len(keys):
            if any(_errored(lbs) for lbs in keys):
                # Loki fails such a query with its pipeline error, which needs every sample to
                # name the right series: no early series limit for it.
                max_series = 0
                return
            raise LimitError(limits.SERIES_LIMIT.format(limit=max_series))

    in_windows = _in_some_window(grid, expr.range_ns, expr.offset_ns)
    by_parsed = None
    if COLUMNAR_PARSERS and grouping is not None and not grouping.without and not compiled.hints.no_labels:
        unwrap_filters = tuple(_label_node(f, stage=True) for f in expr.unwrap.filters) if expr.unwrap else ()
        by_parsed = ParsedGroups.of(compiled.row_stages, compiled.hints.required, expr.unwrap, unwrap_filters,
                                    grouping.labels)
    for rows in window_reads(store, tenant, stream_ids, lo, hi, direction="forward", columns=tuple(columns),
                             line_contains=line_hint(log), line_match=match, check=check, ahead=parallelism,
                             work=lambda t: compiled.columnar_table(t, keep_line=keep_line)):
        if in_windows is not None and len(rows):
            keep = in_windows(rows.ts)
            rows = rows if keep.all() else rows.take(keep)
        if not len(rows):
            continue
        if by_parsed is not None:
            check()
            g = by_parsed.group(rows, compiled.stream_labels, compiled.hints, check)
            used = np.zeros(len(g.builders), dtype=bool)
            used[g.codes[g.codes >= 0]] = True  # combinations with a sample here: only they make series
            kids = np.array([keys.setdefault(_grouped_labels(lbs, grouping), len(keys)) if u and lbs is not None
                             else -1 for lbs, u in zip(g.builders, used.tolist())], dtype=np.int64)  # -1: no series
            check_series()
            kept = g.codes >= 0
            kept[kept] = kids[g.codes[kept]] >= 0
            all_ids.append(kids[g.codes[kept]])
            all_ts.append(rows.ts[kept])
            if g.values is not None:
                all_vals.append(g.values[kept])
            elif FUNCTION_BY_NAME[expr.op].bytes_samples:
                all_vals.append(rows.line_bytes()[kept].astype(np.float64))
            else:
                all_vals.append(np.ones(int(kept.sum())))
            if not g.declined.any():
                continue
            rows = rows.take(g.declined)  # the rows the C scan left to the per-row walk
        if compiled.row_stages or expr.unwrap is not None:
            for a in range(0, len(rows), ROW_SLICE):
                check()
                ids, ts, vals = _row_samples(expr, compiled, _slice(rows, a, a + ROW_SLICE), grouping, keys)
                check_series()
                all_ids.append(ids)
                all_ts.append(ts)
                all_vals.append(vals)
            continue
        ids, ts, vals = _group_samples(expr, rows, streams, grouping, keys, key_cache)
        check_series()
        all_ids.append(ids)
        all_ts.append(ts)
        all_vals.append(vals)
    if not all_ids:
        return empty
    # Samples in read order; the caller sorts them only for the ops that need order.
    ids, ts = np.concatenate(all_ids), np.concatenate(all_ts)
    if all_vals[0] is None:  # every sample counts 1: a read-only view, not an array of ones
        return list(keys), ids, ts, np.broadcast_to(np.float64(1.0), ts.shape)
    return list(keys), ids, ts, np.concatenate(all_vals)


def _group_samples(expr, rows: Rows, streams, grouping, keys, key_cache):
    """No row stages: series are (stream, metadata) combinations, grouped without a row loop.

    With `by (...)`, only the metadata names in the grouping matter, so high-cardinality metadata
    (trace ids) never multiplies the series: each row's key is (stream, the grouped metadata values).
    """
    if grouping is not None and not grouping.without and rows.meta is not None:
        codes, uniq = group_codes_by_meta_names(rows, grouping.labels)
    else:
        codes, uniq = group_codes(rows)
    key_ids = np.empty(len(uniq), dtype=np.int64)
    for j, key in enumerate(uniq):  # per distinct series, not per row
        kid = key_cache.get(key)
        if kid is None:
            sid, meta = key
            pairs = meta_pairs(meta) if isinstance(meta, str) else meta
            labels = LabelSet(without_stages(dict(streams[sid]), dict(pairs)).items())
            labels = _apply_grouping(labels, grouping)
            kid = key_cache[key] = keys.setdefault(labels, len(keys))
        key_ids[j] = kid
    ids = key_ids[codes]
    vals = rows.line_bytes().astype(np.float64) if FUNCTION_BY_NAME[expr.op].bytes_samples else None  # None: all 1
    return ids, rows.ts, vals


def _row_samples(expr, compiled, rows: Rows, grouping, keys):
    unwrap = expr.unwrap
    filters = None
    if unwrap is not None and unwrap.filters:
        filters = [_label_node(f, stage=True) for f in unwrap.filters]
    values: list[float] = []
    bytes_samples = FUNCTION_BY_NAME[expr.op].bytes_samples

    def extra(ts, line, lbs):
        if unwrap is None:
            values.append(float(len(line.encode())) if bytes_samples else 1.0)
            return _grouped_labels(lbs, grouping)
        raw = lbs.get(unwrap.label)
        if not raw:
            return None  # Loki: a line without the unwrapped label (or with it empty) gives no sample
        v = unwrap_value(raw, unwrap.conv, lbs)
        # The unwrapped label stays on the builder, so the filters after unwrap can test it; the
        # extractor's grouping (`_extractor_grouping`) is what drops it from the series.
        if filters:
            for f in filters:
                _, keep = f.process(ts, line, lbs)
                if not keep:
                    return None
        values.append(v)
        return _grouped_labels(lbs, grouping)

    out = compiled.per_row(rows, extra) if compiled.row_stages else _plain_rows(compiled, rows, extra)
    ids = np.empty(len(out), dtype=np.int64)
    for i, labels in enumerate(out.labels or []):  # per surviving row: labels are label sets
        ids[i] = keys.setdefault(labels, len(keys))
    return ids, out.ts, np.asarray(values, dtype=np.float64)


def _grouped_labels(lbs, grouping) -> LabelSet:
    """A row's series labels (Loki's GroupedLabels): an errored row keeps every label, `__error__`
    included, so the grouping cannot hide the error from the pipeline-error check."""
    labels = LabelSet(lbs.labels().items())
    return labels if lbs.has_err() else _apply_grouping(labels, grouping)


def _extractor_grouping(expr: ast.RangeAggregation, grouping: ast.Grouping | None) -> ast.Grouping | None:
    """The grouping Loki's sample extractor applies to each sample's labels.

    An unwrap without a grouping (or with `without`) groups `without` the unwrapped label, so the
    label leaves the series; `by (...)` keeps only the labels named, the unwrapped one too when it
    is named (`sum by (latency) (sum_over_time(... | unwrap latency [1m]))` groups by its values).
    `by ()` stays: Loki's noLabels answers one label-less series before the `without` applies.
    """
    unwrap = expr.unwrap
    if unwrap is None or (grouping is not None and not grouping.without and not grouping.labels):
        return grouping
    if grouping is None or grouping.without or not grouping.labels:
        names = grouping.labels if grouping is not None and grouping.without else ()
        return ast.Grouping(without=True, labels=tuple(sorted({*names, unwrap.label})))
    return grouping


def _parser_hints(expr: ast.RangeAggregation, compiled, grouping: ast.Grouping | None) -> ParserHints:
    """Loki's NewParserHint for this extractor: which labels the parsers must extract, and whether
    a parser error is kept on purpose (`__preserve_error__`, when the hints name `__error__`)."""
    required = required_label_names(compiled.row_stages)
    unwrap = expr.unwrap
    if unwrap is not None:
        required += required_label_names([_label_node(f, stage=True) for f in unwrap.filters])
    # Loki's Grouping.Singleton: `sum(...)` pushed down, or `by ()`. absent_over_time never groups.
    no_labels = (grouping is not None and not grouping.without and not grouping.labels) \
        or expr.op == "absent_over_time"
    extractor = _extractor_grouping(expr, grouping)  # noLabels is decided before the unwrap's `without`
    groups = extractor.labels if extractor is not None else ()
    without = bool(extractor is not None and extractor.without)
    return ParserHints.for_metric(required, groups, without, no_labels, unwrap.label if unwrap else "")


def _errored(labels: LabelSet) -> bool:
    """A series `check_pipeline_errors` fails the query for."""
    return any(k == limits.ERROR_LABEL for k, _ in labels) and labels.get(limits.PRESERVE_ERROR_LABEL) != "true"


def _in_some_window(grid: np.ndarray, range_ns: int, offset_ns: int):
    """A function telling, per sample timestamp, whether any step's window (s-offset-range, s-offset]
    holds it; None when the windows tile the whole range read (step <= range). A sample in no window
    is in no result point, so it makes no series (as in Loki, which only ever sees it in no window)."""
    if len(grid) < 2 or int(grid[1] - grid[0]) <= range_ns:
        return None

    def keep(ts: np.ndarray) -> np.ndarray:
        t = ts + offset_ns
        j = np.searchsorted(grid, t, side="left")  # the first step s >= ts + offset
        inside = j < len(grid)
        return inside & (grid[np.minimum(j, len(grid) - 1)] < t + range_ns)

    return keep


def _slice(rows: Rows, a: int, b: int) -> Rows:
    """Rows [a, b) without copying (Arrow and NumPy slices are views)."""
    if a == 0 and b >= len(rows):
        return rows
    n = min(b, len(rows)) - a
    return Rows(rows.ts[a:b], rows.stream[a:b], rows.line.slice(a, n) if rows.line is not None else None,
                rows.meta.slice(a, n) if rows.meta is not None else None,
                rows.labels[a:b] if rows.labels is not None else None,
                rows.nbytes[a:b] if rows.nbytes is not None else None)


def _plain_rows(compiled, rows: Rows, extra) -> Rows:
    """Unwrap with no row stages: run only the extraction step per row."""
    return compiled.per_row(rows, extra) if compiled.row_stages else replace(
        compiled, row_stages=[_NoopStage()]).per_row(rows, extra)


class _NoopStage:
    def process(self, ts, line, lbs):
        return line, True


def _apply_grouping(labels: LabelSet, grouping: ast.Grouping | None) -> LabelSet:
    if grouping is None:
        return labels
    if grouping.without:
        return labels.without(grouping.labels)
    return labels.keep(grouping.labels)
