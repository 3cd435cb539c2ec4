"""The WAL: record codec round trip, torn tails cut off, corruption in the middle reported."""

from __future__ import annotations

import pytest
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from logyard.errors import CorruptDataError
from logyard.storage import format as F
from logyard.storage.wal import Wal, build_record, decode_record, encode_record, frame
from tests.storage.conftest import push

label_text = st.text(min_size=0, max_size=12)
stream_st = st.builds(
    lambda labels, entries: push(labels, [e[0] for e in entries], [e[1] for e in entries], [e[2] for e in entries]),
    st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True), label_text, max_size=4),
    st.lists(st.tuples(st.integers(-(2**63), 2**63 - 1), st.text(max_size=40), st.sampled_from(["", '{"a":"b"}', "{\"x\":\"ü\"}"])),
             max_size=20),
)


@settings(max_examples=150, deadline=None)
@given(tenant=st.text(max_size=20), streams=st.lists(stream_st, max_size=5))
def test_record_codec_round_trips(tenant, streams):
    rec = build_record(tenant, streams)
    payload = b"".join(bytes(memoryview(p)) for p in encode_record(rec))
    back = decode_record(payload)
    assert back.tenant == tenant
    assert back.labels == [s.labels for s in streams]
    assert back.counts.tolist() == [len(s) for s in streams]
    assert back.batch.column("ts").to_pylist() == [int(t) for s in streams for t in s.timestamps]
    assert back.batch.column("line").to_pylist() == [x for s in streams for x in s.lines]
    assert back.batch.column("meta").to_pylist() == [x for s in streams for x in s.metadata]


@settings(max_examples=100, deadline=None)
@given(payload=st.binary(max_size=200))
def test_decoding_garbage_raises_only_corrupt_data_error(payload):
    try:
        decode_record(payload)
    except CorruptDataError:
        pass


def write_records(wal_dir, n):
    wal = Wal(wal_dir)
    list(wal.replay())
    wal.start()
    recs = [build_record("t", [push({"app": "a"}, [i, i + 1], [f"line {i}", f"zweite {i}"])]) for i in range(n)]
    for r in recs:
        wal.append(frame(encode_record(r)))
    wal.close()
    (seg,) = [p for _, p in wal.segments()]
    return seg


def replayed_lines(wal_dir):
    wal = Wal(wal_dir)
    out = [line for r in wal.replay() for line in r.batch.column("line").to_pylist()]
    return wal, out


@pytest.mark.parametrize("cut", [1, 5, 9, 30])
def test_torn_last_record_is_ignored_and_cut_off(tmp_path, cut):
    seg = write_records(tmp_path, 3)
    size = seg.stat().st_size
    with open(seg, "r+b") as f:
        f.truncate(size - cut)
    wal, lines = replayed_lines(tmp_path)
    assert lines == ["line 0", "zweite 0", "line 1", "zweite 1"]
    # The cut-off tail is gone from disk: appending after it and replaying again is clean.
    wal.start()
    wal.append(frame(encode_record(build_record("t", [push({"app": "a"}, [9], ["after"])]))))
    wal.close()
    assert replayed_lines(tmp_path)[1][-1] == "after"


@pytest.mark.parametrize("header_bytes", [0, 3])
def test_a_last_segment_killed_before_its_header_was_written_is_removed_and_numbers_go_on(tmp_path, header_bytes):
    seg = write_records(tmp_path, 2)
    empty = tmp_path / F.segment_name(F.parse_segment_name(seg.name) + 1)
    empty.write_bytes(F.WAL_SEGMENT_HEADER[:header_bytes])  # rotated, then killed
    wal, lines = replayed_lines(tmp_path)
    assert lines == ["line 0", "zweite 0", "line 1", "zweite 1"] and not empty.exists()
    wal.start()  # the next segment gets a number after the removed one
    assert [p.name for _, p in wal.segments()] == [seg.name, F.segment_name(F.parse_segment_name(empty.name) + 1)]
    wal.close()


def test_last_record_with_bad_crc_is_treated_as_torn(tmp_path):
    seg = write_records(tmp_path, 2)
    data = bytearray(seg.read_bytes())
    data[-3] ^= 0xFF
    seg.write_bytes(bytes(data))
    assert replayed_lines(tmp_path)[1] == ["line 0", "zweite 0"]


def test_a_corrupt_middle_record_ends_its_segment_and_is_reported_with_file_and_offset(tmp_path, caplog):
    seg = write_records(tmp_path, 3)
    data = bytearray(seg.read_bytes())
    data[len(F.WAL_SEGMENT_HEADER) + 20] ^= 0xFF
    seg.write_bytes(bytes(data))
    wal, lines = replayed_lines(tmp_path)
    assert lines == [] and wal.skipped_records == 3
    assert f"{seg.name}: offset {len(F.WAL_SEGMENT_HEADER)}: record CRC mismatch" in caplog.text


