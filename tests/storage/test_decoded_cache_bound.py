"""`storage.decoded_cache_size` through the store: the bound holds over real reads of real blocks,
and the answers do not depend on it."""

from __future__ import annotations

import numpy as np
import pytest

from logyard.storage import block as B
from logyard.storage import format as F
from tests.storage.conftest import T0, A, first_by_ts, ids_of, push, rows


@pytest.fixture
def decoded(monkeypatch):
    """The process's cache, its bound and entries restored after the test."""
    monkeypatch.setattr(B.DECODED, "max_bytes", B.DECODED.max_bytes)
    B.DECODED.resize(0)  # nothing left from other tests
    return B.DECODED


def load(s):
    for part in range(3):  # three flushed blocks of one hour, rows interleaved
        s.append("t", [push(A, T0 + (np.arange(2000) * 3 + part) * 10**6,
                            [f"line {part}-{i} " + "x" * (i % 200) for i in range(2000)])])
        s.flush()


def first_rows_everywhere(s):
    """Log-query reads with a limit at many places of the hour: each decodes other row groups."""
    out = []
    for k in range(12):
        start = T0 + k * 500 * 10**6
        out.append(first_by_ts(rows(s.read("t", ids_of(s), start, start + 600 * 10**6, first=40)), 40, True))
    return out


def test_the_decoded_cache_stays_within_the_configured_bound(make_store, monkeypatch, decoded):
    monkeypatch.setattr(F, "BLOCK_ROW_GROUP_ROWS", 200)  # many small row groups (~25 KB of lines each)
    bound = 200_000
    s = make_store(decoded_cache_bytes=bound)
    assert decoded.max_bytes == bound
    load(s)
    bounded = first_rows_everywhere(s)
    assert 0 < decoded.bytes <= bound
    assert decoded.misses > len(decoded._entries)  # more was decoded than it holds: some left
    decoded.resize(0)
    assert first_rows_everywhere(s) == bounded  # the same answers with no cache at all


def test_a_zero_size_keeps_no_decoded_row_group(make_store, monkeypatch, decoded):
    monkeypatch.setattr(F, "BLOCK_ROW_GROUP_ROWS", 200)
    s = make_store(decoded_cache_bytes=0)
    load(s)
    first_rows_everywhere(s)
    assert decoded.bytes == 0 and not decoded._entries

