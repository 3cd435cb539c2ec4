"""Helpers for storage tests: PushStream builders, a Store on a temporary directory, and the data
several test modules load into it."""

from __future__ import annotations

import numpy as np
import pytest

from logyard.ingest.model import PushStream
from logyard.labels import LabelSet
from logyard.storage.store import Store

HOUR = 3600 * 10**9
MINUTE = 60 * 10**9
MS = 10**6
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


def load_three_hours(store, rng, meta, *, streams, pushes, per_push, edge_share) -> None:
    """Random rows over three hours in several pushes to tenant `t`, for tests that compare two ways of
    reading (or counting) the same rows: the first two pushes flushed and compacted, the next ones
    flushed beside them into the last two hours only (a window of several blocks), the last left in the
    head. Stream k is `{app="a<k>", env=prod|dev}`; one row in `edge_share` lies on a minute's edge; on
    every third stream the same rows ("dup") come again in each push after the first (exact
    duplicates across pushes); lines are 0-59 "x"s; `meta(k, n)` gives stream k's metadata."""
    for p in range(pushes):
        out = []
        for k in range(streams):
            n = int(rng.integers(0, per_push))
            base = T0 if p < 2 else T0 + HOUR
            span = T0 + 3 * HOUR - base
            ts = base + rng.integers(0, span // MS, n) * MS
            ts[: n // edge_share] = base + rng.integers(0, span // MINUTE, n // edge_share) * MINUTE
            lines = ["x" * int(v) for v in rng.integers(0, 60, n)]
            if p and k % 3 == 0:
                ts[: n // 5] = T0 + HOUR + np.arange(n // 5) * 7 * MS
                lines[: n // 5] = ["dup"] * (n // 5)
            out.append(push({"app": f"a{k}", "env": ["prod", "dev"][k % 2]}, ts, lines, meta(k, n)))
        store.append("t", out)
        if p == 1:
            store.flush()
            store.compact()
        elif p < pushes - 1:
            store.flush()
