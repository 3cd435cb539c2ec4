"""decode_push on protobuf bodies built by an independent encoder: tests/ingest/push.proto compiled
with grpc_tools.protoc at test time, snappy block compressed with cramjam."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import cramjam
import orjson
import pytest

from logyard.errors import BadRequestError
from logyard.ingest.decode import decode_push

PROTO = Path(__file__).with_name("push.proto")
CT = "application/x-protobuf"


@pytest.fixture(scope="module")
def pb(tmp_path_factory):
    """The message classes protoc generates from push.proto."""
    pytest.importorskip("grpc_tools", reason="test dependency grpcio-tools is not installed")
    import grpc_tools

    out = tmp_path_factory.mktemp("pb")
    include = Path(grpc_tools.__file__).parent / "_proto"
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO.parent}", f"-I{include}", f"--python_out={out}", PROTO.name],
        check=True,
    )
    sys.path.insert(0, str(out))
    try:
        return importlib.import_module("push_pb2")
    finally:
        sys.path.remove(str(out))


def encode(pb, streams: list[tuple[str, list[tuple[int, str, dict]]]]) -> bytes:
    req = pb.PushRequest()
    for labels, entries in streams:
        s = req.streams.add(labels=labels)
        for ts, line, meta in entries:
            e = s.entries.add(line=line)
            e.timestamp.seconds, e.timestamp.nanos = divmod(ts, 1_000_000_000)
            for k, v in meta.items():
                e.structuredMetadata.add(name=k, value=v)
    return bytes(cramjam.snappy.compress_raw(req.SerializeToString()))


def test_protobuf_push_decodes_streams_entries_and_metadata(pb):
    body = encode(
        pb,
        [
            ('{job="varlogs", host="h"}', [(1767225600123456789, "level=error boom", {}), (5, "second", {"trace_id": "t1"})]),
            ('{app="web"}', [(1767225601000000000, '{"level":"debug"}', {})]),
        ],
    )
    result = decode_push(body, CT, None)
    assert result.error is None and result.lines == 3
    first, second = result.streams
    assert first.labels.to_dict() == {"job": "varlogs", "host": "h", "service_name": "varlogs"}
    assert first.timestamps.tolist() == [1767225600123456789, 5]
    assert first.lines == ["level=error boom", "second"]
    assert [orjson.loads(m) for m in first.metadata] == [
        {"detected_level": "error"},
        {"detected_level": "unknown", "trace_id": "t1"},
    ]
    assert second.labels.get("service_name") == "web"
    assert orjson.loads(second.metadata[0]) == {"detected_level": "debug"}


@pytest.mark.parametrize("content_type", [CT, "text/plain", "application/x-protobuf; charset=binary"])
def test_any_non_json_type_is_protobuf(pb, content_type):
    body = encode(pb, [('{a="b"}', [(1, "x", {})])])
    assert decode_push(body, content_type, None).lines == 1
    assert decode_push(body, content_type, "snappy").lines == 1  # the header some clients send


@pytest.mark.parametrize(
    "labels, text",
    [
        ('{1bad="v"}', "couldn't parse labels: 1:2: parse error: unexpected character inside braces: '1'"),
        ('{a="b"', "couldn't parse labels: 1:7: parse error: unexpected end of input inside braces"),
        ("{a=b}", 'couldn\'t parse labels: 1:4: parse error: unexpected identifier "b" in label set, expected string'),
    ],
)
def test_protobuf_label_strings_are_parsed_with_loki_errors(pb, labels, text):
    with pytest.raises(BadRequestError) as info:
        decode_push(encode(pb, [(labels, [(1, "x", {})])]), CT, None)
    assert str(info.value) == text


def test_duplicate_label_names_drop_the_stream(pb):
    body = encode(pb, [('{a="1", a="2"}', [(1, "x", {})]), ('{b="1"}', [(1, "y", {})])])
    result = decode_push(body, CT, None)
    assert [s.lines for s in result.streams] == [["y"]]
    assert str(result.error) == "stream '{a=\"1\", a=\"2\", service_name=\"unknown_service\"}' has duplicate label name: 'a'"


def test_invalid_utf8_is_repaired_not_refused(pb):
    req = pb.PushRequest()
    s = req.streams.add(labels='{a="b"}')
    e = s.entries.add(line="ok")
    raw = req.SerializeToString().replace(b"ok", b"\xff\xfe")
    result = decode_push(bytes(cramjam.snappy.compress_raw(raw)), CT, None)
    assert result.streams[0].lines == ["\ufffd\ufffd"]
    del e


def test_garbage_after_snappy_is_a_clear_400():
    body = bytes(cramjam.snappy.compress_raw(b"\xff\xff\xff"))
    with pytest.raises(BadRequestError, match="invalid protobuf push request"):
        decode_push(body, CT, None)


def encode_stamp(pb, seconds: int, nanos: int) -> bytes:
    req = pb.PushRequest()
    e = req.streams.add(labels='{a="b"}').entries.add(line="x")
    e.timestamp.seconds, e.timestamp.nanos = seconds, nanos
    return bytes(cramjam.snappy.compress_raw(req.SerializeToString()))


@pytest.mark.parametrize(
    "seconds, nanos, text",
    [
        # Loki's gogoproto timestamp check (pkg/push/timestamp.go), its text verbatim.
        (2**62, 0, "timestamp: &types.Timestamp{Seconds: 4611686018427387904,\nNanos: 0,\n} after 10000-01-01"),
        (-(2**62), 0, "timestamp: &types.Timestamp{Seconds: -4611686018427387904,\nNanos: 0,\n} before 0001-01-01"),
        (0, -1, "timestamp: &types.Timestamp{Seconds: 0,\nNanos: -1,\n}: nanos not in range [0, 1e9)"),
        (0, 10**9, "timestamp: &types.Timestamp{Seconds: 0,\nNanos: 1000000000,\n}: nanos not in range [0, 1e9)"),
        # Valid for Loki, but not a number of int64 nanoseconds: refused rather than wrapped around.
        (253402300799, 0, "timestamp: &types.Timestamp{Seconds: 253402300799,\nNanos: 0,\n} is out of range"),
        (-62135596800, 0, "timestamp: &types.Timestamp{Seconds: -62135596800,\nNanos: 0,\n} is out of range"),
    ],
)
def test_protobuf_timestamp_out_of_range_is_a_400_naming_it(pb, seconds, nanos, text):
    with pytest.raises(BadRequestError) as info:
        decode_push(encode_stamp(pb, seconds, nanos), CT, None)
    assert str(info.value).startswith(text)


@pytest.mark.parametrize("seconds, nanos", [(9223372036, 854775807), (-9223372036, 0), (0, 999999999)])
def test_protobuf_timestamps_at_the_int64_edges_are_kept_exactly(pb, seconds, nanos):
    result = decode_push(encode_stamp(pb, seconds, nanos), CT, None)
    assert result.streams[0].timestamps.tolist() == [seconds * 10**9 + nanos]


def test_invalid_utf8_is_replaced_byte_by_byte_like_go(pb):
    req = pb.PushRequest()
    req.streams.add(labels='{a="b"}').entries.add(line="okk")
    raw = req.SerializeToString().replace(b"okk", b"\xe2\x82c")  # a cut 3-byte sequence: two bad bytes
    result = decode_push(bytes(cramjam.snappy.compress_raw(raw)), CT, None)
    assert result.streams[0].lines == ["\ufffd\ufffdc"]
