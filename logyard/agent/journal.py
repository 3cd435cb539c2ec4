"""The spool of stamped, not yet acknowledged entries: what makes a resend a true duplicate.

Every entry gets its timestamp once, here, before it is first sent. A record holds encoded entries
grouped by stream plus the reader positions reached after them, so "this line was read" and "this
line has this timestamp" become durable together. After a crash the unacknowledged records are sent
again byte for byte; the server stores an exact duplicate once, so nothing is doubled, and readers
resume after the last record, so nothing is lost.

On disk: numbered segment files `NNNNNNNNNNNN.seg` of records

    magic "LYJ1" | u32 payload length | u32 crc32(payload) | snappy(payload)
    payload = u64 seq | u32 n | positions JSON (n bytes) | u32 streams | per stream:
              u32 n | labels JSON pairs | u32 entries | u64 line bytes | u32 n | encoded entries

A torn record at the tail (crash mid-write) fails its length or CRC and is cut off on open.
Records are snappy-compressed: the journal doubles the agent's disk writes, and on a busy disk
those bytes, not the CPU, bound the lines per second.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import cramjam
import orjson

from logyard.durable import fsync_dir
from logyard.labels import LabelSet

MAGIC = b"LYJ1"
_HEAD = struct.Struct("<4sII")
_MAX_RECORD = 1 << 30


@dataclass
class StreamChunk:
    """Entries of one stream inside a record, already encoded (`push.encode_entries`)."""

    labels: LabelSet
    entries: bytes
    count: int
    line_bytes: int


@dataclass
class Record:
    seq: int
    positions: dict[str, str | None]  # None: forget the source
    streams: list[StreamChunk] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(len(s.entries) for s in self.streams) + 64

    @property
    def count(self) -> int:
        return sum(s.count for s in self.streams)

    def encode(self) -> bytes:
        pos = orjson.dumps(self.positions)
        parts = [struct.pack("<QI", self.seq, len(pos)), pos, struct.pack("<I", len(self.streams))]
        for s in self.streams:
            lab = orjson.dumps(list(s.labels))
            parts += [struct.pack("<I", len(lab)), lab, struct.pack("<IQI", s.count, s.line_bytes, len(s.entries))]
            parts.append(s.entries)
        payload = bytes(cramjam.snappy.compress_raw(b"".join(parts)))
        return _HEAD.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload

    @classmethod
    def decode(cls, compressed: bytes) -> "Record":
        payload = bytes(cramjam.snappy.decompress_raw(compressed))
        view = memoryview(payload)
        seq, n = struct.unpack_from("<QI", view, 0)
        off = 12
        positions = orjson.loads(view[off : off + n])
        off += n
        (count,) = struct.unpack_from("<I", view, off)
        off += 4
        streams = []
        for _ in range(count):
            (n,) = struct.unpack_from("<I", view, off)
            labels = LabelSet(tuple(p) for p in orjson.loads(view[off + 4 : off + 4 + n]))
            off += 4 + n
            entries, line_bytes, n = struct.unpack_from("<IQI", view, off)
            off += 16
            if off + n > len(payload):
                raise ValueError("entries overrun the record")
            streams.append(StreamChunk(labels, bytes(view[off : off + n]), entries, line_bytes))
            off += n
        return cls(seq, positions, streams)


class Journal:
    """Append-only segments; whole segments are deleted once every record in them is acknowledged."""

    def __init__(self, directory: Path, segment_bytes: int = 16 * 1024 * 1024) -> None:
        self.dir = Path(directory)
        self.segment_bytes = segment_bytes
        self._file = None
        self._segments: list[tuple[int, Path]] = []  # (last seq in segment, path), oldest first
        self._dirty = False

    def open(self) -> list[Record]:
        """Recover every intact record, oldest first, cutting a torn tail."""
        self.dir.mkdir(parents=True, exist_ok=True)
        records: list[Record] = []
        for path in sorted(self.dir.glob("*.seg")):
            data = path.read_bytes()
            off, last = 0, -1
            while off + _HEAD.size <= len(data):
                magic, length, crc = _HEAD.unpack_from(data, off)
                end = off + _HEAD.size + length
                if magic != MAGIC or length > _MAX_RECORD or end > len(data):
                    break
                payload = data[off + _HEAD.size : end]
                if zlib.crc32(payload) != crc:
                    break
                try:
                    rec = Record.decode(payload)
                except (ValueError, struct.error, orjson.JSONDecodeError, cramjam.DecompressionError):
                    break
                records.append(rec)
                last = rec.seq
                off = end
            if last < 0:  # nothing intact: a segment created just before a crash
                path.unlink()
                continue
            if off < len(data):
                with open(path, "r+b") as f:
                    f.truncate(off)
            self._segments.append((last, path))
        return records

    def append(self, record: Record) -> None:
        """Write a record; it survives a process crash at once, a power loss after `sync`."""
        if self._file is None or self._file.tell() >= self.segment_bytes:
            self._roll(record.seq)
        self._file.write(record.encode())
        self._file.flush()
        self._segments[-1] = (record.seq, self._segments[-1][1])
        self._dirty = True

    def sync(self) -> None:
        if self._file is not None and self._dirty:
            os.fsync(self._file.fileno())
            self._dirty = False

    def sync_handle(self) -> int | None:
        """A duplicate descriptor of the segment being written, to fsync without holding the
        caller's lock (appends go on meanwhile); the caller closes it. None when nothing is unsynced."""
        if self._file is None or not self._dirty:
            return None
        self._dirty = False
        return os.dup(self._file.fileno())

    def release(self, acked_seq: int) -> None:
        """Delete segments wholly acknowledged, except the one being written."""
        while len(self._segments) > 1 and self._segments[0][0] <= acked_seq:
            _, path = self._segments.pop(0)
            path.unlink(missing_ok=True)

    def close(self) -> None:
        if self._file is not None:
            self.sync()
            self._file.close()
            self._file = None

    def _roll(self, first_seq: int) -> None:
        if self._file is not None:
            self.sync()
            self._file.close()
        path = self.dir / f"{first_seq:012d}.seg"
        self._file = open(path, "ab")
        self._segments.append((first_seq - 1, path))
        fsync_dir(self.dir)
