"""Gunzip through ISA-L answers exactly what the zlib reference answers: the same bytes, or the
same error text (a body ISA-L refuses is inflated again by zlib)."""

from __future__ import annotations

import gzip
import zlib

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from logyard.errors import BadRequestError
from logyard.ingest.body import _CHUNK, _gunzip, _members

_PLAIN = b'{"streams":[{"stream":{"job":"a"},"values":[["1","' + b"line " * 200 + b'"]]}]}'
_SEEDS = [
    gzip.compress(_PLAIN),
    gzip.compress(_PLAIN[:50]) + gzip.compress(_PLAIN[50:]),  # multi-member, as Go reads it
    gzip.compress(_PLAIN, mtime=0)[:-4] + b"\0\0\0\0",  # a wrong length in the trailer
]


def _reference(body: bytes):
    try:
        return _members(body, zlib.decompressobj, zlib.error)
    except BadRequestError as e:
        return e.message


def _fast(body: bytes):
    try:
        return _gunzip(body)
    except BadRequestError as e:
        return e.message


@pytest.mark.parametrize("flags", [0x02, 0x20, 0x40, 0x80])
def test_header_flags_isal_reads_leniently_get_zlibs_answer(flags):
    body = bytearray(gzip.compress(_PLAIN))
    body[3] |= flags  # FHCRC without its CRC (or a wrong one), reserved bits: zlib refuses both
    assert _fast(bytes(body)) == _reference(bytes(body)) != _PLAIN


def test_seed_bodies_inflate_like_zlib():
    assert _fast(_SEEDS[0]) == _PLAIN and _fast(_SEEDS[1]) == _PLAIN
    assert _fast(_SEEDS[2]) == _reference(_SEEDS[2])


@st.composite
def corrupted(draw) -> bytes:
    body = bytearray(draw(st.sampled_from(_SEEDS)))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(body) - 1))
        kind = draw(st.sampled_from(["flip", "cut", "append"]))
        if kind == "flip":
            body[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "cut":
            del body[at:]
            if not body:
                break
        else:
            body += draw(st.sampled_from([b"\0", b"\x1f\x8b", b"junk", gzip.compress(b"x")]))
    return bytes(body)


@settings(max_examples=400, deadline=None)
@given(corrupted())
@example(_SEEDS[0][:3] + b"\x20" + _SEEDS[0][4:])  # found by a 6000-example run: a reserved flag bit
def test_corrupted_bodies_answer_like_zlib(body):
    assert _fast(body) == _reference(body)


# -- size limits: refused with Loki's 413 text, never inflated past the limit --------------------

from logyard.errors import LogyardError  # noqa: E402
from logyard.ingest.decode import decode_push  # noqa: E402
from tests.ingest.bombs import deflate_of_zeros, gzip_of_zeros, snappy_claiming  # noqa: E402

LIMIT = 8 << 20
TOO_LARGE = f"request body too large: decompressed message size too large than max ({LIMIT + 1} vs {LIMIT})"


@pytest.mark.parametrize(
    "body, content_type, encoding",
    [
        (gzip_of_zeros(256 << 20), "application/json", "gzip"),
        (gzip.compress(b" " * LIMIT) + gzip.compress(b" " * 16), "application/json", "gzip"),  # over in member 2
        (deflate_of_zeros(256 << 20), "application/json", "deflate"),
        (gzip_of_zeros(256 << 20), "application/x-protobuf", "gzip"),
    ],
    ids=["gzip-bomb", "gzip-members", "deflate-bomb", "gzip-protobuf"],
)
def test_inflating_past_the_limit_is_a_413_without_holding_more_than_the_limit(body, content_type, encoding):
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(LogyardError) as info:
            decode_push(body, content_type, encoding, max_decompressed_size=LIMIT)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (info.value.status, info.value.message) == (413, TOO_LARGE)
    # The output up to the limit, plus one inflate call's output buffer being finished (a copy).
    assert peak < LIMIT + 2 * _CHUNK + (1 << 20), f"held {peak >> 20} MiB while refusing"


def test_snappy_announcing_more_than_the_limit_is_a_413_before_decoding():
    with pytest.raises(LogyardError) as info:
        decode_push(snappy_claiming(200 << 20), "application/x-protobuf", None, max_decompressed_size=LIMIT)
    assert (info.value.status, info.value.message) == (
        413, f"request body too large: decompressed message size too large than max ({200 << 20} vs {LIMIT})")


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_body_that_inflates_to_exactly_the_limit_is_decoded(encoding):
    line = b'{"streams":[{"stream":{"job":"a"},"values":[["1767225600000000000","x"]]}]}'
    plain = line + b" " * (LIMIT - len(line))
    body = gzip.compress(plain) if encoding == "gzip" else zlib.compress(plain)[2:-4]
    assert decode_push(body, "application/json", encoding, max_decompressed_size=LIMIT).lines == 1
