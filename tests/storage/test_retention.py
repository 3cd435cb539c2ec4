"""Retention rules: which period a stream gets (Loki's rule), and the rows of expired streams
removed from the blocks, whole blocks or rewritten ones."""

from __future__ import annotations

import numpy as np
import pytest

from logyard.labels import LabelSet, Matcher
from logyard.storage import format as F
from logyard.storage.retention import RetentionRules, StreamRetention
from tests.storage.conftest import HOUR, T0, push, rows

DAY = 24 * HOUR


def rule(value: str, priority: int, period_h: int, op: str = "=") -> StreamRetention:
    return StreamRetention((Matcher("app", op, value),), priority, period_h * HOUR)


RULES = RetentionRules(48 * HOUR, (rule("a", 1, 24), rule("a", 1, 12), rule("a", 2, 72), rule("b", 5, 0),
                                   rule("c|d", 1, 6, "=~"), rule("d", 1, 3)))


@pytest.mark.parametrize("app, period_h", [
    ("a", 72),   # the highest priority wins, even with a longer period
    ("b", 0),    # a rule's 0 keeps the stream forever, whatever the global period
    ("c", 6),
    ("d", 3),    # equal priorities: the shortest period
    ("z", 48),   # no rule: the global period
])
def test_period_for_a_stream(app, period_h):
    assert RULES.period_for(LabelSet([("app", app)])) == period_h * HOUR


def test_expired_needs_a_period_and_an_old_newest_row():
    periods = np.array([0, HOUR, HOUR], dtype=np.int64)
    newest = np.array([0, T0, T0 + 2 * HOUR], dtype=np.int64)
    assert RULES.expired(periods, newest, T0 + 2 * HOUR).tolist() == [False, True, False]


def test_retention_removes_exactly_the_expired_streams(make_store):
    now = (T0 + 3 * HOUR) / 1e9
    s = make_store(retention_ns=2 * HOUR, clock=lambda: now,
                   retention_streams=[rule("short", 1, 1), rule("forever", 1, 0)])
    s.append("t", [push({"app": "short"}, [T0 + 1, T0 + 2], ["short-1", "short-2"]),
                   push({"app": "global"}, [T0 + 3], ["global-1"]),
                   push({"app": "forever"}, [T0 + 4], ["forever-1"]),
                   push({"app": "short"}, [T0 + 2 * HOUR + 1], ["short-new"]),
                   push({"app": "global"}, [T0 + 2 * HOUR + 2], ["global-new"])])
    s.flush()
    assert s.apply_retention() == 1  # the first window's block, rewritten without short and global
    ids = list(s.streams("t", [], T0, T0 + 3 * HOUR))
    left = sorted(r[2] for r in rows(s.read("t", ids, T0, T0 + 3 * HOUR)))
    assert left == ["forever-1", "global-new", "short-new"]
    s.files.empty_trash(force=True)
    data = b"".join(p.read_bytes() for p in (s.data_dir / F.BLOCKS_DIR).rglob("*" + F.BLOCK_SUFFIX))
    assert b"short-1" not in data and b"global-1" not in data and b"forever-1" in data
    assert s.maintenance.retention_lines["t"] == 3
    assert s.apply_retention() == 0


def test_files_removed_by_retention_stay_for_the_delete_delay(make_store):
    now = (T0 + 3 * DAY) / 1e9
    s = make_store(retention_ns=DAY, clock=lambda: now, retention_delete_delay_s=3600.0)
    s.append("t", [push({"app": "a"}, [T0], ["old"])])
    s.flush()
    assert s.apply_retention() == 1
    s.files.empty_trash()
    assert list((s.data_dir / F.BLOCKS_DIR).rglob("*" + F.BLOCK_SUFFIX))  # still on disk
    assert s.streams("t", [], T0, T0 + DAY) == {}  # but no longer read
