"""Line time: a line's rendering of its own timestamp is cut at compaction and put back at read."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logyard.errors import StorageError
from logyard.storage import _tsembed
from logyard.storage import format as F
from logyard.storage import line_time as LT
from logyard.storage.block import BlockReader, write_block

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def _frac(f: int, digits: int, sep: str = ".") -> str:
    return sep + f"{f:09d}"[:digits]


# The oracle: each format id of _tsembed.c written with datetime, independently of the C renderer.
ORACLE = {
    1: lambda d, f: d.strftime("%Y-%m-%dT%H:%M:%S") + _frac(f, 9),
    2: lambda d, f: d.strftime("%Y-%m-%dT%H:%M:%S") + _frac(f, 6),
    3: lambda d, f: d.strftime("%Y-%m-%dT%H:%M:%S") + _frac(f, 3),
    4: lambda d, f: d.strftime("%Y-%m-%dT%H:%M:%S"),
    5: lambda d, f: d.strftime("%Y-%m-%d %H:%M:%S") + _frac(f, 9),
    6: lambda d, f: d.strftime("%Y-%m-%d %H:%M:%S") + _frac(f, 6),
    7: lambda d, f: d.strftime("%Y-%m-%d %H:%M:%S") + _frac(f, 3),
    8: lambda d, f: d.strftime("%Y-%m-%d %H:%M:%S") + _frac(f, 3, ","),
    9: lambda d, f: d.strftime("%Y-%m-%d %H:%M:%S"),
    10: lambda d, f: d.strftime("%Y/%m/%d %H:%M:%S") + _frac(f, 6),
    11: lambda d, f: d.strftime("%Y/%m/%d %H:%M:%S"),
    12: lambda d, f: d.strftime("%Y/%m/%d - %H:%M:%S"),
    13: lambda d, f: f"{d.day:02d}/{MONTHS[d.month - 1]}/{d.year:04d}:" + d.strftime("%H:%M:%S"),
    14: lambda d, f: f"{MONTHS[d.month - 1]} {d.day:2d} " + d.strftime("%H:%M:%S"),
    15: lambda d, f: d.strftime("%m%d %H:%M:%S") + _frac(f, 6),
    16: lambda d, f: d.strftime("%H:%M:%S") + _frac(f, 9),
    17: lambda d, f: d.strftime("%H:%M:%S") + _frac(f, 6),
    18: lambda d, f: d.strftime("%H:%M:%S") + _frac(f, 3),
    19: lambda d, f: d.strftime("%H:%M:%S"),
}
NS = st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1)  # int64 ns: years 1677-2262


def oracle(ns: int, fmt: int) -> str:
    secs, frac = divmod(ns, 10**9)
    return ORACLE[fmt](EPOCH + timedelta(seconds=secs), frac)


def test_oracle_covers_every_format():
    assert sorted(ORACLE) == list(range(1, _tsembed.N_FORMATS))


@settings(max_examples=300, deadline=None)
@given(ns=NS)
def test_renderings_match_datetime(ns):
    for fmt in ORACLE:
        assert _tsembed.render(ns, fmt) == oracle(ns, fmt)


def strip_one(line: str, ns: int) -> tuple[str, int]:
    lines, codes = LT.strip(pa.array([line], pa.large_string()), np.array([ns], dtype=np.int64))
    return lines[0].as_py(), int(codes[0])


NS0 = 1767262345123456789  # 2026-01-01T10:12:25.123456789Z


@pytest.mark.parametrize("line,fmt,cut", [
    ("time=2026-01-01T10:12:25.123Z level=info", 3, "2026-01-01T10:12:25.123"),
    ('level=info ts=2026-01-01T10:12:25.123456789Z caller=x', 1, "2026-01-01T10:12:25.123456789"),
    ("2026-01-01 10:12:25.123 UTC [42] LOG:  checkpoint", 7, "2026-01-01 10:12:25.123"),
    ("2026-01-01 10:12:25,123 INFO app: started", 8, "2026-01-01 10:12:25,123"),
    ('1.2.3.4 - - [01/Jan/2026:10:12:25 +0000] "GET / HTTP/1.1" 200', 13, "01/Jan/2026:10:12:25"),
    ("Jan  1 10:12:25 host sshd[1]: Accepted", 14, "Jan  1 10:12:25"),
    ("[GIN] 2026/01/01 - 10:12:25 | 200 |", 12, "2026/01/01 - 10:12:25"),
    ("I0101 10:12:25.123456       1 manager.go:1116]", 15, "0101 10:12:25.123456"),
    ("at 10:12:25 something", 19, "10:12:25"),
])
def test_a_line_loses_exactly_its_own_timestamp(line, fmt, cut):
    stored, code = strip_one(line, NS0)
    assert (code & 31, code >> 5) == (fmt, line.index(cut))
    assert stored == line.replace(cut, "", 1)


def test_other_times_stay_in_the_line():
    for line in ["ts=2026-01-01T10:12:26.123Z", "took 00:00:03", "2026-01-01T11:12:25Z", "10:12:2", ""]:
        assert strip_one(line, NS0) == (line, 0)


def test_a_dated_rendering_wins_over_an_earlier_bare_time():
    line = "dur=10:12:25 at 2026-01-01T10:12:25.123Z"  # the first HH:MM:SS is a duration
    assert strip_one(line, NS0) == ("dur=10:12:25 at Z", (line.index("2026") << 5) | 3)
    assert strip_one("dur=10:12:25 x", NS0) == ("dur= x", (4 << 5) | 19)


def test_only_the_start_of_long_lines_is_searched():
    far = "x" * 2000 + "2026-01-01T10:12:25.123Z"
    assert strip_one(far, NS0) == (far, 0)


texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.tuples(NS, texts, st.integers(1, _tsembed.N_FORMATS - 1), texts, st.booleans()), max_size=30),
       skip=st.integers(0, 3))
def test_any_lines_round_trip(rows, skip):
    ts = np.array([r[0] for r in rows], dtype=np.int64)
    lines = [a + (oracle(ns, f) if embed else "") + b for ns, a, f, b, embed in rows]
    arr = pa.array(["pad"] * skip + lines, pa.large_string()).slice(skip)  # a non-zero array offset too
    stored, codes = LT.strip(arr, ts)
    assert len(stored) == len(lines) and stored.validate(full=True) is None
    assert all(len(s.as_py()) <= len(x) for s, x in zip(stored, lines))
    assert LT.restore(stored, ts, codes).to_pylist() == lines
    assert LT.restore(pa.array(lines, pa.string()), ts, np.zeros(len(lines), np.int32)).to_pylist() == lines


def test_a_code_that_does_not_fit_its_line_is_an_error():
    stored, codes = LT.strip(pa.array(["ts=2026-01-01T10:12:25.123Z"]), np.array([NS0]))
    bad = codes.copy()
    bad[0] = (100 << 5) | 3  # past the end of the stored line
    with pytest.raises(ValueError, match="row 0"):
        LT.restore(stored, np.array([NS0]), bad)
    with pytest.raises(ValueError, match="row 0"):
        LT.restore(stored, np.array([NS0]), np.array([31], np.int32))  # no such format


def _block_table(n=2000):
    ts = NS0 + np.arange(n, dtype=np.int64) * 1_234_567_891
    lines = [f"ts={oracle(int(t), 3)}Z level=info n={i}" if i % 3 else f"plain {i}" for i, t in enumerate(ts)]
    return pa.table({"stream": np.ones(n, np.int64), "ts": ts, "line": pa.array(lines, pa.large_string()),
                     "meta": [""] * n, "len": pa.array([len(x) for x in lines], pa.int32())})


def test_compacted_blocks_store_cut_lines_and_read_them_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(F, "BLOCK_ROW_GROUP_ROWS", 500)
    t = _block_table()
    info = write_block(t, tmp_path, "b/c.parquet", tenant="t", window_start=0, level=1)
    raw = pq.read_table(tmp_path / "b/c.parquet")
    assert raw.schema.names == list(F.COMPACT_SCHEMA.names)
    assert sum(len(x) for x in raw.column("line").to_pylist()) < sum(t.column("len").to_pylist())
    assert raw.column("len").to_pylist() == t.column("len").to_pylist()
    r = BlockReader(tmp_path / info.path)
    groups = r.row_groups(None, 0, 1 << 62)
    assert r.read(groups, ["line"]).column("line").to_pylist() == t.column("line").to_pylist()
    assert r.read(groups[1:2], ["meta", "line", "len"]).column_names == ["meta", "line", "len"]
    first = r.read_first(groups, ["stream", "ts", "line"], np.array([1]), 0, 1 << 62, 10, True)
    assert first.column("line").to_pylist() == t.column("line").to_pylist()[-10:]
    flushed = write_block(t, tmp_path, "b/f.parquet", tenant="t", window_start=0)  # level 0: no cut
    assert F.LINE_TIME_COLUMN not in pq.read_schema(tmp_path / flushed.path).names


def test_a_block_of_a_newer_format_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(F, "BLOCK_FORMAT_VERSION", F.BLOCK_FORMAT_VERSION + 1)
    info = write_block(_block_table(10), tmp_path, "b/n.parquet", tenant="t", window_start=0)
    monkeypatch.undo()
    # Refused, but not as damage: a block a newer logyard wrote is not quarantined by an older one.
    with pytest.raises(StorageError, match="format version"):
        BlockReader(tmp_path / info.path).row_groups(None, 0, 1 << 62)
