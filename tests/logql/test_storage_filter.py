"""Literal leading line filters run in storage (`storage_filter.storage_match`) never change an
answer: metric and log queries over random lines with their own timestamps, in compacted blocks,
a flushed block and the head, answer the same with storage running the filters as with the engine
running them all (LOGYARD_LINE_MATCH=0), and count the same lines and bytes read; and only literal
filter sets are handed over."""

from __future__ import annotations

import numpy as np
import pytest

from logyard.logql.delete_query import compile_delete_query
from logyard.logql.engine import Engine
from logyard.logql.pipeline import compile_pipeline
from logyard.logql.query_stats import QueryStats
from logyard.logql.storage_filter import LINE_MATCH_ENV, storage_match
from logyard.logql.syntax.parser import parse
from logyard.needles import LineMatch
from logyard.storage import _tsembed
from logyard.storage import format as F
from logyard.storage.store import Store
from tests.storage.conftest import HOUR, T0, push

WORDS = ["error", "Error", "GET", "level=info", "refused", "timeout", "status=500", "Jan", "x9", "12:0",
         "caf\u00e9", "[warn]", "-", "T1"]


def _match(query: str):
    return storage_match(compile_pipeline(parse(query).pipeline, {}).filters)


@pytest.mark.parametrize("query, match", [
    ('{a="b"} |= "error"', LineMatch((("error",),))),
    ('{a="b"} |= "error" or "refused" != "GET"', LineMatch((("error", "refused"),), ("GET",))),
    ('{a="b"} != "a" or "b" |= "c"', LineMatch((("c",),), ("a", "b"))),
    ('{a="b"} |= "" or "x"', LineMatch((("x",),))),   # Loki drops "" from an or chain
    ('{a="b"} |= "" |= "x"', LineMatch((("x",),))),   # `|= ""` keeps every line
    ('{a="b"} |= ""', None),
    ('{a="b"} != ""', None),                            # keeps none: left to the engine
    ('{a="b"} |= "x" |~ "y"', None),                    # one regexp keeps the whole set in the engine
    ('{a="b"} |= ip("1.2.3.4")', None),
    ('{a="b"} |> "<_> x"', None),
    ('{a="b"}', None),
    ('{a="b"} | logfmt |= "x"', None),                  # not a leading filter
])
def test_only_literal_filter_sets_go_to_storage(query, match):
    assert _match(query) == match


def test_the_switch_turns_it_off(monkeypatch):
    monkeypatch.setenv(LINE_MATCH_ENV, "0")
    assert _match('{a="b"} |= "error"') is None


QUERIES = [
    'sum(rate({app=~"s.*"} |= "error" [1m]))',
    'sum by (app) (count_over_time({app=~"s.*"} |= "error" or "refused" [5m]))',
    'count_over_time({app=~"s.*"} != "error" |= "GET" [10m])',
    'sum(bytes_over_time({app=~"s.*"} |= "2026-01-01" [5m]))',   # inside the cut renderings
    'sum(count_over_time({app=~"s.*"} |= "0:" [5m]))',
    'sum(count_over_time({app=~"s.*"} |= "absent-needle" [5m]))',
    'sum by (level) (count_over_time({app=~"s.*"} |= "error" [5m]))',   # metadata grouped
    'sum(count_over_time({app=~"s.*"} |= "error" | logfmt [5m]))',      # row stages: not handed over
    '{app=~"s.*"} |= "error"',
    '{app=~"s.*"} |= "Jan" != "GET"',
    '{app=~"s.*"} |= "timeout" or "refused" | logfmt',
    '{app=~"s.*"} |= "error" |~ "(?i)timeout|refused"',
    '{app="s0"} |= "GET"',                                   # the delete request's rows
]


def _load(s, rng) -> None:
    """Window 0 compacted; window 1 a flushed block plus the head (some rows in both)."""
    def lines(ts):
        out = []
        for t in ts.tolist():
            words = [WORDS[i] for i in rng.integers(0, len(WORDS), size=4)]
            fmt = int(rng.integers(0, _tsembed.N_FORMATS))
            if fmt:
                words.insert(int(rng.integers(0, 5)), _tsembed.render(t, fmt))
            out.append(" ".join(words))
        return out

    def meta(n):
        return ['{"level":"%s"}' % ("warn" if i % 3 else "info") for i in range(n)]

    for app in ("s0", "s1", "s2"):
        ts = np.sort(T0 + rng.integers(0, HOUR, size=400))
        s.append("t", [push({"app": app}, ts, lines(ts), meta(len(ts)))])
    s.flush()
    s.compact()
    ts = np.sort(T0 + HOUR + rng.integers(0, HOUR // 2, size=300))
    later = lines(ts)
    s.append("t", [push({"app": "s0"}, ts, later, meta(len(ts)))])
    s.flush()
    s.append("t", [push({"app": "s0"}, ts[:40], later[:40], meta(40)[:40])])
    ts = np.sort(T0 + HOUR + rng.integers(0, HOUR // 2, size=200))
    s.append("t", [push({"app": "s1"}, ts, lines(ts), meta(len(ts)))])


@pytest.mark.parametrize("seed", [1, 2])
def test_answers_are_the_same_with_and_without_storage_filters(tmp_path, monkeypatch, seed):
    monkeypatch.setattr(F, "BLOCK_ROW_GROUP_ROWS", 64)
    s = Store(tmp_path / "data", clock=lambda: T0 / 1e9 + 2 * 86400, compile_delete=compile_delete_query)
    s.open()
    try:
        _check(s, monkeypatch, np.random.default_rng(seed))
    finally:
        s.close()


def _check(s, monkeypatch, rng) -> None:
    _load(s, rng)
    # Rows of a pending delete request are left out of reads (window 1 only: see `counted`).
    s.deletes.add("t", '{app="s0"} |= "GET"', (T0 + HOUR) // 10**6, (T0 + 2 * HOUR) // 10**6)
    assert any(b.level == 1 for b in s._index.blocks("t")) and s.head_lines()
    engine = Engine(s)

    def answers():
        out = {}
        for q in QUERIES:
            step = 60 * 10**9 if not q.startswith("{") else None
            out[q] = engine.query_range("t", q, T0, T0 + 2 * HOUR, step, None, 5000, "backward")
        return out

    def counted():
        """What each query read over the compacted window (no row there in two sources, none deleted:
        storage counts what its filter ran on, deleted rows too)."""
        out = {}
        for q in QUERIES:
            st = QueryStats()
            step = 60 * 10**9 if not q.startswith("{") else None
            engine.query_range("t", q, T0, T0 + HOUR, step, None, 5000, "backward", stats=st)
            out[q] = (st.lines, st.line_bytes, st.meta_bytes, st.passed)
        return out

    pushed, pushed_stats = answers(), counted()
    monkeypatch.setenv(LINE_MATCH_ENV, "0")
    plain, plain_stats = answers(), counted()
    for q in QUERIES:
        assert pushed[q] == plain[q], q
        assert pushed_stats[q] == plain_stats[q], q
    assert any(r["values"] for r in pushed['{app=~"s.*"} |= "error"']["result"])
    deleted = [int(t) for r in pushed['{app="s0"} |= "GET"']["result"] for t, _ in r["values"]]
    assert deleted and max(deleted) < T0 + HOUR  # the request left window 1's out
    assert pushed['sum(bytes_over_time({app=~"s.*"} |= "2026-01-01" [5m]))']["result"]
