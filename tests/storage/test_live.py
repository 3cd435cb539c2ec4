"""storage/live.py against a real Store: what a subscription keeps of committed appends, its bound,
what it remembers of what it dropped, and that it reads a stream's labels once."""

from __future__ import annotations

import numpy as np

from logyard.ingest.model import PushStream
from logyard.labels import LabelSet, Matcher
from logyard.storage import live
from logyard.storage.live import Subscription
from logyard.storage.store import Store

T0 = 1_767_225_600_000_000_000


def stream(app: str, n: int, start: int = 0, text: str = "line") -> PushStream:
    ts = np.arange(start, start + n, dtype=np.int64) + T0
    return PushStream(LabelSet({"app": app}.items()), ts, [f"{text} {i}" for i in range(n)], [""] * n)


def open_store(tmp_path) -> Store:
    store = Store(tmp_path / "data")
    store.open()
    return store


def test_subscription_keeps_only_matching_rows_of_its_tenant(tmp_path):
    store = open_store(tmp_path)
    woken = []
    sub = store.live.subscribe(Subscription("t1", [Matcher("app", "=", "a")], lambda: woken.append(1)))
    store.append("t1", [stream("a", 3), stream("b", 2)])
    store.append("t2", [stream("a", 4)])
    batches = sub.take()
    store.close()
    rows = [r for b in batches for r in b.to_pylist()]
    assert [(r["ts"] - T0, r["line"]) for r in rows] == [(0, "line 0"), (1, "line 1"), (2, "line 2")]
    assert set(sub.stream_labels.values()) == {LabelSet({"app": "a"}.items())}
    assert woken == [1]  # once, when the inbox stopped being empty


def test_full_inbox_drops_rows_and_remembers_at_most_max_dropped(tmp_path):
    store = open_store(tmp_path)
    sub = store.live.subscribe(Subscription("t1", [Matcher("app", "=", "a")], lambda: None, max_bytes=1))
    store.append("t1", [stream("a", 10)])  # an empty inbox takes a whole append
    store.append("t1", [stream("a", 800, start=10)])
    store.append("t1", [stream("a", 800, start=810)])
    kept = sub.take()
    ts, ids = sub.take_dropped()
    store.close()
    assert sum(b.num_rows for b in kept) == 10
    assert sub.dropped_total == 1600
    assert len(ts) == live.MAX_DROPPED
    assert (ts - T0).tolist() == list(range(10, 10 + live.MAX_DROPPED))
    assert set(ids.tolist()) == set(sub.stream_labels)
    assert sub.take_dropped()[0].size == 0  # taken once


def test_a_streams_labels_are_matched_once(tmp_path, monkeypatch):
    store = open_store(tmp_path)
    sub = store.live.subscribe(Subscription("t1", [Matcher("app", "=~", "a|b")], lambda: None))
    calls = []
    real = Subscription.matches
    monkeypatch.setattr(Subscription, "matches", lambda self, labels: calls.append(labels) or real(self, labels))
    for i in range(5):
        store.append("t1", [stream("a", 2, start=2 * i), stream("b", 1, start=i), stream("c", 1, start=i)])
    store.close()
    assert sorted(dict(c)["app"] for c in calls) == ["a", "b", "c"]
    assert sum(b.num_rows for b in sub.take()) == 15


def test_unsubscribed_tail_gets_nothing(tmp_path):
    store = open_store(tmp_path)
    sub = store.live.subscribe(Subscription("t1", [Matcher("app", "=", "a")], lambda: None))
    store.live.unsubscribe(sub)
    store.append("t1", [stream("a", 3)])
    store.close()
    assert sub.take() == [] and store.live.subscribers == ()


def test_rows_of_a_delete_request_never_reach_a_tail(tmp_path):
    from logyard.logql.delete_query import compile_delete_query

    store = Store(tmp_path / "data", compile_delete=compile_delete_query, clock=lambda: T0 / 1e9 + 60)
    store.open()
    store.deletes.add("t1", '{app="a"} |= "line 1"', T0 // 10**6, T0 // 10**6 + 10)
    sub = store.live.subscribe(Subscription("t1", [Matcher("app", "=~", "a|b")], lambda: None))
    store.append("t1", [stream("a", 3), stream("b", 2)])
    batches = sub.take()
    store.close()
    rows = [(r["stream"], r["line"]) for b in batches for r in b.to_pylist()]
    assert [line for _, line in rows] == ["line 0", "line 2", "line 0", "line 1"]


def test_rows_of_another_process_are_kept_as_its_own_appends_are(tmp_path):
    """A reader's tail: a writer's rows (head columns and their streams' labels) offered to a
    subscription are kept as local appends are, matched, bounded, and their drops reported."""
    writer = open_store(tmp_path)
    writer.append("t1", [stream("a", 3), stream("b", 2)])
    table, labels = writer.head_rows("t1")
    writer.close()
    woken = []
    sub = Subscription("t1", [Matcher("app", "=", "a")], lambda: woken.append(1), max_bytes=1)
    sub.offer_rows(table, labels)
    assert [(r["ts"] - T0, r["line"]) for b in sub.take() for r in b.to_pylist()] == [
        (0, "line 0"), (1, "line 1"), (2, "line 2")]
    assert set(sub.stream_labels.values()) == {LabelSet({"app": "a"}.items())}
    sub.offer_rows(table, labels)  # an empty inbox takes it all
    sub.offer_rows(table, labels)  # beyond the bound: dropped
    assert sum(b.num_rows for b in sub.take()) == 3 and sub.dropped_total == 3
    a_id = next(iter(sub.stream_labels))
    sub.offer_dropped(np.array([T0 + 7]), np.array([a_id]), [LabelSet({"app": "a"}.items())])
    ts, ids = sub.take_dropped()
    assert (ts - T0).tolist() == [0, 1, 2, 7] and set(ids.tolist()) == {a_id}
    assert sub.dropped_total == 4 and len(woken) == 3
