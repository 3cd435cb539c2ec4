"""What a log query asks storage for: only the first `limit` rows of each window when it has no
stage, and the same answer as reading them whole."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from logyard.ingest.model import PushStream
from logyard.labels import LabelSet
from logyard.logql import log_query as log_query_mod
from logyard.logql.engine import Engine
from logyard.storage import format as F
from logyard.storage.store import Store
from tests.support.line_match import kept

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

    def read(self, tenant, ids, start, end, *, direction, columns, line_contains=(), first=None, line_match=None):
        self.columns.append(tuple(columns))
        self.first.append(first)
        data = {"stream": pa.array([7, 7]), "ts": pa.array([10 * SEC, 20 * SEC]),
                "line": pa.array(["an error", "fine"], pa.large_string()),
                "meta": pa.array(['{"level":"warn"}', ""]).dictionary_encode(), "len": pa.array([8, 4], pa.int32())}
        yield kept(pa.table({c: data[c] for c in columns}), data["line"].to_pylist(), line_match)


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
        plain = log_query_mod.window_reads
        monkeypatch.setattr(log_query_mod, "window_reads", lambda *a, first=None, **k: plain(*a, **k))
        assert engine.query_range("t", query, t0, t0 + 2 * hour, None, None, limit, direction) == hinted
        assert sum(len(s["values"]) for s in hinted["result"]) == min(limit, 467)  # 350 + 117 rows
    finally:
        store.close()
