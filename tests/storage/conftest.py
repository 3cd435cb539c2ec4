"""Helpers for storage tests: PushStream builders and a Store on a temporary directory."""

from __future__ import annotations

import numpy as np
import pytest

from logyard.ingest.model import PushStream
from logyard.labels import LabelSet
from logyard.storage.store import Store

HOUR = 3600 * 10**9
T0 = 1767225600 * 10**9  # 2026-01-01T00:00:00Z


def push(labels: dict, ts, lines, meta=None) -> PushStream:
    labels = {"service_name": labels.get("app", "svc"), **labels}
    lines = list(lines)
    return PushStream(LabelSet(labels.items()), np.asarray(ts, dtype=np.int64), lines,
                      list(meta) if meta is not None else [""] * len(lines))


def rows(tables, columns=("stream", "ts", "line")) -> list[tuple]:
    out = []
    for t in tables:
        d = t.to_pydict()
        out.extend(zip(*(d[c] for c in columns)))
    return out


@pytest.fixture
def make_store(tmp_path):
    made = []

    def make(**kw) -> Store:
        kw.setdefault("clock", lambda: T0 / 1e9 + 2 * 86400)
        s = Store(tmp_path / "data", **kw)
        s.open()
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


def abandon(store: Store) -> None:
    """Drop a store the way a crash would: no flush, nothing written beyond what is on disk."""
    store.stop_background()
    store._wal.close()
    store._index.close()
    store._unlock_dir()  # the OS drops a dead process's flock
    store._open = False
