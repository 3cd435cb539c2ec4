"""Compressed bodies that inflate far past any limit, built without holding what they inflate to."""

from __future__ import annotations

import struct
import zlib

import cramjam


def gzip_of_zeros(total: int, chunk: int = 16 << 20) -> bytes:
    """A valid one-member gzip of `total` zero bytes (a multiple of `chunk`), ~1/1000 of its size.

    After a full flush the compressor starts afresh, so every chunk of zeros compresses to the same
    bytes: one chunk is compressed and repeated (2 GB costs a fraction of a second, not 7 s)."""
    assert total % chunk == 0
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(chunk)
    first = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    tail = c.flush()
    crc = 0
    for _ in range(total // chunk):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + first + again * (total // chunk - 1) + tail + struct.pack("<II", crc, total & 0xFFFFFFFF)


def deflate_of_zeros(total: int, chunk: int = 16 << 20) -> bytes:
    """Raw DEFLATE of `total` zero bytes, made as gzip_of_zeros makes its stream."""
    assert total % chunk == 0
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(chunk)
    first = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    return first + again * (total // chunk - 1) + c.flush()


def snappy_claiming(size: int) -> bytes:
    """A snappy block whose header announces `size` decoded bytes (what a decoder allocates first)."""
    out = bytearray()
    while True:
        out.append((size & 0x7F) | (0x80 if size > 0x7F else 0))
        size >>= 7
        if not size:
            break
    return bytes(out) + bytes(cramjam.snappy.compress_raw(b"x"))[1:]
