"""The journal keeps whole records across crashes and cuts a torn tail."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from logyard.agent.journal import Journal, Record, StreamChunk
from logyard.agent.push import encode_entries
from logyard.labels import LabelSet


def record(seq: int, n: int = 3) -> Record:
    lines = [f"line {seq} {i}".encode() for i in range(n)]
    chunk = StreamChunk(LabelSet({"job": "a"}.items()), encode_entries(np.arange(n) + seq * 100, lines), n, 30)
    return Record(seq, {"/var/log/a.log": f"{seq * 10}:1:2"}, [chunk])


def journal_of(path, n: int):
    """A closed journal holding records 0..n-1; returns its (single) segment file."""
    j = Journal(path)
    j.open()
    for s in range(n):
        j.append(record(s))
    j.close()
    (seg,) = path.glob("*.seg")
    return seg


def test_records_come_back_in_order_after_reopening(tmp_path):
    journal_of(tmp_path / "j", 5)
    got = Journal(tmp_path / "j").open()
    assert [r.seq for r in got] == [0, 1, 2, 3, 4]
    assert got[3].positions == {"/var/log/a.log": "30:1:2"}
    assert got[3].streams[0].entries == record(3).streams[0].entries
    assert got[3].streams[0].labels == LabelSet({"job": "a"}.items())


def test_a_torn_last_record_is_cut_and_appending_goes_on(tmp_path):
    seg = journal_of(tmp_path / "j", 3)
    data = seg.read_bytes()
    seg.write_bytes(data[:-7])  # a crash in the middle of writing record 2
    j2 = Journal(tmp_path / "j")
    assert [r.seq for r in j2.open()] == [0, 1]
    j2.append(record(2))
    j2.close()
    assert [r.seq for r in Journal(tmp_path / "j").open()] == [0, 1, 2]


def test_a_corrupted_record_ends_recovery_there(tmp_path):
    seg = journal_of(tmp_path / "j", 3)
    data = bytearray(seg.read_bytes())
    data[len(data) // 2] ^= 0xFF
    seg.write_bytes(bytes(data))
    assert [r.seq for r in Journal(tmp_path / "j").open()] == [0]


def test_release_deletes_only_wholly_acknowledged_segments(tmp_path):
    j = Journal(tmp_path / "j", segment_bytes=1)  # one record per segment
    j.open()
    for s in range(4):
        j.append(record(s))
    j.release(1)
    j.close()
    assert [r.seq for r in Journal(tmp_path / "j").open()] == [2, 3]

positions = st.dictionaries(st.text(max_size=20), st.one_of(st.none(), st.text(max_size=20)), max_size=4)
chunks = st.lists(
    st.tuples(st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), st.text(max_size=10), min_size=1,
                              max_size=3),
              st.binary(max_size=200), st.integers(0, 1000), st.integers(0, 2**40)),
    max_size=4,
)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**62), positions, chunks)
def test_record_codec_round_trips(seq, pos, streams):
    rec = Record(seq, pos, [StreamChunk(LabelSet(lab.items()), e, n, b) for lab, e, n, b in streams])
    back = Record.decode(rec.encode()[12:])
    assert back == rec
