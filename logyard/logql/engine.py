"""The LogQL engine: parse, plan against the store, evaluate, and shape Loki's `data` answers.

Log queries stream windows out of storage in the query's direction and stop at the limit. Metric
queries extract samples (one per surviving row: 1, the line's bytes, or an unwrapped value) keyed by
their series, then evaluate every step at once (`metric.range_agg`). Where Loki pushes a `sum by`
grouping into the range aggregation, so do we: rows map straight to the output groups, which is both
Loki's semantics (errors and labels aggregated away never surface) and far less work.

Windows are read window by window in two worker threads (`window_reads`): Parquet decoding and the
Arrow/RE2 line filters release the GIL, so two windows decode and filter at once on two cores.

A query's work is bounded: its `Deadline` is checked between windows, line filters, slices of rows
and metric nodes, so a timed-out or abandoned query stops in every thread working for it; the series
limit is enforced while samples are grouped when those groups are the result's series; identical
range aggregations in one query are evaluated once.
"""

from __future__ import annotations

import functools
import queue
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pyarrow as pa

from logyard.errors import BadRequestError, LimitError
from logyard.labels import LabelSet
from logyard.logql import ast
from logyard.logql.deadline import NO_DEADLINE, Deadline
from logyard.logql.durations import format_duration, format_prom_duration
from logyard.logql.log_result import collect_entries, encode_streams
from logyard.logql.metric import additive, binop, limits, range_agg, result_json, steps, vector_agg
from logyard.logql.metric.series import StepMatrix
from logyard.logql.parser import parse
from logyard.logql.pipeline import compile_pipeline, needs_labels_after_parsers
from logyard.logql.rows import Rows, group_codes, group_codes_by_meta_names, meta_pairs
from logyard.logql.source import LogSource
from logyard.logql.unwrap import unwrap_value

INSTANT_LOG_QUERY = ("log queries are not supported as an instant query type, please change your query "
                     "to a range query type")

# Range operations whose `sum by` parent Loki pushes into the extractor (canInjectVectorGrouping).
_INJECTABLE = frozenset({"bytes_over_time", "bytes_rate", "count_over_time", "rate", "sum_over_time"})
_BYTES_OPS = frozenset({"bytes_over_time", "bytes_rate"})


QUERY_TOO_LONG = "the query time range exceeds the limit (query length: {length}, limit: {limit})"
MS = 1_000_000


@dataclass(frozen=True)
class Limits:
    max_entries: int = 5000
    max_series: int = 500
    max_points: int = 11000
    max_query_length_ns: int = 721 * 3600 * 10**9  # Loki's max_query_length; 0 disables it


