"""`logyard.logql.readahead.read_ahead`: windows decoded one step ahead in a worker thread."""

from __future__ import annotations

import threading
import time

import pytest

from logyard.logql.readahead import read_ahead


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
