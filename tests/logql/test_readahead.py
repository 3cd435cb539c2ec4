"""`logyard.logql.readahead`: windows read by worker threads, answered in order (`window_reads`);
tables decoded one step ahead in a worker thread (`read_ahead`)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from logyard.logql import readahead
from logyard.logql.readahead import read_ahead, window_reads


class FakeStore:
    """Windows of 10 ns; `read` answers its range as one item and records the calls."""

    window_ns = 10

    def __init__(self, fail_at: int | None = None) -> None:
        self.calls: list[tuple[int, int]] = []
        self.fail_at = fail_at
        self.lock = threading.Lock()

    def head_lines(self) -> int:
        return 0

    def read(self, tenant, ids, start, end, *, direction, columns, line_contains=(), first=None):
        with self.lock:
            self.calls.append((start, end))
        if start == self.fail_at:
            raise ValueError("broken block")
        if start < end:
            yield (start, end)


def _read(store, lo, hi, direction="forward", **kw):
    return list(window_reads(store, "t", np.array([1]), lo, hi, direction=direction, columns=("ts",), **kw))


def test_windows_come_in_time_order_clipped_to_the_range():
    assert _read(FakeStore(), 5, 32) == [(5, 10), (10, 20), (20, 30), (30, 32)]


def test_backward_reads_come_newest_first():
    assert _read(FakeStore(), 5, 32, "backward") == [(30, 32), (20, 30), (10, 20), (5, 10)]


def test_work_runs_on_every_window():
    assert _read(FakeStore(), 0, 20, work=lambda t: t[1] - t[0]) == [10, 10]


def test_a_ramped_read_stopped_after_the_first_window_reads_no_other():
    store = FakeStore()
    it = window_reads(store, "t", np.array([1]), 0, 100, direction="backward", columns=("ts",), ramp=True)
    assert next(it) == (90, 100)
    it.close()
    assert store.calls == [(90, 100)]


class PlanningStore(FakeStore):
    """A FakeStore that says which windows may hold rows meeting a line hint: `hits`, the starts of
    the windows that do, and records what it was asked."""

    def __init__(self, hits) -> None:
        super().__init__()
        self.hits = hits
        self.asked: list[tuple[int, int, tuple]] = []

    def windows(self, tenant, ids, start, end, *, line_contains=()):
        self.asked.append((start, end, tuple(line_contains)))
        return [w for w in self.hits if start <= w < end or w < start < w + self.window_ns]


@pytest.mark.parametrize("ramp", [False, True])
@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_a_line_hint_reads_only_the_windows_the_store_leaves(ramp, direction):
    store = PlanningStore([0, 30, 60])
    got = _read(store, 5, 95, direction, line_contains=("needle",), ramp=ramp)
    want = [(5, 10), (30, 40), (60, 70)]
    if ramp and direction == "backward":  # the newest window is read before the store is asked
        want.append((90, 95))
    assert got == (want if direction == "forward" else want[::-1])
    assert sorted(store.calls) == sorted(want)
    # Ramped, about the windows after the first one read.
    asked = (5, 95) if not ramp else (10, 95) if direction == "forward" else (5, 90)
    assert store.asked == [(*asked, ("needle",))]


def test_without_a_line_hint_the_store_is_not_asked_for_its_windows():
    store = PlanningStore([0])
    assert _read(store, 0, 30, ramp=True) == [(0, 10), (10, 20), (20, 30)]
    assert store.asked == []


def test_a_read_error_reaches_the_consumer():
    with pytest.raises(ValueError, match="broken block"):
        _read(FakeStore(fail_at=20), 0, 40)


def test_a_range_of_too_many_windows_is_read_as_one_sequence(monkeypatch):
    monkeypatch.setattr(readahead, "MAX_WINDOW_READS", 3)
    store = FakeStore()
    assert _read(store, 0, 100) == [(0, 100)]
    assert store.calls == [(0, 100)]


def test_an_empty_range_reads_nothing():
    assert _read(FakeStore(), 50, 50) == []


def test_a_store_with_a_large_head_is_read_as_one_sequence(monkeypatch):
    store = FakeStore()
    store.head_lines = lambda: readahead.MAX_HEAD_LINES_FOR_WINDOW_READS + 1
    assert _read(store, 0, 30) == [(0, 30)]
    store.head_lines = lambda: 0
    assert _read(store, 0, 30) == [(0, 10), (10, 20), (20, 30)]


def test_a_ramped_sequential_read_decodes_nothing_ahead_of_the_consumer(monkeypatch):
    monkeypatch.setattr(readahead, "MAX_WINDOW_READS", 0)
    produced = []

    class Lazy(FakeStore):
        def read(self, tenant, ids, start, end, *, direction, columns, line_contains=(), first=None):
            for w in range(start, end, 10):
                produced.append(w)
                yield w

    it = window_reads(Lazy(), "t", np.array([1]), 0, 100, direction="forward", columns=("ts",), ramp=True)
    assert next(it) == 0
    it.close()
    assert produced == [0]


def test_read_ahead_yields_every_item_in_order():
    assert list(read_ahead(iter(range(50)))) == list(range(50))


def test_read_ahead_raises_the_producers_error_after_the_items_before_it():
    def gen():
        yield 1
        yield 2
        raise ValueError("broken block")

    got = []
    with pytest.raises(ValueError, match="broken block"):
        for x in read_ahead(gen()):
            got.append(x)
    assert got == [1, 2]


def test_read_ahead_worker_stops_when_the_consumer_stops():
    produced = []

    def gen():
        for i in range(1000):
            produced.append(i)
            yield i

    before = threading.active_count()
    it = read_ahead(gen(), depth=1)
    assert next(it) == 0
    it.close()
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == before
    assert len(produced) < 10  # it read at most a step or two ahead, not the whole source
