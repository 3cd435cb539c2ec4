"""A log query's reads: its streams, its compiled pipeline, and windows read in its direction.

The windows are filtered in the reading threads (`readahead.window_reads`) and handed to
`log_result.collect_entries`, which stops at the limit: a limit the newest window fills reads no
other. The block-pruning hint `required_substrings` serves metric queries' reads too.
"""

from __future__ import annotations

import numpy as np

from logyard.logql.deadline import NO_DEADLINE, Deadline
from logyard.logql.log_result import collect_entries, encode_streams
from logyard.logql.pipeline import compile_pipeline
from logyard.logql.query_stats import QueryStats
from logyard.logql.readahead import window_reads
from logyard.logql.syntax import ast


def log_query(store, tenant: str, expr: ast.LogQuery, start: int, end: int, limit: int,
              direction: str, deadline: Deadline = NO_DEADLINE, *, categorize: bool = False,
              stats: QueryStats | None = None) -> list[dict]:
    """The `result` of a log query: the first `limit` entries of [start, end) in `direction`,
    in Loki's `categorize-labels` encoding with `categorize`; `stats` counts the rows that passed."""
    streams = store.streams(tenant, list(expr.selector.matchers), start, end)
    if not streams:
        return []
    pipeline = compile_pipeline(expr.pipeline, streams, check=deadline.check)
    ids = np.fromiter(streams, dtype=np.int64, count=len(streams))
    # Windows are filtered in the reading threads; a limit the newest window fills reads no other.
    # With no stage at all every row read is an entry: a window's first `limit` rows are all
    # the query can take from it, so storage need not decode the rest.
    windows = window_reads(store, tenant, ids, start, end, direction=direction,
                           columns=("stream", "ts", "line", "meta"), line_contains=required_substrings(expr),
                           work=pipeline.columnar_table, ramp=True, first=None if expr.pipeline else limit,
                           check=deadline.check)
    parts = collect_entries(windows, pipeline, limit, direction, categorize, stats)
    return encode_streams(parts, streams, direction, categorize)


def required_substrings(log: ast.LogQuery) -> list[str]:
    """Substrings every matching line contains (leading `|= "x"` filters): a block-pruning hint."""
    return [f.value for f in log.line_filters() if f.op == "|=" and not f.or_values and not f.is_ip and f.value]
