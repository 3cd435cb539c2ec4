"""Loki's `logproto.PushRequest`, encoded by hand, in bulk.

    PushRequest   { repeated Stream streams = 1; }
    Stream        { string labels = 1; repeated Entry entries = 2; }
    Entry         { Timestamp timestamp = 1; string line = 2; repeated LabelPair structuredMetadata = 3; }
    Timestamp     { int64 seconds = 1; int32 nanos = 2; }
    LabelPair     { string name = 1; string value = 2; }

Why by hand: building one message object per line costs microseconds each; here the fixed-shape
headers of a whole chunk are computed as NumPy columns and only joined with the line bytes. Repeated
fields concatenate in protobuf, so concatenated `Stream` messages form a valid `PushRequest`; the
journal keeps entries pre-encoded and a batch is a join plus one snappy call.
"""

from __future__ import annotations

from itertools import chain
from typing import Iterable, Sequence

import cramjam
import numpy as np

from logyard.errors import CorruptDataError

_MAX_VARINT = 10


def varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _varint_columns(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Varint bytes of each value as rows of a (n, width) uint8 matrix, and each row's length."""
    v = values.astype(np.uint64)
    lens = np.ones(len(v), dtype=np.int64)
    width = 1
    for k in range(1, _MAX_VARINT):
        more = v >= np.uint64(1 << (7 * k))
        if not more.any():
            break
        lens += more
        width = k + 1
    mat = np.empty((len(v), width), dtype=np.uint8)
    for k in range(width):
        byte = ((v >> np.uint64(7 * k)) & np.uint64(0x7F)).astype(np.uint8)
        mat[:, k] = byte | np.where(lens > k + 1, 0x80, 0).astype(np.uint8)
    return mat, lens


def _pack_rows(pieces: Sequence[tuple[np.ndarray, np.ndarray]], n: int) -> tuple[bytes, np.ndarray]:
    """Concatenate per-row variable-width pieces; returns the flat bytes and each row's end offset.

    The pieces are laid side by side in one padded matrix; a boolean mask of the used cells, taken
    in row-major order, compacts it into the concatenation in one step.
    """
    padded = np.concatenate([mat for mat, _ in pieces], axis=1)
    mask = np.concatenate([np.arange(mat.shape[1])[None, :] < lens[:, None] for mat, lens in pieces], axis=1)
    row_len = sum(lens for _, lens in pieces)
    return padded[mask].tobytes(), np.cumsum(row_len)


def _const(byte: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full((n, 1), byte, dtype=np.uint8), np.ones(n, dtype=np.int64)


def encode_label_pairs(pairs: Iterable[tuple[str, str]]) -> bytes:
    """The structuredMetadata fields (3) of one entry."""
    out = []
    for name, value in pairs:
        nb, vb = name.encode(), value.encode()
        body = b"\x0a" + varint(len(nb)) + nb + b"\x12" + varint(len(vb)) + vb
        out.append(b"\x1a" + varint(len(body)) + body)
    return b"".join(out)


def encode_entries(
    timestamps: np.ndarray, lines: Sequence[bytes], metadata: Sequence[bytes] | None = None
) -> bytes:
    """The `entries` fields (2) of a Stream: one per line, in order.

    `metadata[i]` is the already encoded structuredMetadata of entry i (`encode_label_pairs`), or b"".
    """
    n = len(lines)
    if n == 0:
        return b""
    ts = np.asarray(timestamps, dtype=np.int64)
    seconds, nanos = np.divmod(ts, 1_000_000_000)
    line_lens = np.fromiter(map(len, lines), dtype=np.int64, count=n)
    md_lens = (
        np.zeros(n, dtype=np.int64)
        if metadata is None
        else np.fromiter(map(len, metadata), dtype=np.int64, count=n)
    )
    sec_v, sec_l = _varint_columns(seconds)
    nan_v, nan_l = _varint_columns(nanos)
    ts_len = 2 + sec_l + nan_l  # always < 128: one byte
    len_v, len_l = _varint_columns(line_lens)
    entry_len = 2 + ts_len + 1 + len_l + line_lens + md_lens
    ent_v, ent_l = _varint_columns(entry_len)
    head, ends = _pack_rows(
        [
            _const(0x12, n), (ent_v, ent_l),
            _const(0x0A, n), (ts_len.astype(np.uint8)[:, None], np.ones(n, dtype=np.int64)),
            _const(0x08, n), (sec_v, sec_l),
            _const(0x10, n), (nan_v, nan_l),
            _const(0x12, n), (len_v, len_l),
        ],
        n,
    )
    bounds = [0, *ends.tolist()]
    heads = [head[a:b] for a, b in zip(bounds, bounds[1:])]
    if metadata is None:
        return b"".join(chain.from_iterable(zip(heads, lines)))
    return b"".join(chain.from_iterable(zip(heads, lines, metadata)))


def encode_stream(labels: str, entries: bytes) -> bytes:
    """One `streams` field (1) of a PushRequest."""
    lb = labels.encode()
    body_len = 1 + len(varint(len(lb))) + len(lb) + len(entries)
    return b"\x0a" + varint(body_len) + b"\x0a" + varint(len(lb)) + lb + entries


def push_body(streams: Iterable[bytes]) -> bytes:
    """A snappy-compressed PushRequest from encoded streams (`encode_stream`)."""
    return bytes(cramjam.snappy.compress_raw(b"".join(streams)))


def decode_push(data: bytes) -> list[tuple[str, list[tuple[int, str, list[tuple[str, str]]]]]]:
    """Decode an uncompressed PushRequest: [(labels, [(ts_ns, line, metadata pairs)])].

    Used by the journal checks and by tests' stand-in receivers; bounds-checked throughout.
    """
    streams = []
    for field, value in _fields(data, "PushRequest"):
        if field != 1:
            continue
        labels, entries = "", []
        for f2, v2 in _fields(value, "Stream"):
            if f2 == 1:
                labels = v2.decode()
            elif f2 == 2:
                ts, line, md = 0, "", []
                for f3, v3 in _fields(v2, "Entry"):
                    if f3 == 1:
                        sec = nan = 0
                        for f4, v4 in _fields(v3, "Timestamp"):
                            if f4 == 1:
                                sec = v4
                            elif f4 == 2:
                                nan = v4
                        ts = sec * 1_000_000_000 + nan
                    elif f3 == 2:
                        line = v3.decode("utf-8", "replace")
                    elif f3 == 3:
                        pair = dict(_fields(v3, "LabelPair"))
                        md.append((pair.get(1, b"").decode(), pair.get(2, b"").decode()))
                entries.append((ts, line, md))
        streams.append((labels, entries))
    return streams


def _fields(data: bytes, what: str):
    pos, n = 0, len(data)

    def read_varint() -> int:
        nonlocal pos
        shift = result = 0
        while True:
            if pos >= n or shift > 63:
                raise CorruptDataError(f"{what}: truncated varint at byte {pos}")
            b = data[pos]
            pos += 1
            result |= (b & 0x7F) << shift
            if b < 0x80:
                return result
            shift += 7

    while pos < n:
        key = read_varint()
        field, wire = key >> 3, key & 7
        if wire == 0:
            yield field, read_varint()
        elif wire == 2:
            length = read_varint()
            if pos + length > n:
                raise CorruptDataError(f"{what}: field {field} length {length} overruns the message")
            yield field, data[pos : pos + length]
            pos += length
        else:
            raise CorruptDataError(f"{what}: unsupported wire type {wire} for field {field}")
