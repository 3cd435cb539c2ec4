"""Log patterns of a stream selector over time: Loki's `/loki/api/v1/patterns`, computed at query time.

Loki's pattern ingester trains a Drain tree per stream and detected level as lines arrive, and
answers from the clusters' counts per 10 s. logyard has no pattern ingester: the lines of the
matching streams in [start, end) are read and clustered when asked, per (stream, level) as Loki
does, with the stream's format guessed from its first line.

Clustering every line one by one in Python would cost ~30 µs a line, so the work is split:
Drain trains on an evenly spread sample of a group's lines (`SAMPLE` of them), clusters of one
shape are merged (`drain.merge_clusters`), each merged pattern becomes an RE2 expression, and the whole line column is matched against them with Arrow
(most specific patterns first; a line counts for the first that matches). Lines no pattern
matched are sampled and trained on again, round after round, until all are counted or
`MAX_TRAINED` lines per group have been trained on; lines of a sample that no pattern matches
still count for the cluster they trained into. So the counts of a group's patterns add up to its
lines, except lines Drain gives no cluster (fewer than 4 or more than 80 tokens, as in Loki) and,
past `MAX_TRAINED`, lines like none seen.

Counts are per `step` (at least Loki's 10 s resolution), stamped at the step's start in seconds.
As Loki's querier does, patterns seen fewer than 30 times are left out, and at most 300 are kept,
the most frequent first.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logyard.labels import Matcher
from logyard.logql.deadline import NO_DEADLINE, Deadline
from logyard.logql.drain import Drain, detect_format, merge_clusters
from logyard.logql.readahead import read_ahead
from logyard.logql.rows import Rows, group_codes_by_meta_names

NS = 1_000_000_000
TIME_RESOLUTION_NS = 10 * NS
MIN_CLUSTER_SIZE = 30
MAX_PATTERNS = 300
SAMPLE = 2000
MAX_TRAINED = 20000
LEVEL_LABEL = "detected_level"
LEVELS = frozenset(("unknown", "debug", "info", "warn", "error", "fatal", "critical", "trace"))
UNKNOWN = "unknown"


def level_of(pairs: tuple) -> str:
    """A line's level as Loki's pattern ingester files it: `detected_level`, lower-cased; unknown
    levels (and none) are `unknown`."""
    lvl = dict(pairs).get(LEVEL_LABEL, UNKNOWN).lower()
    return lvl if lvl in LEVELS else UNKNOWN


def cluster_lines(lines: pa.Array, fmt: str, *, sample: int = SAMPLE, max_trained: int = MAX_TRAINED,
                  check=lambda: None) -> tuple[np.ndarray, Drain]:
    """Cluster one group's lines (in time order): each line's cluster id (0: none), and the tree."""
    drain = Drain(fmt)
    n = len(lines)
    assigned = np.zeros(n, dtype=np.int64)
    open_ = np.ones(n, dtype=bool)  # not assigned, not known to fit no cluster
    trained = 0
    while open_.any() and trained < max_trained:
        check()
        todo = np.flatnonzero(open_)
        take = min(sample, max_trained - trained, len(todo))
        picks = todo[np.linspace(0, len(todo) - 1, take).astype(np.int64)] if take < len(todo) else todo
        picked_lines = lines.take(pa.array(picks)).to_pylist()
        # Per sampled line (at most `max_trained` of them): Drain's tree walk is sequential.
        own = np.zeros(len(picks), dtype=np.int64)
        for j, line in enumerate(picked_lines):
            c = drain.train(line)
            own[j] = c.id if c is not None else -1
        trained += len(picks)
        _assign(lines, drain, assigned, open_, check)
        # A sampled line its pattern's expression missed still counts for its own cluster; one
        # that joined no cluster is closed.
        missed = open_[picks]
        assigned[picks[missed & (own > 0)]] = own[missed & (own > 0)]
        open_[picks] = False
    return assigned, drain


def _assign(lines: pa.Array, drain: Drain, assigned: np.ndarray, open_: np.ndarray, check) -> None:
    """Match the open lines against the merged clusters' expressions, most specific first; a line
    gets the id of its merged cluster's first member (the final merge maps it home again)."""
    homes = list({id(h): h for h in merge_clusters(list(drain.clusters.values())).values()}.values())
    for cluster in sorted(homes, key=lambda c: (c.params, -c.size, c.id)):
        todo = np.flatnonzero(open_)
        if not len(todo):
            return
        check()
        subset = lines if len(todo) == len(lines) else lines.take(pa.array(todo))
        hit = pc.match_substring_regex(subset, cluster.regex()).to_numpy(zero_copy_only=False)
        hit = np.asarray(hit, dtype=bool)
        if hit.any():
            idx = todo[hit]
            assigned[idx] = cluster.id
            open_[idx] = False


