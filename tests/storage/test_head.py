"""The head: per-stream statistics and bounded batch counts under many small pushes."""

from __future__ import annotations

import numpy as np

from logyard.storage import head as H
from logyard.storage.wal import build_record
from tests.storage.conftest import push


def test_many_small_pushes_are_merged_into_few_batches_without_losing_rows():
    h = H.Head()
    for i in range(1000):
        rec = build_record("t", [push({"app": "a"}, [i], [f"l{i}"]), push({"app": "b"}, [i, i + 1], ["x", "yy"])])
        h.add(rec, np.array([1, 2]))
    v = h.view("t")
    assert len(v.batches) < H.MERGE_SMALL_BATCHES + 1
    t = v.table()
    assert t.num_rows == 3000
    assert sorted(x for x in t.column("line").to_pylist() if x.startswith("l")) == sorted(f"l{i}" for i in range(1000))
    assert (v.stats[1].min_ts, v.stats[1].max_ts, v.stats[1].rows) == (0, 999, 1000)
    assert (v.stats[2].rows, v.stats[2].bytes) == (2000, 3000)
    assert h.rows == 3000
