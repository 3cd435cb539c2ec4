"""Storage's exact literal line filters (`needles.LineMatch`, line_scan.py) keep exactly the rows
Python's `in` keeps on the whole lines: on compacted lines searched with their own timestamps cut
out (needles overlapping the cut rendering, spanning the cut in the stored bytes, spanning two lines,
digits and month names), in chunks and slices, and through the store's reads (compacted blocks,
flushed blocks, the head, and all three in one window)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from logyard.needles import LineMatch
from logyard.storage import _tsembed, line_scan
from logyard.storage import format as F
from logyard.storage import line_time as LT
from tests.storage.conftest import HOUR, T0, push

WORDS = ["error", "GET", "level=info", "ts=", "Jan", "Dec", "refused", "x9", "12", "0:", ":0", "T1", "-",
         "caf\u00e9", "status=500", "[", "]", "/", " ", ".", ","]


def random_line(rng: np.random.Generator, ts: int) -> str:
    """Words around a rendering of the row's own timestamp in a random format (or none)."""
    words = [WORDS[i] for i in rng.integers(0, len(WORDS), size=int(rng.integers(0, 7)))]
    fmt = int(rng.integers(0, _tsembed.N_FORMATS))
    if fmt:
        words.insert(int(rng.integers(0, len(words) + 1)), _tsembed.render(ts, fmt))
    return "".join(w + (" " if rng.random() < 0.5 else "") for w in words)


def random_needles(rng: np.random.Generator, lines: list[str], stripped: list[str], n: int) -> list[str]:
    """Substrings of the lines (many overlap a rendering), of the stored lines (some span the cut,
    present there but not in the line), across two neighbouring lines, and plain words."""
    out = []
    while len(out) < n:
        kind = int(rng.integers(0, 4))
        i = int(rng.integers(0, len(lines)))
        src = [lines[i], stripped[i], lines[i] + lines[(i + 1) % len(lines)], " ".join(WORDS)][kind]
        if not src:
            continue
        a = int(rng.integers(0, len(src)))
        s = src[a:a + int(rng.integers(1, 24))]
        if s:
            out.append(s)
    return out


@pytest.fixture(params=[True, False], ids=["avx2", "sse2"])
def scan(request):
    """Both scans of `_tsembed.contains` (the AVX2 one only where the CPU has it)."""
    was = _tsembed.avx2(request.param)
    yield
    _tsembed.avx2(was)


@pytest.mark.parametrize("seed", range(6))
def test_contains_on_cut_lines_is_contains_on_whole_lines(scan, seed):
    rng = np.random.default_rng(seed)
    n = 400
    ts = (T0 + rng.integers(0, 400 * 86400 * 10**9, size=n)).astype(np.int64)
    lines = [random_line(rng, int(t)) for t in ts]
    cut, codes = LT.strip(pa.array(lines, pa.large_string()), ts)
    assert codes.any()  # the stored lines do have renderings cut out
    stripped = cut.to_pylist()
    for needle in random_needles(rng, lines, stripped, 300):
        got = LT.contains(cut, needle.encode(), ts, codes)
        assert got.tolist() == [needle in line for line in lines], needle
        whole = LT.contains(pa.array(lines, pa.large_string()), needle.encode())
        assert whole.tolist() == [needle in line for line in lines], needle


def test_contains_on_slices_and_empty_lines(scan):
    lines = ["", "error", "", "no", "an error here", "", "errorerror", "err", "or"]
    ts = np.arange(len(lines), dtype=np.int64)
    arr = pa.array(lines, pa.large_string())
    for a in range(len(lines)):
        part = arr.slice(a)
        assert LT.contains(part, b"error").tolist() == ["error" in s for s in lines[a:]]
        assert LT.contains(part, b"error", ts[a:], np.zeros(len(lines) - a, np.int32)).tolist() == \
            ["error" in s for s in lines[a:]]
    assert LT.contains(pa.array([], pa.large_string()), b"x").tolist() == []


@pytest.mark.parametrize("needle", [
    "at 2026-01-01T10",        # its own bytes before the cut, then into the rendering
    "00:00.123Z]",             # from the rendering into its own bytes after the cut
    "t 2026-01-01T10:00:00.123Z] r",  # the rendering whole, bytes on both sides
    "2026-01-01T10:00:00.123Z",       # the rendering alone: only renderable bytes
    "xq7-2026",                # renderable tail, but the line holds "at " before the cut: no row
    "Z] req",                  # neither neighbour: found in the stored bytes, not through the cut
])
def test_needles_through_a_cut_rendering_are_found_by_its_neighbouring_bytes(scan, needle):
    """A needle overlapping the cut holds a byte of the line beside the cut unless it is all
    renderable bytes: rows whose neighbours rule that out are skipped without rendering."""
    ts = np.array([1767261600123000000] * 3, dtype=np.int64)  # 2026-01-01T10:00:00.123Z
    lines = ["at 2026-01-01T10:00:00.123Z] req", "[2026-01-01T10:00:00.123Z] at", "2026-01-01T10:00:00.123Z"]
    cut, codes = LT.strip(pa.array(lines, pa.large_string()), ts)
    assert codes.all()
    assert LT.contains(cut, needle.encode(), ts, codes).tolist() == [needle in line for line in lines]


