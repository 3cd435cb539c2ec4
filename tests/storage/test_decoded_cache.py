"""The decoded row-group cache: least recently used out first, bounded in bytes, per block."""

from __future__ import annotations

import pyarrow as pa

from logyard.storage.decoded_cache import DecodedCache


def table(n: int) -> pa.Table:
    return pa.table({"line": pa.array(["x" * 100] * n)})


def test_a_cached_row_group_is_decoded_once():
    c = DecodedCache(1 << 20)
    calls = []
    decode = lambda: calls.append(1) or table(10)  # noqa: E731
    first = c.get("a", 0, ("line",), decode)
    assert c.get("a", 0, ("line",), decode) is first
    assert len(calls) == 1 and (c.hits, c.misses) == (1, 1)
    c.get("a", 0, ("line", "meta"), decode)  # other columns: another entry
    assert len(calls) == 2


def test_the_least_recently_used_row_groups_leave_first_when_over_the_byte_bound():
    size = table(100).nbytes
    c = DecodedCache(4 * size + size // 2)
    for g in range(4):
        c.get("a", g, ("line",), lambda: table(100))
    c.get("a", 0, ("line",), lambda: table(100))  # row group 0 used again: 1 is now the oldest
    c.get("a", 4, ("line",), lambda: table(100))
    assert [k[1] for k in c._entries] == [2, 3, 0, 4]
    assert c.bytes == 4 * size <= c.max_bytes


def test_a_row_group_larger_than_a_quarter_of_the_cache_is_not_kept():
    c = DecodedCache(table(100).nbytes * 3)
    c.get("a", 0, ("line",), lambda: table(100))
    assert c.bytes == 0 and not c._entries


def test_discarding_a_block_drops_its_row_groups_only():
    c = DecodedCache(1 << 20)
    for block in ("a", "b"):
        for g in range(2):
            c.get(block, g, ("line",), lambda: table(10))
    c.discard("a")
    assert {k[0] for k in c._entries} == {"b"} and c.bytes == 2 * table(10).nbytes
    c.discard("zzz")  # unknown: nothing happens


def test_resizing_drops_the_least_recently_used_until_the_new_bound_holds():
    size = table(100).nbytes
    c = DecodedCache(8 * size)
    for g in range(4):
        c.get("a", g, ("line",), lambda: table(100))
    c.resize(2 * size + size // 2)
    assert [k[1] for k in c._entries] == [2, 3] and c.bytes == 2 * size
    c.resize(0)
    assert c.bytes == 0 and not c._entries
    c.get("a", 0, ("line",), lambda: table(1))  # 0: nothing is kept
    assert not c._entries