def step_buckets(ts: np.ndarray, step_ns: int) -> np.ndarray:
    """The start of each timestamp's step, in seconds (Loki truncates to the step)."""
    return (ts - ts % step_ns) // NS


def query_patterns(store, tenant: str, matchers: list[Matcher], start: int, end: int, step_ns: int,
                   deadline: Deadline = NO_DEADLINE) -> list[dict]:
    """The `data` of Loki's patterns answer: [{"pattern", "level", "samples": [[s, count], ...]}]."""
    step_ns = max(step_ns, TIME_RESOLUTION_NS)
    streams = store.streams(tenant, matchers, start, end)
    if not streams:
        return []
    ids = np.fromiter(streams, dtype=np.int64, count=len(streams))
    parts = []
    for table in read_ahead(store.read(tenant, ids, start, end, direction="forward",
                                       columns=("stream", "ts", "line", "meta"))):
        deadline.check()
        if table.num_rows:
            parts.append(table)
    if not parts:
        return []
    table = pa.concat_tables(parts)
    rows = Rows.from_table(table)
    codes, keys = group_codes_by_meta_names(rows, [LEVEL_LABEL])
    # Rows within a window are grouped by stream, by ts in each; windows come in time order: order by time.
    totals: dict[tuple[str, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    groups: dict[tuple[int, str], list[int]] = defaultdict(list)
    for code, (sid, pairs) in enumerate(keys):
        groups[(sid, level_of(pairs))].append(code)
    first_line = _first_lines(rows)
    for (sid, level), group_codes in groups.items():
        idx = np.flatnonzero(np.isin(codes, group_codes))
        idx = idx[np.argsort(rows.ts[idx], kind="stable")]
        lines = rows.line.take(pa.array(idx))
        ids_, drain = cluster_lines(lines, detect_format(first_line[sid]), check=deadline.check)
        final = merge_clusters(list(drain.clusters.values()))
        buckets = step_buckets(rows.ts[idx], step_ns)
        has = ids_ > 0
        pairs, counts = np.unique(np.stack([ids_[has], buckets[has]]), axis=1, return_counts=True)
        for (cid, bucket), count in zip(pairs.T.tolist(), counts.tolist()):
            totals[(final[cid].pattern, level)][bucket] += count
    return _result(totals)


def _first_lines(rows: Rows) -> dict[int, str]:
    """Each stream's oldest line in the range (the one Loki guesses the stream's format from)."""
    order = np.lexsort((rows.ts, rows.stream))
    sids = rows.stream[order]
    firsts = order[np.r_[True, sids[1:] != sids[:-1]]]
    lines = rows.line.take(pa.array(firsts)).to_pylist()
    return dict(zip(rows.stream[firsts].tolist(), lines))


def _result(totals: dict[tuple[str, str], dict[int, int]]) -> list[dict]:
    series = []
    for (pattern, level), buckets in totals.items():
        total = sum(buckets.values())
        if total < MIN_CLUSTER_SIZE:
            continue
        samples = [[t, c] for t, c in sorted(buckets.items())]
        series.append((total, pattern, level, samples))
    series.sort(key=lambda s: (-s[0], s[1], s[2]))
    return [{"pattern": p, "level": lvl, "samples": s} for _, p, lvl, s in series[:MAX_PATTERNS]]


__all__ = ["cluster_lines", "level_of", "query_patterns", "step_buckets"]
