"""The samples of a count over a bare selector, counted without reading lines (or timestamps).

`count_over_time`, `rate`, `bytes_over_time` and `bytes_rate` of a selector with no pipeline
count rows, or add up their line bytes, per window: nothing about a row matters but its stream,
its time and its length. When metadata cannot change a row's series either (a `sum` of no labels,
a `by (...)` naming no metadata the rows carry, or no metadata at all), a series is a (grouped)
stream, and storage counts the rows itself (`read_counts`): per stream and bucket of time, from
the blocks' per-minute counts where the windows' edges fall on whole minutes (so a day's count
reads no row at all), else from the timestamps. Each count is one weighted sample, summed by
`additive.additive_step_matrix` as the rows it stands for would be.

Grafana's log-volume query adds `| drop __error__`: with no parser before it, it changes no
series unless a row's metadata holds an error label the grouping keeps (checked), so it counts as
bare; grouped by metadata (`detected_level`), its rows are grouped by column operations as the
general path groups a bare selector's, instead of walking each row through the drop.
Anything else (a line filter, a parser, a label filter, unwrap, metadata in the grouping of a bare
selector, a source that cannot count) takes the general path, `samples.extract`, which gives the
same answers.
The source must offer `source.CountSource` besides `LogSource`. `LOGYARD_COUNT_SAMPLES=0` turns
this path off, for tests and benchmarks comparing the two.
"""

from __future__ import annotations

import math
import os

import numpy as np

from logyard.errors import LimitError
from logyard.labels import LabelSet
from logyard.logql.deadline import NO_DEADLINE
from logyard.logql.metric import limits
from logyard.logql.metric.samples import _group_samples, _in_some_window  # the general path's, shared
from logyard.logql.pipeline import keeps_every_entry
from logyard.logql.rows import Rows
from logyard.logql.readahead import window_reads
from logyard.logql.stages.builder import DUPLICATE_SUFFIX, ERROR_DETAILS_LABEL, ERROR_LABEL
from logyard.logql.syntax import ast

ENV = "LOGYARD_COUNT_SAMPLES"
OPS = frozenset({"count_over_time", "rate", "bytes_over_time", "bytes_rate"})
BYTES_OPS = frozenset({"bytes_over_time", "bytes_rate"})
ERROR_LABELS = frozenset({ERROR_LABEL, ERROR_DETAILS_LABEL})


def applies(expr: ast.RangeAggregation, store) -> bool:
    """Whether the count path may answer this range aggregation (before asking about metadata)."""
    return (expr.op in OPS and expr.unwrap is None and all(_drops_errors(st) for st in _stages(expr))
            and hasattr(store, "read_counts") and hasattr(store, "metadata_names")
            and os.environ.get(ENV, "1") != "0")


def _stages(expr: ast.RangeAggregation) -> list:
    """The stages that do something (`|~ "(?i)"` and `name=~".*"`, Grafana's empty search and
    "All", keep every entry and change nothing)."""
    return [s for s in expr.log.pipeline if not keeps_every_entry(s)]


def _drops_errors(stage) -> bool:
    """`| drop __error__, __error_details__` (what Grafana's log-volume query adds): with no parser
    before it, no row has an error label but from its metadata, which `_rows_matter` checks."""
    return isinstance(stage, ast.Drop) and all(i.matcher is None and i.name in ERROR_LABELS for i in stage.items)


def extract(store, tenant: str, grid: np.ndarray, expr: ast.RangeAggregation, grouping: ast.Grouping | None, *,
            max_series: int = 0, check=NO_DEADLINE.check, parallelism: int = 2):
    """As `samples.extract`, plus each sample's weight (the rows it counts), or None when this
    path does not apply: (labels, series ids, ts, values, weights)."""
    if not applies(expr, store):
        return None
    lo = int(grid[0]) - expr.offset_ns - expr.range_ns + 1   # windows are (t-range, t]
    hi = int(grid[-1]) - expr.offset_ns + 1
    streams = store.streams(tenant, list(expr.log.selector.matchers), lo, hi)
    z = np.zeros(0, np.int64)
    if not streams:
        return [], z, z, np.zeros(0), z
    ids = np.fromiter(streams, dtype=np.int64, count=len(streams))
    names = store.metadata_names(tenant, ids, lo, hi)
    stages = _stages(expr)
    if stages and not _grouped_away(grouping) and (names is None or not names.isdisjoint(ERROR_LABELS)):
        return None  # a row's error label from its metadata, which the drop would take away
    if names is None or _metadata_matters(grouping, names):
        if grouping is None or grouping.without or not stages:
            return None  # the general path groups by metadata just as well
        return _metadata_samples(store, tenant, grid, expr, grouping, streams, ids, lo, hi, max_series, check,
                                 parallelism)
    with_bytes = expr.op in BYTES_OPS
    source = _Counts(store, _grain(grid, expr.range_ns, expr.offset_ns), with_bytes)
    in_windows = _in_some_window(grid, expr.range_ns, expr.offset_ns)
    keys: dict[LabelSet, int] = {}
    by_stream: dict[int, int] = {}
    all_ids, all_ts, all_w, all_b = [], [], [], []
    # `ramp`: windows answered from counts take microseconds, less than handing them to workers.
    for t in window_reads(source, tenant, ids, lo, hi, direction="forward", columns=(), check=check,
                          ahead=parallelism, ramp=True):
        stream, ts, n = (_np(t, c) for c in ("stream", "ts", "n"))
        nbytes = _np(t, "len") if with_bytes else None
        if in_windows is not None and len(ts):
            keep = in_windows(ts)
            stream, ts, n = stream[keep], ts[keep], n[keep]
            nbytes = nbytes[keep] if nbytes is not None else None
        if not len(ts):
            continue
        uniq, codes = np.unique(stream, return_inverse=True)
        kid = np.empty(len(uniq), dtype=np.int64)
        for j, sid in enumerate(uniq.tolist()):  # per distinct stream, not per row
            got = by_stream.get(sid)
            if got is None:
                got = by_stream[sid] = keys.setdefault(_apply_grouping(streams[sid], grouping), len(keys))
            kid[j] = got
        if 0 < max_series < len(keys):
            raise LimitError(limits.SERIES_LIMIT.format(limit=max_series))
        all_ids.append(kid[codes])
        all_ts.append(ts.astype(np.int64, copy=False))
        all_w.append(n.astype(np.int64, copy=False))
        if nbytes is not None:
            all_b.append(nbytes.astype(np.float64))
    if not all_ids:
        return [], z, z, np.zeros(0), z
    weights = np.concatenate(all_w)
    values = np.concatenate(all_b) if with_bytes else weights.astype(np.float64)
    return list(keys), np.concatenate(all_ids), np.concatenate(all_ts), values, weights


