"""What a query asks storage for: no metadata when every label is aggregated away; only the first
`limit` rows of each window for a log query without stages."""

from __future__ import annotations

import pyarrow as pa
import pytest

from logyard.labels import LabelSet
from logyard.logql.engine import Engine

SEC = 10**9


class OneStreamStore:
    """One stream, two entries (one with metadata); records the columns of each read."""

    def __init__(self) -> None:
        self.columns: list[tuple] = []
        self.first: list[int | None] = []

    window_ns = 0  # no windows: every range is read as one sequence

    def head_lines(self) -> int:
        return 0

    def streams(self, tenant, matchers, start, end):
        return {7: LabelSet({"app": "x"}.items())}

    def read(self, tenant, ids, start, end, *, direction, columns, line_contains=(), first=None):
        self.columns.append(tuple(columns))
        self.first.append(first)
        data = {"stream": pa.array([7, 7]), "ts": pa.array([10 * SEC, 20 * SEC]),
                "line": pa.array(["an error", "fine"], pa.large_string()),
                "meta": pa.array(['{"level":"warn"}', ""]).dictionary_encode(), "len": pa.array([8, 4], pa.int32())}
        yield pa.table({c: data[c] for c in columns})


def _run(query):
    store = OneStreamStore()
    data = Engine(store).query_range("t", query, 60 * SEC, 60 * SEC, 60 * SEC, None, 100, "forward")
    return store.columns, [(r["metric"], r["values"]) for r in data["result"]]


@pytest.mark.parametrize("query, count", [
    ('sum(count_over_time({app="x"}[1m]))', "2"),
    ('sum(count_over_time({app="x"} |= "error" [1m]))', "1"),
])
def test_sum_without_labels_reads_no_metadata(query, count):
    columns, result = _run(query)
    assert all("meta" not in c for c in columns)
    assert result == [({}, [[60, count]])]


def test_grouping_by_a_name_still_reads_metadata():
    columns, result = _run('sum by (level) (count_over_time({app="x"}[1m]))')
    assert all("meta" in c for c in columns)
    assert sorted((m.get("level", ""), v[0][1]) for m, v in result) == [("", "1"), ("warn", "1")]


@pytest.mark.parametrize("query, first", [
    ('{app="x"}', [7]),
    ('{app="x"} |= "error"', [None]),      # a filter may drop rows: the window's first rows are not enough
    ('{app="x"} | logfmt', [None]),
])
def test_a_log_query_without_stages_asks_for_only_its_limit_of_rows(query, first):
    store = OneStreamStore()
    Engine(store).query_range("t", query, 0, 60 * SEC, None, None, 7, "backward")
    assert store.first == first


@pytest.mark.parametrize("direction", ["backward", "forward"])
@pytest.mark.parametrize("limit", [1, 5, 40, 500])
def test_first_rows_reads_answer_as_full_reads(tmp_path, monkeypatch, direction, limit):
    import numpy as np

    from logyard.ingest.model import PushStream
    from logyard.logql import engine as engine_mod
    from logyard.storage import format as F
    from logyard.storage.store import Store

    monkeypatch.setattr(F, "BLOCK_ROW_GROUP_ROWS", 16)
    hour, t0 = 3600 * SEC, 1767225600 * SEC
    store = Store(tmp_path / "data", clock=lambda: t0 / 1e9 + 86400)
    store.open()
    try:
        def push(app, ts, meta):
            labels = LabelSet({"app": app, "service_name": app}.items())
            return PushStream(labels, np.asarray(ts, dtype=np.int64), [f"{app} {t}" for t in ts], meta)

        ts = [t0 + i * 7 * SEC for i in range(300)] + [t0 + hour + i * SEC for i in range(50)]
        metas = ['{"trace_id":"%d"}' % (i % 13) for i in range(len(ts))]
        store.append("t", [push("x", ts, metas), push("y", ts[::3], [""] * len(ts[::3]))])
        store.flush()
        store.append("t", [push("x", ts[-20:], metas[-20:])])  # duplicates in the head
        engine = Engine(store)
        query = '{app=~"x|y"}'
        hinted = engine.query_range("t", query, t0, t0 + 2 * hour, None, None, limit, direction)
        plain = engine_mod.window_reads
        monkeypatch.setattr(engine_mod, "window_reads", lambda *a, first=None, **k: plain(*a, **k))
        assert engine.query_range("t", query, t0, t0 + 2 * hour, None, None, limit, direction) == hinted
        assert sum(len(s["values"]) for s in hinted["result"]) == min(limit, 467)  # 350 + 117 rows
    finally:
        store.close()