def test_a_torn_record_in_a_sealed_segment_is_skipped_and_later_segments_replay(tmp_path):
    seg = write_records(tmp_path, 2)
    with open(seg, "r+b") as f:
        f.truncate(seg.stat().st_size - 4)
    wal = Wal(tmp_path)
    later = tmp_path / F.segment_name(99)
    later.write_bytes(F.WAL_SEGMENT_HEADER + b"".join(
        bytes(memoryview(p)) for p in frame(encode_record(build_record("t", [push({"app": "a"}, [9], ["later"])])))))
    lines = [line for r in wal.replay() for line in r.batch.column("line").to_pylist()]
    assert lines == ["line 0", "zweite 0", "later"] and wal.skipped_records == 1
    assert seg.stat().st_size > 0  # a sealed segment is not cut: it is moved aside once flushed


def test_a_bad_segment_header_skips_the_segment(tmp_path, caplog):
    (tmp_path / F.segment_name(1)).write_bytes(b"NOTAWAL!" + b"\0" * 16)
    wal, lines = replayed_lines(tmp_path)
    assert lines == [] and "offset 0: bad WAL segment header" in caplog.text


def test_remove_through_deletes_only_sealed_segments(tmp_path):
    wal = Wal(tmp_path)
    list(wal.replay())
    wal.start()
    wal.append(frame(encode_record(build_record("t", [push({"app": "a"}, [1], ["x"])]))))
    sealed = wal.rotate()
    wal.append(frame(encode_record(build_record("t", [push({"app": "a"}, [2], ["y"])]))))
    wal.remove_through(sealed)
    wal.close()
    assert [s for s, _ in wal.segments()] == [sealed + 1]
    assert replayed_lines(tmp_path)[1] == ["y"]


def test_one_fdatasync_covers_every_record_written_before_it(tmp_path, monkeypatch):
    import os

    calls = []
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (calls.append(fd), real(fd)))
    wal = Wal(tmp_path, fsync=True)
    list(wal.replay())
    wal.start()
    rec = frame(encode_record(build_record("t", [push({"app": "a"}, [1], ["x"])])))
    t1, t2 = wal.append(rec), wal.append(rec)
    wal.sync(t2)
    wal.sync(t1)  # already covered
    assert len(calls) == 1
    wal.sync(wal.append(rec))
    assert len(calls) == 2
    wal.close()
    assert len(replayed_lines(tmp_path)[1]) == 3


def test_store_with_wal_fsync_round_trips(make_store):
    from tests.storage.conftest import T0, rows

    s = make_store(wal_fsync=True)
    s.append("t", [push({"app": "a"}, [T0 + 1], ["durable"])])
    assert [r[2] for r in rows(s.read("t", list(s.streams("t", [], T0, T0 + 10)), T0, T0 + 10))] == ["durable"]


def test_record_codec_handles_sliced_column_buffers():
    import pyarrow as pa

    from logyard.storage.wal import WalRecord

    full = build_record("t", [push({"app": "a"}, [1, 2, 3, 4], ["one", "two", "three", "four"], ["", "m", "", "n"])])
    part = WalRecord("t", full.labels, np.array([2], dtype=np.uint32), full.batch.slice(1, 2))
    back = decode_record(b"".join(bytes(memoryview(p)) for p in encode_record(part)))
    assert back.batch.equals(part.batch) and isinstance(back.batch.column(1), pa.StringArray)


def test_a_cut_tail_is_kept_in_the_quarantine_since_a_damaged_length_looks_torn(tmp_path):
    wal_dir, quarantine = tmp_path / "wal", tmp_path / "quarantine"
    seg = write_records(wal_dir, 3)
    data = bytearray(seg.read_bytes())
    second = len(F.WAL_SEGMENT_HEADER) + (len(data) - len(F.WAL_SEGMENT_HEADER)) // 3
    data[second + 3] = 0x7F  # the second record's length now points far past the end of the file
    seg.write_bytes(bytes(data))
    wal = Wal(wal_dir, quarantine=quarantine)
    assert [r.batch.column("line").to_pylist() for r in wal.replay()] == [["line 0", "zweite 0"]]
    (kept,) = quarantine.iterdir()
    assert kept.name == f"wal-{seg.name}.{second}.tail" and kept.read_bytes() == bytes(data[second:])
    assert seg.stat().st_size == second
