"""Needle queries to a real `logyard serve` answer the same whether compacted blocks are skipped by
their trigram maps or read whole (LOGYARD_LINE_PRUNING=0), log and metric queries alike."""

from __future__ import annotations

import shutil

import httpx
import numpy as np

from logyard.storage import format as F
from logyard.storage.reads import LINE_PRUNING_ENV
from logyard.storage.store import Store
from tests.storage.conftest import T0, push
from tests.support.server import ServerProcess

QUERIES = [
    ('{job="app"} |= "xq7-needle-5150"', {}),
    ('{job="app"} |= "absent-needle-000"', {}),
    ('{job="app"} |~ "(?i)XQ7-Needle-[0-9]+"', {}),
    ('{job="app"} |~ "(?i)kill-me"', {}),
    ('{job="app"} |= "edge-needle" or "xq7-needle"', {"direction": "forward"}),
    ('sum by (job) (count_over_time({job="app"} |= "xq7-needle-5150" [10m]))', {"step": "60"}),
]


def write_blocks(data) -> None:
    """Two streams over two hours, compacted into blocks of 200-row row groups, needles placed,
    one at the edge of two row groups, one line with a Kelvin sign."""
    rng = np.random.default_rng(3)
    s = Store(data, retention_ns=0)
    s.open()
    try:
        for k in range(2):
            lines = [f"line {i} of {k} " + rng.bytes(6).hex() for i in range(3000)]
            for i in rng.choice(3000, size=3, replace=False).tolist():
                lines[i] += " ref=xq7-needle-5150"
            lines[199] += " edge-needle"
            lines[200] = "edge-needle " + lines[200]
            lines[1234] += " \u212aILL-ME"
            s.append("fake", [push({"job": "app", "replica": str(k)}, T0 + np.arange(3000) * 2 * 10**9, lines)])
        s.flush()
        s.compact()
    finally:
        s.close()


def answers(srv: ServerProcess) -> list[dict]:
    out = []
    srv.wait_ready()
    with httpx.Client(base_url=srv.url, timeout=30) as c:
        for q, extra in QUERIES:
            params = {"query": q, "start": str(T0), "end": str(T0 + 2 * 3600 * 10**9), "limit": "1000", **extra}
            r = c.get("/loki/api/v1/query_range", params=params)
            assert r.status_code == 200, r.text
            out.append(r.json()["data"]["result"])
    return out


def test_needle_queries_answer_the_same_with_and_without_skipping(tmp_path, monkeypatch):
    monkeypatch.setattr(F, "BLOCK_ROW_GROUP_ROWS", 200)
    write_blocks(tmp_path / "a" / "data")
    shutil.copytree(tmp_path / "a", tmp_path / "b")  # the same blocks for a second server, started alongside
    pruning = ServerProcess(tmp_path / "a" / "data").start(wait=False)
    monkeypatch.setenv(LINE_PRUNING_ENV, "0")
    whole = ServerProcess(tmp_path / "b" / "data").start(wait=False)
    monkeypatch.delenv(LINE_PRUNING_ENV)
    try:
        pruned = answers(pruning)
        assert pruned == answers(whole)
    finally:
        pruning.stop()
        whole.stop()
    counts = [sum(len(s["values"]) for s in result) for result in pruned[:5]]
    assert counts == [6, 0, 6, 2, 10]
