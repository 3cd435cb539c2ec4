"""The hand-written PushRequest encoder against protobuf's own decoder (runtime descriptors)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from logyard.agent.push import decode_push, encode_entries, encode_label_pairs, encode_stream, push_body
from tests.agent.logproto import PushRequest

entries = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=2**62),
        st.binary(max_size=300).map(lambda b: b.decode("latin-1").encode()),
        st.lists(st.tuples(st.text(max_size=8), st.text(max_size=20)), max_size=3),
    ),
    min_size=1,
    max_size=40,
)


def parse(data: bytes):
    req = PushRequest()
    req.ParseFromString(data)
    return req


@settings(max_examples=150, deadline=None)
@given(entries, st.booleans())
def test_encoded_entries_decode_with_protobuf_to_the_same_values(rows, with_metadata):
    ts = np.array([r[0] for r in rows], dtype=np.int64)
    lines = [r[1] for r in rows]
    md = [encode_label_pairs(r[2]) for r in rows] if with_metadata else None
    req = parse(encode_stream('{job="a"}', encode_entries(ts, lines, md)))
    (stream,) = req.streams
    assert stream.labels == '{job="a"}'
    for (t, line, pairs), e in zip(rows, stream.entries, strict=True):
        assert e.timestamp.seconds * 10**9 + e.timestamp.nanos == t
        assert e.line.encode() == line
        assert [(p.name, p.value) for p in e.structuredMetadata] == (pairs if with_metadata else [])


def test_length_varints_at_their_boundaries_decode():
    lines = [b"x" * n for n in (0, 1, 127, 128, 16383, 16384, 70000)]
    ts = np.array([0, 1, 10**9, 2**31, 2**40, 1764000000 * 10**9 + 999_999_999, 5], dtype=np.int64)
    (stream,) = parse(encode_stream("{a=\"b\"}", encode_entries(ts, lines))).streams
    assert [len(e.line) for e in stream.entries] == [len(x) for x in lines]
    assert [e.timestamp.seconds * 10**9 + e.timestamp.nanos for e in stream.entries] == ts.tolist()


def test_concatenated_streams_are_one_push_request_and_our_decoder_agrees():
    a = encode_stream('{s="1"}', encode_entries(np.array([1, 2]), [b"one", b"two"]))
    b = encode_stream('{s="2"}', encode_entries(np.array([3]), [b"three"], [encode_label_pairs([("k", "v")])]))
    import cramjam

    raw = bytes(cramjam.snappy.decompress_raw(push_body([a, b])))
    assert [s.labels for s in parse(raw).streams] == ['{s="1"}', '{s="2"}']
    assert decode_push(raw) == [
        ('{s="1"}', [(1, "one", []), (2, "two", [])]),
        ('{s="2"}', [(3, "three", [("k", "v")])]),
    ]
