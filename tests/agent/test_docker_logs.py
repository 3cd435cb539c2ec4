"""Decoding the Docker logs endpoint: multiplexed frames cut anywhere, partial messages of long
lines, TTY streams, and Promtail's meta labels of a container."""

from __future__ import annotations

import struct

from logyard.agent.docker_target import Demuxer, LineAssembler, default_labels, meta_labels
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


def test_meta_and_default_labels_of_a_compose_container():
    c = {"Id": "abc", "Names": ["/aixcl-web-1"], "HostConfig": {"NetworkMode": "none"},
         "Labels": {"com.docker.compose.project": "aixcl", "com.docker.compose.service": "web"}}
    assert meta_labels(c) == {
        "__meta_docker_container_id": "abc",
        "__meta_docker_container_name": "/aixcl-web-1",
        "__meta_docker_container_network_mode": "none",
        "__meta_docker_container_label_com_docker_compose_project": "aixcl",
        "__meta_docker_container_label_com_docker_compose_service": "web",
    }
    assert default_labels(c, "stderr") == {"container": "aixcl-web-1", "stream": "stderr",
                                           "compose_service": "web", "compose_project": "aixcl"}
