"""Blocks count their rows per stream and minute, and name their metadata: the footer blobs decode
to what the rows say, damage is a CorruptDataError, and `read_counts` stands for exactly the rows
`read` returns (head, several blocks, compacted blocks, delete requests) whatever the range."""

from __future__ import annotations

import numpy as np
import pytest

from logyard.errors import CorruptDataError
from logyard.logql.delete_query import compile_delete_query
from logyard.storage import block_counts
from logyard.storage import format as F
from logyard.storage.reads import Reads
from tests.storage.conftest import HOUR, T0, load_three_hours, push

G = F.BLOCK_COUNT_GRAIN_NS
MS = 10**6


def naive_cells(stream, ts, lens, grain=G) -> dict:
    out: dict = {}
    for s, t, n in zip(stream.tolist(), ts.tolist(), lens.tolist()):
        key = (s, -(-t // grain) * grain)
        rows, nbytes = out.get(key, (0, 0))
        out[key] = (rows + 1, nbytes + n)
    return out


def as_dict(c: block_counts.Cells) -> dict:
    return {(s, e): (r, b) for s, e, r, b in zip(c.stream.tolist(), c.end.tolist(), c.rows.tolist(), c.bytes.tolist())}


def sorted_rows(rng, n=2000):
    stream = np.sort(rng.integers(0, 9, n))
    ts = T0 + rng.integers(-5, 3 * 60, n) * (G // 60)  # seconds, around minute edges, some before T0
    edge = rng.random(n) < 0.2
    ts[edge] = T0 + rng.integers(0, 3, int(edge.sum())) * G  # exactly on a minute's end
    order = np.lexsort((ts, stream))
    return stream[order], ts[order], rng.integers(0, 500, n)


@pytest.mark.parametrize("seed", range(5))
def test_cells_count_each_stream_and_minute_closed_on_the_right(seed):
    stream, ts, lens = sorted_rows(np.random.default_rng(seed))
    c = block_counts.cells(stream, ts, lens)
    assert as_dict(c) == naive_cells(stream, ts, lens)
    back = block_counts.decode(block_counts.encode(c), "b")
    assert as_dict(back) == as_dict(c)
    assert as_dict(block_counts.left_closed(back)) == naive_cells(stream, ts - G + 1, lens)  # [S, S+G) as (S-G+1.. ]



def test_damaged_counts_are_corrupt_data_naming_the_field():
    blob = block_counts.encode(block_counts.cells(np.array([1, 1]), np.array([T0, T0 + 1]), np.array([3, 4])))
    for bad in (blob[:10], blob[:-3], blob[:4] + b"\xff" * 4 + blob[8:]):
        with pytest.raises(CorruptDataError, match="logyard.counts"):
            block_counts.decode(bad, "b")
    with pytest.raises(CorruptDataError, match="logyard.meta_names"):
        block_counts.decode_names(b'{"a":1}', "b")


def test_metadata_names_of_a_column():
    meta = ['{"trace_id":"a\\"b","user":"x"}', "", '{"user":"y"}', '{"k\\u00e9":"v:\\":"}', "{}"]
    import pyarrow as pa

    stream = np.array([1, 1, 2, 3, 3])
    want = {"trace_id": {1}, "user": {1, 2}, "k\u00e9": {3}}
    assert block_counts.meta_names(pa.array(meta), stream) == want
    assert block_counts.meta_names(pa.array(meta).dictionary_encode(), stream) == want
    perm = [4, 2, 0, 3, 1]  # the head's rows come in any order
    assert block_counts.meta_names(pa.array([meta[i] for i in perm]), stream[perm]) == want
    assert block_counts.meta_names(pa.array([""] * 3), stream[:3]) == {}
    back = block_counts.decode_names(block_counts.encode_names(want), "b")
    assert {n: set(v.tolist()) for n, v in back.items()} == want


def load(s, rng):
    """tests/storage/conftest.py's three hours, with metadata on every fourth stream."""
    load_three_hours(s, rng, lambda k, n: [f'{{"trace_id":"{i % 5}"}}' if k % 4 == 1 else "" for i in range(n)],
                     streams=8, pushes=6, per_push=400, edge_share=10)


def bucketed(tables, grain=G, left=False) -> dict:
    """(stream, minute end; start when `left`) -> (rows, bytes) of a read's rows or of read_counts' counts."""
    out: dict = {}
    for t in tables:
        d = t.to_pydict()
        n = d.get("n") or [1] * t.num_rows
        nb = d.get("len") or [0] * t.num_rows
        for s, ts, k, b in zip(d["stream"], d["ts"], n, nb):
            key = (s, ts // grain * grain if left else -(-ts // grain) * grain)
            rows, nbytes = out.get(key, (0, 0))
            out[key] = (rows + k, nbytes + b)
    return out


@pytest.mark.parametrize("seed", range(4))
def test_read_counts_stand_for_the_rows_read(make_store, seed):
    rng = np.random.default_rng(seed)
    tick = iter(range(10**6))
    s = make_store(compile_delete=compile_delete_query, delete_cancel_period_s=3600.0,
                   clock=lambda: T0 / 1e9 + 2 * 86400 + next(tick))
    load(s, rng)
    s.deletes.add("t", '{app="a2"}', (T0 + HOUR) // MS, (T0 + HOUR + 600 * 10**9) // MS)
    s.deletes.add("t", '{app="a5"} |= "xxxxx"', (T0 + HOUR) // MS, (T0 + 2 * HOUR) // MS)
    ids = sorted(s.streams("t", [], T0 - HOUR, T0 + 5 * HOUR))
    cells_used = 0
    real = Reads._window_cells

    def spy(self, *a, **kw):
        nonlocal cells_used
        got = real(self, *a, **kw)
        cells_used += got is not None
        return got

    Reads._window_cells = spy
    try:
        ranges = [(T0, T0 + 3 * HOUR), (T0 + 1, T0 + 3 * HOUR + 1), (T0 - G + 1, T0 + 2 * HOUR + 1), (T0, T0 + HOUR)]
        ranges += [(T0 + int(a) * G + 1, T0 + int(b) * G + 1) for a, b in np.sort(rng.integers(0, 190, (4, 2)))]
        ranges += [(T0 + int(a), T0 + int(b)) for a, b in np.sort(rng.integers(0, 3 * HOUR, (4, 2)))]
        for lo, hi in ranges:
            rows = list(s.read("t", ids, lo, hi, direction="forward", columns=("stream", "ts", "len")))
            for grain in (G, 5 * G, 7):
                for left in (False, True):
                    want = bucketed(rows, G, left)
                    got = bucketed(s.read_counts("t", ids, lo, hi, grain_ns=grain, with_bytes=True, left=left), G, left)
                    assert got == want, (lo - T0, hi - T0, grain, left)
    finally:
        Reads._window_cells = real
    assert cells_used  # the compacted window with no head rows nor deletes counted ahead


def test_metadata_names_of_blocks_and_head(make_store):
    s = make_store()
    s.append("t", [push({"app": "a"}, [T0, T0 + 1], ["x", "y"], ['{"trace_id":"1"}', ""]),
                   push({"app": "b"}, [T0 + 2], ["z"], [""])])  # one block for both
    s.flush()
    s.append("t", [push({"app": "b"}, [T0 + 3 * HOUR], ["w"], ['{"user":"u"}'])])
    by_app = {dict(ls)["app"]: sid for sid, ls in s.streams("t", [], T0, T0 + 5 * HOUR).items()}
    a, b = [by_app["a"]], [by_app["b"]]  # stream ids are hashes: not in the order of creation
    assert s.metadata_names("t", a, T0, T0 + HOUR) == {"trace_id"}
    assert s.metadata_names("t", b, T0, T0 + 3 * HOUR) == frozenset()  # a's names are a's
    assert s.metadata_names("t", b, T0, T0 + 4 * HOUR) == {"user"}  # the head's rows


def test_compaction_names_the_metadata_of_the_rows_it_merged(make_store):
    # The merged block's names come from the merged blocks' footers, not from its rows: the same.
    s = make_store()
    s.append("t", [push({"app": "a"}, [T0, T0 + 1], ["x", "y"], ['{"trace_id":"1"}', ""]),
                   push({"app": "b"}, [T0 + 2], ["z"], [""])])
    s.flush()
    s.append("t", [push({"app": "b"}, [T0 + 3], ["w"], ['{"user":"u","trace_id":"2"}']),
                   push({"app": "a"}, [T0 + 1], ["y"], [""]),  # an exact duplicate, dropped
                   push({"app": "c"}, [T0 + 4], ["v"], [""])])
    s.flush()
    assert s.compact() == 2
    [b] = s._index.all_blocks()
    r = s.files.reader(b)
    t = r.read(r.row_groups(None, T0, T0 + HOUR), ["stream", "meta"])
    from_rows = block_counts.meta_names(t.column("meta"), t.column("stream").to_numpy())
    assert {n: set(v.tolist()) for n, v in r.meta_names().items()} == from_rows
    by_app = {dict(ls)["app"]: sid for sid, ls in s.streams("t", [], T0, T0 + HOUR).items()}
    assert from_rows == {"trace_id": {by_app["a"], by_app["b"]}, "user": {by_app["b"]}}