def test_a_code_that_does_not_fit_its_line_is_an_error():
    with pytest.raises(ValueError):
        LT.contains(pa.array(["ab"], pa.large_string()), b"a", np.zeros(1, np.int64), np.array([(9 << 5) | 3], np.int32))


def oracle(lines: list[str], match: LineMatch) -> list[bool]:
    return [all(any(s in line for s in g) for g in match.contains) and not any(s in line for s in match.excludes)
            for line in lines]


MATCHES = [
    LineMatch((("error",),)),
    LineMatch((("error", "refused"),)),
    LineMatch((("error",), ("status=500",))),
    LineMatch((), ("error",)),
    LineMatch((("GET",),), ("error", "Jan")),
    LineMatch((("2026-",),)),          # in renderings only: found around the cuts
    LineMatch((("absent-needle",),)),
]


@pytest.mark.parametrize("match", MATCHES)
def test_masks_over_chunks_are_the_oracle(scan, match):
    rng = np.random.default_rng(11)
    n = 300
    ts = (T0 + rng.integers(0, 86400 * 10**9, size=n)).astype(np.int64)
    lines = [random_line(rng, int(t)) for t in ts]
    cut, codes = LT.strip(pa.array(lines, pa.large_string()), ts)
    chunked = pa.chunked_array([cut.slice(0, 100), cut.slice(100, 1), cut.slice(101)])
    assert line_scan.mask(chunked, match, ts, codes).tolist() == oracle(lines, match)
    whole = pa.chunked_array([pa.array(lines[:150], pa.string()), pa.array(lines[150:], pa.string())])
    assert line_scan.mask(whole, match).tolist() == oracle(lines, match)


def _rows(tables) -> list[tuple]:
    out = []
    for t in tables:
        d = t.to_pydict()
        out.extend(zip(d["stream"], d["ts"], d.get("line", [None] * t.num_rows)))
    return out


@pytest.mark.parametrize("columns", [("stream", "ts"), ("stream", "ts", "line", "meta")])
def test_store_reads_with_a_match_are_full_reads_filtered(make_store, monkeypatch, columns):
    """Window 0: a compacted block; window 1: a flushed block, the head, and rows in both."""
    monkeypatch.setattr(F, "BLOCK_ROW_GROUP_ROWS", 64)
    rng = np.random.default_rng(5)
    s = make_store()

    def load(app: str, ts: np.ndarray) -> list[str]:
        lines = [random_line(rng, int(t)) for t in ts]
        s.append("t", [push({"app": app}, ts, lines)])
        return lines

    for app in ("a", "b"):
        load(app, np.sort(T0 + rng.integers(0, HOUR, size=500)))
    s.flush()
    s.compact()
    later = np.sort(T0 + HOUR + rng.integers(0, HOUR, size=300))
    lines = load("a", later)
    s.flush()
    s.append("t", [push({"app": "a"}, later[:50], lines[:50])])  # in the flushed block and the head
    load("b", np.sort(T0 + HOUR + rng.integers(0, HOUR, size=200)))  # only in the head
    ids = sorted(s.streams("t", [], T0, T0 + 2 * HOUR))
    assert any(b.level == 1 for b in s._index.blocks("t")) and s.head_lines()
    full = _rows(s.read("t", ids, T0, T0 + 2 * HOUR, direction="forward", columns=("stream", "ts", "line")))
    for match in MATCHES:
        want = [r for r, ok in zip(full, oracle([r[2] for r in full], match)) if ok]
        got = _rows(s.read("t", ids, T0, T0 + 2 * HOUR, direction="forward", columns=columns, line_match=match))
        if "line" not in columns:
            want = [(a, b, None) for a, b, _ in want]
        assert got == want, match


@pytest.mark.parametrize("inside", [None, "half"])
def test_scanned_metadata_bytes_are_the_strings_bytes(inside):
    """Counted from dictionaries (values' lengths weighted by their indices) or plain strings,
    over chunks: the bytes of the strings themselves."""
    values = ["", '{"a":"b"}', '{"trace_id":"xyz"}', '{"é":"ü"}']
    rng = np.random.default_rng(5)
    parts = [[values[i] for i in rng.integers(0, len(values), n)] for n in (7, 0, 12)]
    for meta in (pa.chunked_array([pa.array(p, pa.string()).dictionary_encode() for p in parts]),
                 pa.chunked_array([pa.array(p, pa.string()) for p in parts])):
        lines = pa.chunked_array([pa.array(["x"] * len(p), pa.large_string()) for p in parts])
        flat = [v for p in parts for v in p]
        keep = None if inside is None else np.arange(len(flat)) % 2 == 0
        s = line_scan.Scanned(meta=True)
        s.add(lines, None, meta, keep)
        assert s.meta_bytes == sum(len(v.encode()) for i, v in enumerate(flat) if keep is None or keep[i])
        assert s.rows == (len(flat) if keep is None else int(keep.sum()))
