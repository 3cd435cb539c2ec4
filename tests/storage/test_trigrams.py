"""Trigram bitmaps: never rule out a row group that holds a wanted line; sized to its trigrams."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from logyard.storage import trigrams as T


def exact_sizes(line: pa.Array, bounds) -> list[int]:
    """The map sizes (log2 bits) from the exact count of distinct trigrams."""
    data = np.frombuffer(line.buffers()[2], dtype=np.uint8)
    off = np.frombuffer(line.buffers()[1], dtype=np.int64, count=len(line) + 1)
    out = []
    for lo, hi in bounds:
        n = np.unique(T.trigrams(data[off[lo] : off[hi]])).size
        k = max(T.MIN_LOG2, int(np.ceil(np.log2(max(1, T.BITS_PER_TRIGRAM * n)))))
        if k > T.MAX_LOG2:
            k = int(np.ceil(np.log2(n)))
            k = 0 if k > T.MAX_SPARSE_LOG2 else k
        out.append(k)
    return out


@pytest.mark.parametrize("kind", ["words", "hex"])
def test_bitmaps_hold_every_trigram_of_their_row_group_and_are_sized_to_the_distinct_ones(kind):
    rng = np.random.default_rng(5)
    if kind == "words":
        lines = [f"GET /api/v{i % 7}/items/{i % 1000} status={200 + i % 3} user=u{i % 4000}" for i in range(30_000)]
    else:
        lines = [rng.bytes(24).hex() for _ in range(30_000)]
    line = pa.array(lines, pa.large_string())
    bounds = [(0, 10_000), (10_000, 20_000), (20_000, 30_000)]
    idx = T.TrigramIndex(T.build(line, bounds), len(bounds), "test")
    exact = exact_sizes(line, bounds)
    # Estimated counts pick the exact size, or a neighbour when the count sits on a boundary.
    assert all(abs(a - b) <= 1 for a, b in zip(idx.ks, exact)) and (idx.ks == [0, 0, 0]) == (exact == [0, 0, 0])
    for g, (lo, hi) in enumerate(bounds):
        for probe in lines[lo:hi:997]:
            assert idx.may_contain(np.array([g]), T.needed([probe[3:20]]))[0]


def test_trigrams_are_the_24_bit_values_of_every_3_byte_window():
    got = T.trigrams(np.frombuffer(b"abcd", dtype=np.uint8))
    assert got.tolist() == [0x616263, 0x626364]
    assert T.trigrams(np.frombuffer(b"ab", dtype=np.uint8)).size == 0
