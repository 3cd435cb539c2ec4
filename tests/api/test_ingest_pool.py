"""The decode worker's process setup: what `_warm` changes, checked in a fresh interpreter so that
this test process keeps its own allocator settings."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from logyard.api.ingest_pool import DecodeOptions, DecodePool, decode_body
from logyard.ingest.validate import DEFAULT_LIST


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_workers_keep_freed_memory_on_glibc():
    code = (
        "from logyard.api.ingest_pool import keep_freed_memory\n"
        "assert keep_freed_memory() is True\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_worker_answers_like_inline_decoding():
    body = b'{"streams":[{"stream":{"job":"a"},"values":[["1767139200000000000","level=warn x",{"k":"v"}]]}]}'
    opts = DecodeOptions(262144, tuple(DEFAULT_LIST), True, None, 0)
    pool = DecodePool(workers=1)
    try:
        remote = pool.submit("t", body, "application/json", None, opts).result(timeout=60)
    finally:
        pool.shutdown()
    inline = decode_body("t", body, "application/json", None, opts)
    assert remote.payload == inline.payload and remote.lines == inline.lines == 1
