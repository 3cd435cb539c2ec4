"""A flipped byte in the WAL or a block, or a lost index, costs only what it damaged: the server
becomes ready, serves everything else, and says what it skipped in its log and /metrics."""

from __future__ import annotations

import re
import struct

import httpx
import pytest

from logyard.storage import format as F
from tests.api.pusher import BASE_NS
from tests.support.server import ServerProcess

HOUR = 3600 * 10**9


def push(url: str, job: str, ts: int, lines: list[str]) -> None:
    r = httpx.post(url + "/loki/api/v1/push", timeout=30, json={"streams": [
        {"stream": {"job": job}, "values": [[str(ts + i), line] for i, line in enumerate(lines)]}]})
    assert r.status_code == 204, r.text


def served(url: str, job: str = ".+") -> list[str]:
    r = httpx.get(url + "/loki/api/v1/query_range", timeout=60, params={
        "query": f'{{job=~"{job}"}}', "start": str(BASE_NS), "end": str(BASE_NS + 4 * HOUR), "limit": "5000"})
    assert r.status_code == 200, r.text
    return sorted(line for s in r.json()["data"]["result"] for _, line in s["values"])


def metric(url: str, name: str) -> float:
    text = httpx.get(url + "/metrics", timeout=30).text
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    assert m, f"{name} not in /metrics"
    return float(m.group(1))


def record_offsets(segment) -> list[int]:
    data = segment.read_bytes()
    pos, out = len(F.WAL_SEGMENT_HEADER), []
    while pos < len(data):
        out.append(pos)
        (length,) = struct.unpack_from("<I", data, pos)
        pos += F.WAL_RECORD_HEADER_SIZE + length
    return out


def inside_the_line_pages(block) -> int:
    """An offset in the middle of the first row group's `line` column chunk (which every log query reads)."""
    import pyarrow.parquet as pq

    col = pq.read_metadata(block).row_group(0).column(F.BLOCK_COLUMNS.index("line"))
    return col.data_page_offset + col.total_compressed_size // 2


def flip(path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


def test_flipped_bytes_in_the_wal_and_a_block_cost_only_the_damaged_lines(tmp_path):
    data = tmp_path / "data"
    srv = ServerProcess(data).start()
    try:
        push(srv.url, "a", BASE_NS, [f"a{i}" for i in range(50)])  # window 0: a block
        push(srv.url, "b", BASE_NS + HOUR, [f"b{i}" for i in range(50)])  # window 1: a block
        assert httpx.post(srv.url + "/flush", timeout=60).status_code == 204
        for i in range(10):  # in the WAL and the head only: one record per push
            push(srv.url, "c", BASE_NS + 2 * HOUR + i * 10, [f"c{i}"])
    finally:
        srv.kill()
    (segment,) = (data / F.WAL_DIR).iterdir()
    offsets = record_offsets(segment)
    assert len(offsets) == 10
    flip(segment, offsets[4] + 30)  # the 5th push's record
    (block,) = (data / F.BLOCKS_DIR).glob(f"*/{BASE_NS + HOUR:020d}/*{F.BLOCK_SUFFIX}")
    flip(block, inside_the_line_pages(block))
    srv.start()
    try:
        assert httpx.get(srv.url + "/ready").status_code == 200
        assert served(srv.url) == sorted([f"a{i}" for i in range(50)] + [f"c{i}" for i in range(4)])
        assert metric(srv.url, "logyard_wal_skipped_records_total") == 6
        assert metric(srv.url, "loki_ingester_wal_corruptions_total") == 1  # Loki's name: damaged segments
        assert metric(srv.url, "logyard_blocks_quarantined_total") == 1
        log = srv.log_tail(100_000)
        assert re.search(rf"WAL wal/{segment.name}: offset {offsets[4]}: .*skipped 6 records", log), log
        rel = block.relative_to(data).as_posix()
        assert f"block {rel} quarantined" in log
        assert (data / F.QUARANTINE_DIR / rel.replace("/", "_")).exists() and not block.exists()
        assert served(srv.url, "b") == []  # asked again: answered from what is left, no error
    finally:
        srv.stop()


@pytest.mark.parametrize("damage", ["deleted", "unreadable"])
def test_a_lost_index_is_rebuilt_from_the_blocks_and_every_line_is_served(tmp_path, damage):
    data = tmp_path / "data"
    srv = ServerProcess(data).start()
    try:
        push(srv.url, "a", BASE_NS, [f"a{i}" for i in range(50)])
        push(srv.url, "b", BASE_NS + HOUR, [f"b{i}" for i in range(50)])
        assert httpx.post(srv.url + "/flush", timeout=60).status_code == 204
        push(srv.url, "b", BASE_NS + 2 * HOUR, [f"h{i}" for i in range(5)])  # the head
        before = served(srv.url)
    finally:
        srv.kill()
    for p in data.glob(F.INDEX_FILE + "*"):  # SQLite's journal too: it could still hold every page
        p.unlink()
    if damage == "unreadable":
        (data / F.INDEX_FILE).write_bytes(b"\x00garbage" * 4096)
    srv.start()
    try:
        assert len(before) == 105
        assert served(srv.url) == before
        assert metric(srv.url, "logyard_index_rebuilds_total") == 1
        assert "rebuilt from 2 blocks" in srv.log_tail(100_000)
    finally:
        srv.stop()
