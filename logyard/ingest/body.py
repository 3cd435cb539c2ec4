"""A push body's transport layer: Content-Encoding and Content-Type, with Go's error texts, and
the size limits (`distributor.max_recv_msg_size` / `max_decompressed_size`) with Loki's 413 texts.

Inflating is bounded: output comes in chunks of at most `_CHUNK` and stops one byte past the
limit, so a gzip bomb costs the limit in memory, not what it would inflate to.
"""

from __future__ import annotations

import zlib

from isal import isal_zlib

from logyard.errors import BadRequestError, TooLargeError

# Loki's texts (pkg/util/http.go, wrapped by pkg/loghttp/push ErrRequestBodyTooLarge).
_TOO_LARGE = "request body too large: {} too large than max ({} vs {})"
_CHUNK = 8 << 20  # inflate output per call: one call for the usual body; twice this is what refusing a bomb costs past the limit


def too_large(size: int, limit: int, decompressed: bool = False) -> TooLargeError:
    """Loki's 413 for a body of `size` bytes over `limit` (Loki reports limit + 1 for a body it
    stopped reading there, as logyard does)."""
    what = "decompressed message size" if decompressed else "message size"
    return TooLargeError(_TOO_LARGE.format(what, size, limit))


def decompress(body: bytes, encoding: str, limit: int = 0) -> bytes:
    """The body with its Content-Encoding undone, at most `limit` bytes of it (0: no limit)."""
    if encoding in ("", "snappy"):
        return body  # Loki: "snappy" is undone by the protobuf path itself
    if encoding == "gzip":
        return _gunzip(body, limit)
    if encoding == "deflate":
        parts: list[bytes] = []
        try:
            d = zlib.decompressobj(-15)  # Go's flate.NewReader: raw DEFLATE, no zlib header
            _inflate(d, body, parts, 0, limit)
        except zlib.error as e:
            raise BadRequestError(f"flate: corrupt input ({e})") from e
        if not d.eof:
            raise BadRequestError("unexpected EOF")
        return _joined(parts)
    raise BadRequestError(f'Content-Encoding "{encoding}" not supported')


def _inflate(d, data: bytes, parts: list[bytes], total: int, limit: int) -> int:
    """Feed `data` to the decompressor `d`, appending its output to `parts`; the new output total.
    Raises Loki's 413 as soon as the total passes `limit` (0: none)."""
    while True:
        want = min(_CHUNK, limit + 1 - total) if limit else _CHUNK
        out = d.decompress(data, want)
        total += len(out)
        if limit and total > limit:
            raise too_large(total, limit, decompressed=True)
        if out:
            parts.append(out)
        data = d.unconsumed_tail
        if d.eof or (not data and len(out) < want):
            break
    out = d.flush()
    total += len(out)
    if limit and total > limit:
        raise too_large(limit + 1, limit, decompressed=True)
    if out:
        parts.append(out)
    return total


def _joined(parts: list[bytes]) -> bytes:
    return parts[0] if len(parts) == 1 else b"".join(parts)  # the usual body: one part, no copy


def _gunzip(body: bytes, limit: int = 0) -> bytes:
    """Gzip, multi-member like Go's gzip.Reader, with Go's texts for the usual failures.

    ISA-L inflates ~4x faster than zlib (the decode workers' largest single cost after JSON);
    a body it refuses is inflated again by zlib, the reference, whose messages the texts quote."""
    try:
        return _members(body, isal_zlib.decompressobj, isal_zlib.error, plain_headers=True, limit=limit)
    except (BadRequestError, _Unusual):
        return _members(body, zlib.decompressobj, zlib.error, limit=limit)


class _Unusual(Exception):
    """A member header ISA-L reads more leniently than zlib: left to zlib."""


# FHCRC and the reserved bits: zlib checks the header CRC and refuses reserved bits, ISA-L does not.
_STRICT_FLAGS = 0x02 | 0xE0


def _members(body: bytes, decompressobj, error: type[Exception], plain_headers: bool = False,
             limit: int = 0) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        if len(body) < 10:
            raise BadRequestError("unexpected EOF")  # Go: the 10-byte header cannot be read
        if body[:2] != b"\x1f\x8b":
            raise BadRequestError("gzip: invalid header")
        if plain_headers and body[3] & _STRICT_FLAGS:
            raise _Unusual
        d = decompressobj(31)
        try:
            total = _inflate(d, body, parts, total, limit)
        except error as e:
            text = "gzip: invalid checksum" if "check" in str(e) else f"flate: corrupt input ({e})"
            raise BadRequestError(text) from e
        if not d.eof:
            raise BadRequestError("unexpected EOF")
        body = d.unused_data
        if not body:
            return _joined(parts)


def media_type(content_type: str | None) -> str:
    """Like Go's mime.ParseMediaType, just enough: lower-cased type without parameters."""
    if not content_type or not content_type.strip():
        return "application/json"  # logyard's choice: Loki answers 400 `mime: no media type`
    media = content_type.split(";", 1)[0].strip().lower()
    if not media:
        raise BadRequestError("mime: no media type")
    if "/" not in media:
        raise BadRequestError("mime: expected slash after first token")
    return media
