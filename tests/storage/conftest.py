"""Helpers for storage tests: PushStream builders, a Store on a temporary directory, and the data
several test modules load into it."""

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


A = {"app": "api", "env": "prod"}
B = {"app": "db", "env": "dev"}


def load_two_hours(store):
    store.append("t", [push(A, [T0 + 1, T0 + 2, T0 + HOUR + 1], ["a1", "a2", "a3"]),
                       push(B, [T0 + 5, T0 + 5], ["b1", "b0"])])


def ids_of(store, *matchers, start=T0, end=T0 + 10 * HOUR):
    return sorted(store.streams("t", list(matchers), start, end))


def first_by_ts(table_rows, limit, backward):
    """What a log query takes from a window: stable order by ts (reversed when backward), `limit`."""
    order = sorted(range(len(table_rows)), key=lambda i: table_rows[i][1])
    if backward:
        order.reverse()
    return [table_rows[i] for i in order[:limit]]


def random_pushes(seed, n_pushes=6):
    rng = np.random.default_rng(seed)
    pushes = []
    for _ in range(n_pushes):
        streams = []
        for app in ("a", "b", "c"):
            k = int(rng.integers(1, 40))
            ts = T0 + rng.integers(0, 3 * HOUR // 10**9, k) * 10**9  # second resolution: shared ts
            # repeats: duplicates; odd lines carry their own time, which compacted blocks cut (line_time.py)
            lines = [f"{app} line {int(x)}" if x % 2 == 0 else f"{str(np.datetime64(int(t), 'ns'))[:19]}Z {app} {int(x)}"
                     for x, t in zip(rng.integers(0, 30, k), ts)]
            streams.append(push({"app": app}, ts, lines, [f'{{"n":"{int(x) % 3}"}}' if x % 2 else "" for x in range(k)]))
        pushes.append(streams)
    return pushes