class Engine:
    def __init__(self, store: LogSource, limits: Limits = Limits()) -> None:
        self.store = store
        self.limits = limits

    # --- entry points ---------------------------------------------------------------------------
    def query_range(self, tenant: str, query: str, start: int, end: int, step: int | None,
                    interval: int | None, limit: int, direction: str, deadline: Deadline = NO_DEADLINE) -> dict:
        expr = _parse(query)
        self._check_length(start, end)
        if ast.is_log_query(expr):
            return {"resultType": "streams",
                    "result": self.log_query(tenant, expr, start, end, limit, direction, deadline)}
        if end < start:
            raise BadRequestError("end timestamp must not be before or equal to start time")
        step = step if step is not None else steps.default_step_ns(start, end)
        steps.check_step(start, end, step, self.limits.max_points)
        grid = steps.range_grid(start, end, step)
        value = _Eval(self, tenant, grid, expr, deadline).eval(expr, None)
        if isinstance(value, float):
            sm = binop.vector(value, grid)
            sm = StepMatrix((LabelSet(),), grid, sm.values, sm.present)
            return result_json.matrix_data(sm)
        self._check_series(value)
        return result_json.matrix_data(value)

    def query_instant(self, tenant: str, query: str, ts: int, limit: int, direction: str,
                      deadline: Deadline = NO_DEADLINE) -> dict:
        expr = _parse(query)
        if ast.is_log_query(expr):
            raise BadRequestError(INSTANT_LOG_QUERY)
        grid = steps.instant_grid(ts)
        value = _Eval(self, tenant, grid, expr, deadline).eval(expr, None)
        if isinstance(value, float):
            return result_json.scalar_data(value, ts)
        self._check_series(value)
        return result_json.vector_data(value, keep_order=_has_sort(expr))

    # --- log queries ----------------------------------------------------------------------------
    def log_query(self, tenant: str, expr: ast.LogQuery, start: int, end: int, limit: int,
                  direction: str, deadline: Deadline = NO_DEADLINE) -> list[dict]:
        streams = self.store.streams(tenant, list(expr.selector.matchers), start, end)
        if not streams:
            return []
        pipeline = compile_pipeline(expr.pipeline, streams, check=deadline.check)
        ids = np.fromiter(streams, dtype=np.int64, count=len(streams))
        # Windows are filtered in the reading threads; a limit the newest window fills reads no other.
        # With no stage at all every row read is an entry: a window's first `limit` rows are all
        # the query can take from it, so storage need not decode the rest.
        windows = window_reads(self.store, tenant, ids, start, end, direction=direction,
                               columns=("stream", "ts", "line", "meta"), line_contains=required_substrings(expr),
                               work=pipeline.columnar_table, ramp=True, first=None if expr.pipeline else limit,
                               check=deadline.check)
        parts = collect_entries(windows, pipeline, limit, direction)
        return encode_streams(parts, streams, direction)

    def _check_series(self, sm: StepMatrix) -> None:
        limits.check_series_limit(sm, self.limits.max_series)

    def _check_length(self, start: int, end: int) -> None:
        """Loki's max_query_length: the range measured in whole milliseconds, Go-printed; the limit
        printed as a Prometheus duration (queryrange's limitsMiddleware)."""
        limit = self.limits.max_query_length_ns
        length = (end // MS - start // MS) * MS
        if limit > 0 and length > limit:
            raise LimitError(QUERY_TOO_LONG.format(length=format_duration(length), limit=format_prom_duration(limit)))


@functools.lru_cache(maxsize=256)
def _parse(query: str) -> ast.Expr:
    """`parse`, remembered per query text: dashboards repeat the same few queries, and the AST is
    frozen (nothing downstream mutates it). Errors are raised again each time, not remembered."""
    return parse(query)


def read_ahead(tables: Iterator[pa.Table], depth: int = 1) -> Iterator[pa.Table]:
    """`tables`, advanced up to `depth` windows ahead in a worker thread.

    Metric queries read every window; Parquet decoding (most of a read) releases the GIL, so the
    next window decodes on the other core while this one is filtered and grouped. The worker stops
    when the consumer does (an error, or the generator closed) and its errors surface here.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for t in tables:
                if not put((t, None)):
                    return
            put((_END, None))
        except BaseException as exc:  # noqa: BLE001 -- handed to the consumer, raised there
            put((_END, exc))

    worker = threading.Thread(target=produce, name="logyard-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item, exc = q.get()
            if item is _END:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()


_END = object()

# Windows read at once by `window_reads`; a range of more windows than this (a query from 1970)
# is read as one sequence, since each window's read costs a snapshot of the store.
MAX_WINDOW_READS = 24 * 31

# Each `store.read` call selects its rows from the whole head again (a head of 300k lines costs a
# 24-window read about 12 ms a window): with a head larger than this, one sequential read it is.
MAX_HEAD_LINES_FOR_WINDOW_READS = 20_000


def window_reads(store: LogSource, tenant: str, ids, lo: int, hi: int, *, direction: str, columns: tuple,
                 line_contains=(), work=None, ahead: int = 2, ramp: bool = False,
                 first: int | None = None, check=NO_DEADLINE.check) -> Iterator:
    """The tables of [lo, hi), window by window in `direction` order, each read (and passed
    through `work`) in a worker thread, up to `ahead` windows at once.

    Parquet decoding and the Arrow/RE2 line filters release the GIL, so on two cores two windows
    decode and filter at once. With `ramp`, the first window is read alone, in the calling thread:
    a log query whose limit the newest window fills reads nothing more. `first` is `LogSource.read`'s hint.
    `check` (the query's `Deadline.check`) runs before each table is worked on, in whichever thread.
    """
    work = work or (lambda t: t)
    window = store.window_ns
    w0 = lo // window * window if window else 0
    if (not window or hi <= lo or (hi - w0) // window > MAX_WINDOW_READS
            or store.head_lines() > MAX_HEAD_LINES_FOR_WINDOW_READS):
        tables = store.read(tenant, ids, lo, hi, direction=direction, columns=columns, line_contains=line_contains,
                            first=first)
        # A log query may stop at its first window: decode nothing ahead of it then.
        for t in (tables if ramp else read_ahead(tables)):
            check()
            yield work(t)
        return
    starts = list(range(w0, hi, window))
    if direction == "backward":
        starts.reverse()

    def one(w: int) -> list:
        out = []
        for t in store.read(tenant, ids, max(lo, w), min(hi, w + window), direction=direction,
                            columns=columns, line_contains=line_contains, first=first):
            check()
            out.append(work(t))
        return out

    nxt = 0
    if ramp:
        # In this thread: no hand-off to a worker (and back) when one window is all it takes.
        yield from one(starts[0])
        nxt = 1
    if nxt == len(starts):
        return
    pool = ThreadPoolExecutor(max_workers=ahead, thread_name_prefix="logyard-window")
    pending: deque = deque()
    try:
        while nxt < len(starts) or pending:
            check()
            while nxt < len(starts) and len(pending) < ahead:
                pending.append(pool.submit(one, starts[nxt]))
                nxt += 1
            yield from pending.popleft().result()
    finally:
        for f in pending:
            f.cancel()
        pool.shutdown(wait=False)


def required_substrings(log: ast.LogQuery) -> list[str]:
    """Substrings every matching line contains (leading `|= "x"` filters): a block-pruning hint."""
    return [f.value for f in log.line_filters() if f.op == "|=" and not f.or_values and not f.is_ip and f.value]


def _has_sort(expr) -> bool:
    """Loki keeps the evaluation order of an instant vector when sort/sort_desc appears anywhere."""
    return any(isinstance(e, ast.VectorAggregation) and e.op in ("sort", "sort_desc") for e in ast.walk(expr))


# Rows run through the row stages at once when extracting samples: between two slices the deadline
# and the series limit are checked, so neither waits for a whole window's worth of labels.
ROW_SLICE = 4096


def _result_range_aggregation(expr) -> ast.RangeAggregation | None:
    """The range aggregation whose series (or `sum by` groups, pushed into it) are the query's result
    series one for one, if there is one: then the series limit holds while its samples are grouped.

    That is the root itself, or under `sort`/`sort_desc` (they keep every series), or the child of
    such a `sum` when Loki's vector grouping is injected into it (no grouping of its own)."""
    while isinstance(expr, ast.VectorAggregation) and expr.op in ("sort", "sort_desc") and expr.grouping is None:
        expr = expr.expr
    if isinstance(expr, ast.RangeAggregation):
        return expr
    if (isinstance(expr, ast.VectorAggregation) and expr.op == "sum" and isinstance(expr.expr, ast.RangeAggregation)
            and expr.expr.grouping is None and expr.expr.op in _INJECTABLE):
        return expr.expr
    return None


class _Eval:
    """Evaluates one metric expression tree on one step grid."""

    def __init__(self, engine: Engine, tenant: str, grid: np.ndarray, root=None,
                 deadline: Deadline = NO_DEADLINE) -> None:
        self.engine = engine
        self.tenant = tenant
        self.grid = grid
        self.deadline = deadline
        self.bounded = _result_range_aggregation(root) if root is not None else None
        # Identical range aggregations (same node, same injected grouping) are evaluated once:
        # `x + x + ... + x` reads storage once. StepMatrix values are never mutated downstream.
        self._memo: dict[tuple, StepMatrix] = {}

    def eval(self, expr, parent):
        self.deadline.check()
        if isinstance(expr, ast.NumberLiteral):
            return float(expr.value)
        if isinstance(expr, ast.VectorExpr):
            return binop.vector(expr.value, self.grid)
        if isinstance(expr, ast.RangeAggregation):
            return self.range_aggregation(expr, parent)
        if isinstance(expr, ast.VectorAggregation):
            inner = self.eval(expr.expr, expr)
            if isinstance(inner, float):
                inner = binop.vector(inner, self.grid)
            g = expr.grouping
            return vector_agg.aggregate(expr.op, inner, g.labels if g else (), bool(g and g.without),
                                        expr.param)
        if isinstance(expr, ast.BinaryOp):
            return self.binary(expr)
        if isinstance(expr, ast.LabelReplace):
            inner = self.eval(expr.expr, expr)
            return binop.label_replace(inner, expr.dst, expr.replacement, expr.src, expr.regex)
        raise AssertionError(f"BUG: cannot evaluate {type(expr).__name__}")

    def binary(self, expr: ast.BinaryOp):
        # `a + b + c + …` is a left spine as long as the chain: walk it in a loop, not recursively.
        spine = [expr]
        while isinstance(spine[-1].lhs, ast.BinaryOp):
            spine.append(spine[-1].lhs)
        acc = self.eval(spine[-1].lhs, spine[-1])
        for node in reversed(spine):
            acc = self._apply(node, acc, self.eval(node.rhs, node))
        return acc

    def _apply(self, expr: ast.BinaryOp, lhs, rhs):
        if isinstance(lhs, float) and isinstance(rhs, float):
            return binop.scalar_binop(expr.op, lhs, rhs)
        if isinstance(rhs, float):
            return binop.vector_scalar_binop(expr.op, lhs, rhs, scalar_left=False, return_bool=expr.bool_mod)
        if isinstance(lhs, float):
            return binop.vector_scalar_binop(expr.op, rhs, lhs, scalar_left=True, return_bool=expr.bool_mod)
        m = expr.matching
        if m is None:
            matching = binop.VectorMatching()
        else:
            card = {None: binop.ONE_TO_ONE, "left": binop.MANY_TO_ONE, "right": binop.ONE_TO_MANY}[m.group_side]
            matching = binop.VectorMatching(card=card, on=m.on, labels=tuple(m.labels), include=tuple(m.include))
        return binop.vector_binop(expr.op, lhs, rhs, matching, return_bool=expr.bool_mod)

    # --- range aggregations ---------------------------------------------------------------------
    def range_aggregation(self, expr: ast.RangeAggregation, parent) -> StepMatrix:
        grouping = expr.grouping
        if (grouping is None and isinstance(parent, ast.VectorAggregation) and parent.op == "sum"
                and expr.op in _INJECTABLE):
            grouping = parent.grouping or ast.Grouping(without=False, labels=())
        key = (expr, grouping)
        try:
            out = self._memo.get(key)
        except RecursionError:  # a node too deep to hash (a label filter chain thousands long)
            return self._range_aggregation(expr, grouping)
        if out is None:
            out = self._memo[key] = self._range_aggregation(expr, grouping)
        return out

    def _range_aggregation(self, expr: ast.RangeAggregation, grouping: ast.Grouping | None) -> StepMatrix:
        labels, ids, ts, values = self.extract(expr, grouping)
        grid = self.grid
        if expr.op == "absent_over_time":
            inner = additive.additive_step_matrix("count_over_time", labels, ids, ts, values, grid,
                                                  expr.range_ns, expr.offset_ns)
            return range_agg.absent_over_time(inner, range_agg.absent_labels(expr.log.selector.matchers))
        if expr.op in additive.ADDITIVE_OPS:
            out = additive.additive_step_matrix(expr.op, labels, ids, ts, values, grid, expr.range_ns,
                                                expr.offset_ns, unwrap=expr.unwrap is not None)
        else:
            order = np.lexsort((ts, ids))
            out = range_agg.range_step_matrix(expr.op, labels, ids[order], ts[order], values[order], grid,
                                              expr.range_ns, expr.offset_ns, expr.param,
                                              unwrap=expr.unwrap is not None)
        limits.check_pipeline_errors(out)  # Loki's RangeVectorEvaluator: no __error__ series survive
        return out

    def extract(self, expr: ast.RangeAggregation, grouping: ast.Grouping | None):
        """Samples of the range aggregation: series labels, and per sample (series id, ts, value)."""
        store, tenant = self.engine.store, self.tenant
        lo = int(self.grid[0]) - expr.offset_ns - expr.range_ns + 1   # windows are (t-range, t]
        hi = int(self.grid[-1]) - expr.offset_ns + 1
        log = expr.log
        streams = store.streams(tenant, list(log.selector.matchers), lo, hi)
        empty = ([], np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
        if not streams:
            return empty
        pipe = log.pipeline
        no_labels = (grouping is not None and not grouping.without and not grouping.labels
                     and expr.unwrap is None and not needs_labels_after_parsers(pipe))
        check = self.deadline.check
        compiled = compile_pipeline(pipe, streams, skip_parsers=no_labels, check=check)
        # An unwrap runs per row (`_row_samples`), and the per-row walk hands every stage its line.
        need_line = bool(compiled.filters or compiled.row_stages or expr.unwrap is not None)
        # `sum(...)` without labels and no row stage: every label, metadata too, is aggregated away.
        need_meta = not (no_labels and not compiled.row_stages)
        columns = ["stream", "ts", "meta"] if need_meta else ["stream", "ts"]
        if need_line:
            columns.append("line")
        if expr.op in _BYTES_OPS:
            columns.append("len")
        keys: dict[LabelSet, int] = {}
        key_cache: dict[tuple, int] = {}  # (stream, metadata) -> series id, across windows
        all_ids, all_ts, all_vals = [], [], []
        keep_line = bool(compiled.row_stages) or expr.unwrap is not None
        stream_ids = np.fromiter(streams, dtype=np.int64, count=len(streams))
        # Every series made here is a result series: past the limit, the query fails now, not after
        # grouping everything (`sum by (x)` of `label_format x="{{__line__}}"` makes a series a row).
        max_series = self.engine.limits.max_series if expr is self.bounded and expr.op != "absent_over_time" else 0

        def check_series() -> None:
            nonlocal max_series
            if 0 < max_series < len(keys):
                if any(_errored(lbs) for lbs in keys):
                    # Loki fails such a query with its pipeline error, which needs every sample to
                    # name the right series: no early series limit for it.
                    max_series = 0
                    return
                raise LimitError(limits.SERIES_LIMIT.format(limit=max_series))

        in_windows = _in_some_window(self.grid, expr.range_ns, expr.offset_ns)
        for rows in window_reads(store, tenant, stream_ids, lo, hi, direction="forward", columns=tuple(columns),
                                 line_contains=required_substrings(log), check=check,
                                 work=lambda t: compiled.columnar_table(t, keep_line=keep_line)):
            if in_windows is not None and len(rows):
                keep = in_windows(rows.ts)
                rows = rows if keep.all() else rows.take(keep)
            if not len(rows):
                continue
            if compiled.row_stages or expr.unwrap is not None:
                for a in range(0, len(rows), ROW_SLICE):
                    check()
                    ids, ts, vals = self._row_samples(expr, compiled, _slice(rows, a, a + ROW_SLICE), grouping, keys)
                    check_series()
                    all_ids.append(ids)
                    all_ts.append(ts)
                    all_vals.append(vals)
                continue
            ids, ts, vals = self._group_samples(expr, rows, streams, grouping, keys, key_cache)
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

    def _group_samples(self, expr, rows: Rows, streams, grouping, keys, key_cache):
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
                labels = LabelSet({**dict(streams[sid]), **dict(pairs)}.items())
                labels = _apply_grouping(labels, grouping)
                kid = key_cache[key] = keys.setdefault(labels, len(keys))
            key_ids[j] = kid
        ids = key_ids[codes]
        vals = rows.line_bytes().astype(np.float64) if expr.op in _BYTES_OPS else None  # None: all 1
        return ids, rows.ts, vals

    def _row_samples(self, expr, compiled, rows: Rows, grouping, keys):
        unwrap = expr.unwrap
        filters = None
        if unwrap is not None and unwrap.filters:
            from logyard.logql.pipeline import _label_node

            filters = [_label_node(f, stage=True) for f in unwrap.filters]
        values: list[float] = []

        def extra(ts, line, lbs):
            if unwrap is None:
                values.append(float(len(line.encode())) if expr.op in _BYTES_OPS else 1.0)
                return lbs.labels()
            raw = lbs.get(unwrap.label)
            if raw is None:
                return None  # Loki: a line without the unwrapped label gives no sample
            v = unwrap_value(raw, unwrap.conv, lbs)
            lbs.delete(unwrap.label)
            if filters:
                for f in filters:
                    _, keep = f.process(ts, line, lbs)
                    if not keep:
                        return None
            values.append(v)
            return lbs.labels()

        out = compiled.per_row(rows, extra) if compiled.row_stages else _plain_rows(compiled, rows, extra)
        ids = np.empty(len(out), dtype=np.int64)
        for i, labels in enumerate(out.labels or []):  # per surviving row: labels are dicts
            ids[i] = keys.setdefault(_apply_grouping(LabelSet(labels.items()), grouping), len(keys))
        return ids, out.ts, np.asarray(values, dtype=np.float64)


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
    from dataclasses import replace as _replace

    return compiled.per_row(rows, extra) if compiled.row_stages else _replace(
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


__all__ = ["Engine", "Limits"]
