"""Decoding the Docker logs endpoint's body: multiplexed frames cut anywhere, partial messages of
long lines, TTY streams."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logyard.agent.docker_frames import Demuxer, LineAssembler
from logyard.gocompat.timelayout import parse_rfc3339

T1, T2 = "2026-01-02T03:04:05.000000001Z", "2026-01-02T03:04:05.000000002Z"


def frame(kind: int, payload: bytes) -> bytes:
    return bytes([kind, 0, 0, 0]) + struct.pack(">I", len(payload)) + payload


def test_frames_cut_at_any_byte_come_out_whole_and_apart():
    body = frame(1, f"{T1} out\n".encode()) + frame(2, f"{T2} err\n".encode())
    for cut in range(len(body) + 1):
        d = Demuxer(tty=False)
        got = d.feed(body[:cut]) + d.feed(body[cut:])
        assert got == [("stdout", f"{T1} out\n".encode()), ("stderr", f"{T2} err\n".encode())]


@pytest.mark.parametrize(
    "body, frames, left",
    [
        (b"", [], b""),
        (frame(1, b""), [("stdout", b"")], b""),  # an empty payload is a frame too
        (frame(0, b"in"), [("stdout", b"in")], b""),  # stdin (never sent by the logs endpoint) reads as stdout
        (frame(2, b"e") + frame(1, b"o"), [("stderr", b"e"), ("stdout", b"o")], b""),
        (frame(2, b"err")[:7], [], frame(2, b"err")[:7]),  # a header cut short waits
        (frame(1, b"abc")[:10], [], frame(1, b"abc")[:10]),  # so does a payload
        (bytes([1, 9, 9, 9]) + struct.pack(">I", 1) + b"x", [("stdout", b"x")], b""),  # padding is not read
    ],
)
def test_frame_table(body, frames, left):
    d = Demuxer(tty=False)
    assert d.feed(body) == frames
    assert d.buf == left


@given(
    st.lists(st.tuples(st.sampled_from([1, 2]), st.binary(max_size=40)), max_size=8),
    st.lists(st.integers(min_value=0, max_value=400), max_size=6),
)
def test_frames_survive_any_cuts(frames, cuts):
    body = b"".join(frame(k, p) for k, p in frames)
    bounds = sorted({min(c, len(body)) for c in cuts} | {0, len(body)})
    d = Demuxer(tty=False)
    got = []
    for a, b in zip(bounds, bounds[1:]):
        got += d.feed(body[a:b])
    assert got == [({1: "stdout", 2: "stderr"}[k], p) for k, p in frames]
    assert d.buf == b""


def test_a_tty_body_is_stdout_as_it_came():
    d = Demuxer(tty=True)
    assert d.feed(frame(2, b"x")) == [("stdout", frame(2, b"x"))] and d.feed(b"") == []


def test_partial_messages_join_under_the_first_time():
    a = LineAssembler(tty=False)
    assert a.feed("stdout", f"{T1} {'x' * 5}".encode()) == []
    assert a.feed("stderr", f"{T2} other\n".encode()) == [("stderr", parse_rfc3339(T2), b"other")]
    assert a.feed("stdout", f"{T2} yy\n".encode()) == [("stdout", parse_rfc3339(T1), b"xxxxxyy")]


def test_tty_lines_are_split_at_newlines_without_carriage_returns():
    a = LineAssembler(tty=True)
    assert a.feed("stdout", f"{T1} one\r\n{T2} tw".encode()) == [("stdout", parse_rfc3339(T1), b"one")]
    assert a.feed("stdout", b"o\r\n") == [("stdout", parse_rfc3339(T2), b"two")]
    assert a.feed("stdout", f"{T2} last".encode()) == [] and a.rest() == [("stdout", parse_rfc3339(T2), b"last")]


def test_a_message_without_a_time_is_skipped():
    a = LineAssembler(tty=False)
    assert a.feed("stdout", b"no-time here\n") == []
    assert a.feed("stdout", f"{T1} kept\n".encode()) == [("stdout", parse_rfc3339(T1), b"kept")]
