"""Range aggregations (`count_over_time`, `rate`, `quantile_over_time`, ...) over every step at once.

Window semantics are Loki's (`pkg/logql/range_vector.go`): the window of step `t` holds the samples
with `t - offset - range < ts <= t - offset` (start exclusive, end inclusive), and a step whose
window is empty yields no point. Each window is a [lo, hi) slice of the samples, found with one
`searchsorted` over all series and steps; the reductions then run over all slices together
(`ufunc.reduceat`, or a gathered copy of the windows for stddev/stdvar/quantile).
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from logyard.labels import LabelSet, Matcher
from logyard.logql.functions import FUNCTION_BY_NAME, PHI, RANGE
from logyard.logql.metric.series import StepMatrix

# Gathered copies of overlapping windows are built in chunks of at most this many samples.
_GATHER_CHUNK = 1 << 22


class Windows(NamedTuple):
    """Per (series, step) results: `values` where `present`; absent points are NaN."""

    values: np.ndarray
    present: np.ndarray


def duration_seconds(ns: int) -> float:
    """Go's `time.Duration.Seconds()`: whole seconds plus the nanosecond remainder."""
    return float(ns // 1_000_000_000) + float(ns % 1_000_000_000) / 1e9


def evaluate_range(op: str, sample_ts: np.ndarray, sample_values: np.ndarray, grid_ts: np.ndarray,
                   range_ns: int, offset_ns: int = 0, param: float | None = None,
                   unwrap: bool = False) -> Windows:
    """One series (samples sorted by time) evaluated at every grid point; 1-D arrays out.

    `sample_values` are the unwrapped values, or the line byte lengths for bytes_over_time and
    bytes_rate; count_over_time, rate (without unwrap) and absent_over_time ignore them.
    """
    ids = np.zeros(len(sample_ts), dtype=np.int64)
    res = evaluate_range_batch(op, ids, sample_ts, sample_values, 1, grid_ts, range_ns, offset_ns, param, unwrap)
    return Windows(res.values[0], res.present[0])


def evaluate_range_batch(op: str, series_ids: np.ndarray, sample_ts: np.ndarray, sample_values: np.ndarray,
                         n_series: int, grid_ts: np.ndarray, range_ns: int, offset_ns: int = 0,
                         param: float | None = None, unwrap: bool = False) -> Windows:
    """Many series at once: samples sorted by (series id, ts), ids in [0, n_series).

    Returns (n_series, n_steps) arrays. `unwrap=True` makes `rate` the per-second sum of the values
    (Loki's `rate` over `| unwrap`), instead of the per-second count of lines.
    """
    function = FUNCTION_BY_NAME.get(op)
    if function is None or function.kind != RANGE:
        raise AssertionError(f"BUG: unknown range aggregation {op!r}")
    if function.param == PHI and param is None:
        raise AssertionError(f"BUG: {op} needs its φ parameter")
    series_ids = np.asarray(series_ids, dtype=np.int64)
    ts = np.asarray(sample_ts, dtype=np.int64)
    values = np.asarray(sample_values, dtype=np.float64)
    ends = np.asarray(grid_ts, dtype=np.int64) - offset_ns
    lo, hi = _window_bounds(series_ids, ts, n_series, ends, range_ns)
    lo, hi = lo.ravel(), hi.ravel()
    out, present = _reduce(op, lo, hi, ts, values, np.tile(ends, n_series), range_ns, param, unwrap)
    shape = (n_series, len(ends))
    return Windows(out.reshape(shape), present.reshape(shape))


def sort_samples(series_ids: np.ndarray, sample_ts: np.ndarray, sample_values: np.ndarray):
    """Samples in the order `evaluate_range_batch` needs: by series id, then time; stable, so
    entries sharing a timestamp keep their input order (which first/last_over_time then see)."""
    order = np.lexsort((sample_ts, series_ids))
    return series_ids[order], sample_ts[order], sample_values[order]


def range_step_matrix(op: str, labels: Sequence[LabelSet], series_ids: np.ndarray, sample_ts: np.ndarray,
                      sample_values: np.ndarray, grid_ts: np.ndarray, range_ns: int, offset_ns: int = 0,
                      param: float | None = None, unwrap: bool = False) -> StepMatrix:
    """`evaluate_range_batch` packaged as a StepMatrix (`labels[i]` names series id i)."""
    res = evaluate_range_batch(op, series_ids, sample_ts, sample_values, len(labels), grid_ts,
                               range_ns, offset_ns, param, unwrap)
    return StepMatrix(tuple(labels), np.asarray(grid_ts, dtype=np.int64), res.values, res.present)


def absent_over_time(inner: StepMatrix, labels: LabelSet) -> StepMatrix:
    """Loki's absent evaluator: 1 at each step where no series has a sample, else nothing.

    `labels` are the selector's equality matchers (Loki's `absentLabels`), chosen by the caller.
    """
    absent = ~inner.present.any(axis=0)
    return StepMatrix((labels,), inner.steps, np.where(absent, 1.0, np.nan)[None, :], absent[None, :])


def absent_labels(matchers: Sequence[Matcher]) -> LabelSet:
    """Loki's `absentLabels`: the selector's `name="value"` matchers, except names that also
    appear in another matcher (a second `=` included); `__name__` is ignored."""
    labels: dict[str, str] = {}
    dropped: set[str] = set()
    for m in matchers:
        if m.name == "__name__":
            continue
        if m.op == "=" and m.name not in labels:
            labels[m.name] = m.value
        else:
            dropped.add(m.name)
    return LabelSet((k, v) for k, v in labels.items() if k not in dropped)


def _window_bounds(series_ids: np.ndarray, ts: np.ndarray, n_series: int, ends: np.ndarray,
                   range_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """[lo, hi) sample index ranges of every (series, step) window, as (n_series, n_steps) arrays.

    Samples are keyed `series * span + (ts - tmin)` so that one sorted array and one searchsorted
    serve all series; series are processed in chunks small enough for the keys to fit in int64.
    """
    shape = (n_series, len(ends))
    if len(ts) == 0 or n_series == 0:
        return np.zeros(shape, dtype=np.int64), np.zeros(shape, dtype=np.int64)
    tmin, tmax = int(ts.min()), int(ts.max())
    span = tmax - tmin + 2
    # Window bounds clipped to [-1, tmax - tmin] keep their order relative to every sample key.
    rel_end = np.clip(ends - tmin, -1, span - 2)
    rel_start = np.clip(ends - range_ns - tmin, -1, span - 2)
    lo = np.empty(shape, dtype=np.int64)
    hi = np.empty(shape, dtype=np.int64)
    per_chunk = max(1, (1 << 62) // span)
    for a in range(0, n_series, per_chunk):  # one iteration unless spans are weeks long
        b = min(n_series, a + per_chunk)
        i0, i1 = np.searchsorted(series_ids, [a, b])
        keys = (series_ids[i0:i1] - a) * span + (ts[i0:i1] - tmin)
        base = (np.arange(b - a, dtype=np.int64) * span)[:, None]
        hi[a:b] = np.searchsorted(keys, base + rel_end[None, :], side="right") + i0
        lo[a:b] = np.searchsorted(keys, base + rel_start[None, :], side="right") + i0
    return lo, hi


def _segment_reduce(ufunc: np.ufunc, arr: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """`ufunc.reduce(arr[lo:hi])` for every non-empty window (NaN for empty ones).

    reduceat over the interleaved (lo, hi) pairs reduces each window at even positions; the odd
    positions cover the gaps between windows and are discarded. Windows may overlap.
    """
    out = np.full(len(lo), np.nan)
    ne = np.flatnonzero(lo < hi)
    if len(ne) == 0:
        return out
    idx = np.empty(2 * len(ne), dtype=np.int64)
    idx[0::2] = lo[ne]
    idx[1::2] = hi[ne]
    padded = np.append(arr, 0.0)  # so that hi == len(arr) is a valid index
    # The discarded gap reductions may meet inf - inf; only the kept windows matter.
    with np.errstate(invalid="ignore"):
        out[ne] = ufunc.reduceat(padded, idx)[0::2]
    return out


def _gathered(lo: np.ndarray, hi: np.ndarray):
    """Yield (window positions, window lengths, window starts, concatenated sample indices) in bounded chunks."""
    counts = hi - lo
    csum = np.cumsum(counts)
    a = 0
    while a < len(lo):
        before = csum[a - 1] if a else 0
        b = max(a + 1, int(np.searchsorted(csum, before + _GATHER_CHUNK, side="right")))
        c = counts[a:b]
        starts = np.cumsum(c) - c
        idx = np.arange(int(c.sum()), dtype=np.int64) - np.repeat(starts - lo[a:b], c)
        yield np.arange(a, b), c, starts, idx
        a = b


def _variance(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Population variance of each window, two-pass (Loki uses Welford; both are accurate)."""
    out = np.full(len(lo), np.nan)
    for pos, c, starts, idx in _gathered(lo, hi):
        ne = c > 0
        if not ne.any():
            continue
        x = values[idx]
        wid = np.repeat(np.arange(len(c)), c)
        sums = np.zeros(len(c))
        sums[ne] = np.add.reduceat(x, starts[ne])
        mean = sums / np.maximum(c, 1)
        dev = x - mean[wid]
        sq = np.zeros(len(c))
        sq[ne] = np.add.reduceat(dev * dev, starts[ne])
        out[pos[ne]] = sq[ne] / c[ne]
    return out


def _quantile(values: np.ndarray, lo: np.ndarray, hi: np.ndarray, q: float) -> np.ndarray:
    """Prometheus' interpolated φ-quantile of each window (Loki's `Quantile`)."""
    out = np.full(len(lo), np.nan)
    if q < 0 or q > 1:
        out[lo < hi] = -np.inf if q < 0 else np.inf
        return out
    # Loki's sort puts NaN first (HeapByMaxValue.Less), then ascending values. Rank every sample
    # once; each window then sorts plain integers `window * n + rank`.
    order = np.lexsort((values, ~np.isnan(values)))
    by_rank = values[order]
    rank = np.empty(len(values), dtype=np.int64)
    rank[order] = np.arange(len(values))
    n_all = max(len(values), 1)
    for pos, c, starts, idx in _gathered(lo, hi):
        ne = c > 0
        if not ne.any():
            continue
        base = np.repeat(np.arange(len(c), dtype=np.int64) * n_all, c)
        key = base + rank[idx]
        key.sort()
        xs = by_rank[key - base]
        n = c[ne].astype(np.float64)
        at = q * (n - 1)
        lower = np.maximum(0.0, np.floor(at))
        upper = np.minimum(n - 1, lower + 1)
        weight = at - np.floor(at)
        s = starts[ne]
        out[pos[ne]] = xs[s + lower.astype(np.int64)] * (1 - weight) + xs[s + upper.astype(np.int64)] * weight
    return out


def _rate_counter(ts: np.ndarray, values: np.ndarray, lo: np.ndarray, hi: np.ndarray, ends: np.ndarray,
                  range_ns: int) -> np.ndarray:
    """Loki's `extrapolatedRate(isCounter=true, isRate=true)` for every window.

    Unlike Prometheus, the range boundaries are the query window (end - range, end], timestamps
    are nanoseconds, and a window with a single sample gives 0 (not nothing).
    """
    out = np.full(len(lo), np.nan)
    count = hi - lo
    out[count == 1] = 0.0
    w = np.flatnonzero(count >= 2)
    if len(w) == 0:
        return out
    l, h = lo[w], hi[w] - 1
    v_first, v_last = values[l], values[h]
    # A counter reset adds the value before the drop (Loki starts `lastValue` at 0, which only
    # matters for a negative first sample and then adds 0).
    prev = np.concatenate(([0.0], values[:-1]))
    resets = np.where(values < prev, prev, 0.0)
    result = v_last - v_first + np.nan_to_num(_segment_reduce(np.add, resets, l + 1, h + 1), nan=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        range_start = ends[w] - range_ns
        to_start = (ts[l] - range_start).astype(np.float64) / 1e9
        to_end = (ends[w] - ts[h]).astype(np.float64) / 1e9
        sampled = (ts[h] - ts[l]).astype(np.float64) / 1e9
        avg_gap = sampled / (count[w] - 1).astype(np.float64)
        threshold = avg_gap * 1.1
        to_start = np.where(to_start >= threshold, avg_gap / 2, to_start)
        # Counters cannot go negative: do not extrapolate below the zero point.
        to_zero = np.where((result > 0) & (v_first >= 0), sampled * (v_first / result), to_start)
        to_start = np.where(to_zero < to_start, to_zero, to_start)
        to_end = np.where(to_end >= threshold, avg_gap / 2, to_end)
        result = result * ((sampled + to_start + to_end) / sampled)
    out[w] = result / duration_seconds(range_ns)
    return out


def _reduce(op: str, lo: np.ndarray, hi: np.ndarray, ts: np.ndarray, values: np.ndarray, ends: np.ndarray,
            range_ns: int, param: float | None, unwrap: bool) -> tuple[np.ndarray, np.ndarray]:
    count = hi - lo
    present = count > 0
    seconds = duration_seconds(range_ns)
    if op == "count_over_time":
        out = count.astype(np.float64)
    elif op == "rate" and not unwrap:
        out = count / seconds
    elif op in ("rate", "bytes_rate"):
        out = _segment_reduce(np.add, values, lo, hi) / seconds
    elif op in ("sum_over_time", "bytes_over_time"):
        out = _segment_reduce(np.add, values, lo, hi)
    elif op == "avg_over_time":
        with np.errstate(invalid="ignore", divide="ignore"):
            out = _segment_reduce(np.add, values, lo, hi) / count
    elif op == "max_over_time":
        # Loki replaces a NaN running max by any later sample: NaN only if all are NaN, like fmax.
        out = _segment_reduce(np.fmax, values, lo, hi)
    elif op == "min_over_time":
        out = _segment_reduce(np.fmin, values, lo, hi)
    elif op == "stdvar_over_time":
        out = _variance(values, lo, hi)
    elif op == "stddev_over_time":
        out = np.sqrt(_variance(values, lo, hi))
    elif op == "quantile_over_time":
        out = _quantile(values, lo, hi, float(param))
    elif op in ("first_over_time", "last_over_time"):
        out = np.full(len(lo), np.nan)
        at = lo[present] if op == "first_over_time" else hi[present] - 1
        out[present] = values[at]
    elif op == "rate_counter":
        out = _rate_counter(ts, values, lo, hi, ends, range_ns)
    elif op == "absent_over_time":
        out = np.ones(len(lo))  # Loki's `one`; the absence itself is `absent_over_time()` above
    else:
        raise AssertionError(f"BUG: unhandled range aggregation {op!r}")
    out = np.where(present, out, np.nan)
    return out, present
