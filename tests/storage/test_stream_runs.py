"""Row operations on hashed stream ids (63-bit, index.stream_id): the run-based paths give exactly
what the plain numpy operations give, on rows in runs (blocks, heads) and in no order at all."""

from __future__ import annotations

import numpy as np
import pytest

from logyard.logql.rows import dense_codes
from logyard.storage import rows as R


def hashed_rows(rng, n: int, streams: int, runs: bool) -> tuple[np.ndarray, np.ndarray]:
    ids = rng.integers(1, 1 << 63, size=streams, dtype=np.int64)
    if runs:
        lengths = rng.integers(1, 2 * n // streams + 2, size=4 * streams)
        stream = np.repeat(rng.choice(ids, size=len(lengths)), lengths)[:n]
    else:
        stream = rng.choice(ids, size=n)
    ts = rng.integers(0, 10**12, size=len(stream), dtype=np.int64)
    return stream, ts


@pytest.mark.parametrize("runs", [True, False])
@pytest.mark.parametrize("seed", range(6))
def test_row_mask_codes_and_order_match_numpy_on_hashed_ids(seed, runs):
    rng = np.random.default_rng(seed)
    stream, ts = hashed_rows(rng, 5000, int(rng.integers(1, 60)), runs)
    present = np.unique(stream)
    ids = np.unique(np.concatenate([rng.choice(present, size=max(1, len(present) // 2)),
                                    rng.integers(1, 1 << 63, size=5, dtype=np.int64)]))
    lo, hi = 10**11, 9 * 10**11
    want = (ts >= lo) & (ts < hi) & np.isin(stream, ids)
    assert np.array_equal(R.row_mask(stream, ts, ids, lo, hi), want)
    assert np.array_equal(R.row_mask(stream, ts, ids[:0], lo, hi), np.zeros(len(ts), dtype=bool))
    uniq, codes = np.unique(stream, return_inverse=True)
    for got in (R.stream_codes(stream), dense_codes(stream)):
        assert np.array_equal(got[0], uniq) and np.array_equal(got[1], codes.reshape(-1))
    assert np.array_equal(R._key_order(stream, ts, None), np.lexsort((ts, stream)))
    major = rng.integers(0, 3, size=len(ts))
    assert np.array_equal(R._key_order(stream, ts, major), np.lexsort((ts, stream, major)))
