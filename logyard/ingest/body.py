"""A push body's transport layer: Content-Encoding and Content-Type, with Go's error texts."""

from __future__ import annotations

import zlib

from isal import isal_zlib

from logyard.errors import BadRequestError


def decompress(body: bytes, encoding: str) -> bytes:
    if encoding in ("", "snappy"):
        return body  # Loki: "snappy" is undone by the protobuf path itself
    if encoding == "gzip":
        return _gunzip(body)
    if encoding == "deflate":
        try:
            d = zlib.decompressobj(-15)  # Go's flate.NewReader: raw DEFLATE, no zlib header
            out = d.decompress(body) + d.flush()
        except zlib.error as e:
            raise BadRequestError(f"flate: corrupt input ({e})") from e
        if not d.eof:
            raise BadRequestError("unexpected EOF")
        return out
    raise BadRequestError(f'Content-Encoding "{encoding}" not supported')


def _gunzip(body: bytes) -> bytes:
    """Gzip, multi-member like Go's gzip.Reader, with Go's texts for the usual failures.

    ISA-L inflates ~4x faster than zlib (the decode workers' largest single cost after JSON);
    a body it refuses is inflated again by zlib, the reference, whose messages the texts quote."""
    try:
        return _members(body, isal_zlib.decompressobj, isal_zlib.error, plain_headers=True)
    except (BadRequestError, _Unusual):
        return _members(body, zlib.decompressobj, zlib.error)


class _Unusual(Exception):
    """A member header ISA-L reads more leniently than zlib: left to zlib."""


# FHCRC and the reserved bits: zlib checks the header CRC and refuses reserved bits, ISA-L does not.
_STRICT_FLAGS = 0x02 | 0xE0


def _members(body: bytes, decompressobj, error: type[Exception], plain_headers: bool = False) -> bytes:
    parts = []
    while True:
        if len(body) < 10:
            raise BadRequestError("unexpected EOF")  # Go: the 10-byte header cannot be read
        if body[:2] != b"\x1f\x8b":
            raise BadRequestError("gzip: invalid header")
        if plain_headers and body[3] & _STRICT_FLAGS:
            raise _Unusual
        d = decompressobj(31)
        try:
            parts.append(d.decompress(body))
            parts.append(d.flush())
        except error as e:
            text = "gzip: invalid checksum" if "check" in str(e) else f"flate: corrupt input ({e})"
            raise BadRequestError(text) from e
        if not d.eof:
            raise BadRequestError("unexpected EOF")
        body = d.unused_data
        if not body:
            return b"".join(parts)


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
