"""The shipper: journal before send, acknowledge when every client took a record, replay after a
crash, wait (not queue) when the unacknowledged bound is reached. Real journal files and stand-in
receivers on 127.0.0.1."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from logyard.agent.journal import StreamChunk
from logyard.agent.metrics import AgentMetrics
from logyard.agent.positions import Positions
from logyard.agent.push import encode_entries
from logyard.agent.shipper import Shipper
from logyard.config.agent import ClientConfig
from logyard.labels import LabelSet
from tests.agent.helpers import wait_until
from tests.agent.receiver import Receiver

FAST = {"batchwait": 0.01, "backoff_config": {"min_period": 0.01, "max_period": 0.05, "max_retries": 0}}


def chunk(i: int, n: int = 10) -> StreamChunk:
    lines = [f"line {i}-{k}".encode() for k in range(n)]
    return StreamChunk(LabelSet({"job": "s"}.items()), encode_entries(np.arange(n) + i * 1000, lines), n, 100)


@pytest.fixture()
def sinks():
    rs = [Receiver(), Receiver()]
    yield rs
    for r in rs:
        r.stop()


def test_a_record_is_acknowledged_only_when_every_client_took_it(tmp_path, sinks):
    a, b = sinks
    b.status = 503
    s = Shipper(tmp_path / "p.yaml", [ClientConfig(url=a.url, **FAST), ClientConfig(url=b.url, **FAST)], AgentMetrics())
    s.open()
    s.start()
    s.submit({"f": "10:1:1"}, [chunk(1)])
    wait_until(lambda: len(a.lines(job="s")) == 10)
    s.save_positions()
    assert Positions(tmp_path / "p.yaml").load() == (-1, {})
    b.status = 204
    wait_until(lambda: len(b.lines(job="s")) == 10)
    wait_until(lambda: s.pending_records() == 0)
    s.save_positions()
    assert Positions(tmp_path / "p.yaml").load() == (0, {"f": "10:1:1"})
    s.stop()


def test_after_a_crash_unacknowledged_records_are_resent_identically(tmp_path, sinks):
    a, _ = sinks
    s = Shipper(tmp_path / "p.yaml", [ClientConfig(url=a.url, **FAST)], AgentMetrics(), sync_period=3600)
    s.open()
    s.start()
    for i in range(5):
        s.submit({"f": f"{i}:1:1"}, [chunk(i)])
    wait_until(lambda: len(a.lines(job="s")) == 50)
    # a crash: no stop(), no positions saved; a new shipper on the same files
    s._stop.set()
    again = Shipper(tmp_path / "p.yaml", [ClientConfig(url=a.url, **FAST)], AgentMetrics())
    again.open()
    assert again.resume("f") == "4:1:1"
    again.start()
    wait_until(lambda: again.pending_records() == 0)
    again.stop()
    assert len(a.lines(job="s")) == 50  # stored once each
    assert all(n == 2 for n in a.entries.values())  # every entry was sent twice, byte for byte


def test_readers_wait_at_the_unacknowledged_bound(tmp_path, sinks):
    a, _ = sinks
    a.status = 503
    s = Shipper(tmp_path / "p.yaml", [ClientConfig(url=a.url, **FAST)], AgentMetrics(), max_unacked_bytes=600)
    s.open()
    s.start()
    s.submit({"f": "1"}, [chunk(1, 20)])  # the first record always fits
    assert s._unacked > 300  # so that a second one does not
    done = threading.Event()
    t = threading.Thread(target=lambda: (s.submit({"f": "2"}, [chunk(2, 20)]), done.set()), daemon=True)
    t.start()
    assert not done.wait(0.5)  # blocked: not queued in memory
    a.status = 204
    assert done.wait(10)
    wait_until(lambda: len(a.lines(job="s")) == 40)
    s.stop()
