"""Metric results as the `data` object of Loki's query answers (`matrix`, `vector`, `scalar`).

Order as Loki's engine leaves it: matrix series sorted by labels; vector samples sorted by labels
unless the query contains sort/sort_desc (then the evaluation order, which `aggregate` sets).
A point is `[seconds, "value"]`; a scalar is `[milliseconds, "value"]` (a Loki quirk).
"""

from __future__ import annotations

import orjson

from logyard.gocompat.floatfmt import format_value, timestamp_json
from logyard.logql.metric.series import Matrix, StepMatrix

NS_PER_MS = 1_000_000


def _ms(ns: int) -> int:
    # Go's integer division truncates toward zero; timestamps here are positive.
    return int(ns) // NS_PER_MS


def matrix_data(result: Matrix | StepMatrix) -> dict:
    """`{"resultType": "matrix", "result": [...]}`, series sorted by labels, points by time."""
    matrix = result.to_matrix() if isinstance(result, StepMatrix) else sorted(result, key=lambda s: s.labels)
    out = []
    for s in matrix:
        # Per point: each value becomes a string, which no array operation produces in Go's format.
        values = [[timestamp_json(_ms(t)), format_value(v)] for t, v in zip(s.ts.tolist(), s.values.tolist())]
        out.append({"metric": s.labels.to_dict(), "values": values})
    return {"resultType": "matrix", "result": out}


def vector_data(result: StepMatrix, keep_order: bool = False) -> dict:
    """The samples present at the single step of an instant query.

    `keep_order` is for queries containing sort/sort_desc, whose row order is the answer's order.
    """
    if len(result.steps) != 1:
        raise AssertionError("BUG: an instant query result has exactly one step")
    merged = result.merge_duplicates()
    t = timestamp_json(_ms(int(merged.steps[0])))
    rows = [i for i in range(len(merged.labels)) if merged.present[i, 0]]
    if not keep_order:
        rows.sort(key=lambda i: merged.labels[i])
    out = [{"metric": merged.labels[i].to_dict(), "value": [t, format_value(float(merged.values[i, 0]))]}
           for i in rows]
    return {"resultType": "vector", "result": out}


def scalar_data(value: float, time_ns: int) -> dict:
    """A literal as an instant query: `[ms, "v"]`, the time in milliseconds as Loki answers it."""
    return {"resultType": "scalar", "result": [_ms(time_ns), format_value(value)]}


def encode_response(data: dict, stats: dict | None = None) -> bytes:
    """The whole success body, `{"status":"success","data":{...,"stats":{...}}}`."""
    body = dict(data)
    if stats is not None:
        body["stats"] = stats
    return orjson.dumps({"status": "success", "data": body})