def _np(t, name: str) -> np.ndarray:
    col = t.column(name)
    return col.chunk(0).to_numpy() if col.num_chunks == 1 else col.to_numpy()


def _metadata_matters(grouping: ast.Grouping | None, got: frozenset[str]) -> bool:
    """Whether structured metadata named `got` could change a row's series under this grouping:
    never for `by ()`; for `by (...)`, when it names metadata the rows carry (`x_extracted` names
    metadata `x` shadowed by a stream label); otherwise when the rows carry any."""
    if grouping is not None and not grouping.without and not grouping.labels:
        return False
    if grouping is None or grouping.without:
        return bool(got)
    wanted = set(grouping.labels)
    wanted |= {n[: -len(DUPLICATE_SUFFIX)] for n in grouping.labels if n.endswith(DUPLICATE_SUFFIX)}
    return not got.isdisjoint(wanted)


def _grouped_away(grouping: ast.Grouping | None) -> bool:
    """Whether the grouping keeps no error label (`by (...)` not naming one): a drop of them then
    changes no series."""
    return grouping is not None and not grouping.without and ERROR_LABELS.isdisjoint(grouping.labels)


def _metadata_samples(store, tenant, grid, expr, grouping, streams, ids, lo, hi, max_series, check, parallelism):
    """Grafana's `sum by (level, detected_level) (count_over_time({...} | drop __error__ [...]))`:
    the rows' stream, time and metadata grouped by column operations as the general path groups a
    bare selector's (`samples._group_samples`), where the general path would walk every row
    through the drop stage; one sample a row."""
    columns = ("stream", "ts", "meta", "len") if expr.op in BYTES_OPS else ("stream", "ts", "meta")
    in_windows = _in_some_window(grid, expr.range_ns, expr.offset_ns)
    keys: dict[LabelSet, int] = {}
    key_cache: dict[tuple, int] = {}
    all_ids, all_ts, all_vals = [], [], []
    for rows in window_reads(store, tenant, ids, lo, hi, direction="forward", columns=columns, check=check,
                             ahead=parallelism, work=Rows.from_table):
        if in_windows is not None and len(rows):
            keep = in_windows(rows.ts)
            rows = rows if keep.all() else rows.take(keep)
        if not len(rows):
            continue
        sids, ts, vals = _group_samples(expr, rows, streams, grouping, keys, key_cache)
        if 0 < max_series < len(keys):
            raise LimitError(limits.SERIES_LIMIT.format(limit=max_series))
        all_ids.append(sids)
        all_ts.append(ts)
        all_vals.append(vals if vals is not None else np.ones(len(ts)))
    z = np.zeros(0, np.int64)
    if not all_ids:
        return [], z, z, np.zeros(0), z
    ts = np.concatenate(all_ts)
    return list(keys), np.concatenate(all_ids), ts, np.concatenate(all_vals), np.ones(len(ts), dtype=np.int64)


def _grain(grid: np.ndarray, range_ns: int, offset_ns: int) -> int:
    """The largest time that divides every window edge (its multiples since the epoch): counts
    bucketed on a grain that divides it fall between the same edges as their rows."""
    g = 0
    for t in grid.tolist():  # one step per step of the grid
        g = math.gcd(g, t - offset_ns, t - offset_ns - range_ns)
        if g == 1:
            break
    return g or 1


def _apply_grouping(labels: LabelSet, grouping: ast.Grouping | None) -> LabelSet:
    if grouping is None:
        return labels
    return labels.without(grouping.labels) if grouping.without else labels.keep(grouping.labels)


class _Counts:
    """A store's `read_counts` in the shape `window_reads` reads (`read`), so count reads too run
    window by window on two cores."""

    def __init__(self, store, grain: int, with_bytes: bool) -> None:
        self._store = store
        self._grain = grain
        self._with_bytes = with_bytes

    @property
    def window_ns(self) -> int:
        return self._store.window_ns

    def head_lines(self) -> int:
        return self._store.head_lines()

    def read(self, tenant, stream_ids, start_ns, end_ns, *, direction="forward", columns=(), line_contains=(),
             first=None):
        return self._store.read_counts(tenant, stream_ids, start_ns, end_ns, grain_ns=self._grain,
                                       with_bytes=self._with_bytes)
