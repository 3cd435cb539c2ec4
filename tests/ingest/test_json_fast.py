"""The C push scanner (`_pushscan.c` via json_fast.py) against json_push.decode_json, the reference:
the same streams, or a decline (None) that hands the body to the reference. Also the whole worker
path (decode_body: WAL payload bytes, counts, discards, error) with all three C passes (scanner,
levels, metadata) and with none."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import logyard.ingest.decode as decode_module
import logyard.ingest.validate as validate_module
from logyard.api.ingest_pool import DecodeOptions, decode_body
from logyard.errors import LogyardError
from logyard.ingest.json_fast import decode_json_fast
from logyard.ingest.json_push import decode_json
from logyard.ingest.level import detect_levels as reference_levels
from logyard.ingest.validate import DEFAULT_LIST

DATA = Path(__file__).resolve().parents[1] / "conformance" / "data"
TS = "1767139200000000000"


def _view(raw) -> list[tuple]:
    return [(s.pairs, s.ts.tolist(), list(s.lines), s.sm, s.index) for s in raw]


def _outcome(fn, body: bytes):
    try:
        return "ok", _view(fn(body))
    except LogyardError as e:
        return "error", (e.status, e.message)


def assert_same_or_declined(body: bytes) -> bool:
    """True when the fast path took the body (and then answered exactly like the reference)."""
    try:
        fast = decode_json_fast(body)
    except LogyardError as e:
        assert _outcome(decode_json, body) == ("error", (e.status, e.message))
        return True
    if fast is None:
        return False
    for s in fast:
        s.column.validate(full=True)  # valid UTF-8 and offsets: from_buffers itself checks nothing
    assert ("ok", _view(fast)) == _outcome(decode_json, body)
    return True


def push(*streams: dict) -> bytes:
    return orjson.dumps({"streams": list(streams)})


@pytest.mark.parametrize(
    "body",
    [
        push({"stream": {"job": "a"}, "values": [[TS, "plain"], ["1", "x", {"trace_id": "ab", "k": "v"}]]}),
        push({"stream": {"job": "a"}, "values": [[TS, "x", {}]]}),  # empty metadata is dropped
        push({"stream": {"job": "a"}, "values": []}, {"stream": {}, "values": [[TS, "y"]]}),
        push({"stream": {"job": "a", "empty": ""}, "values": [["0009", "z"]]}),  # leading zeros
        push({"stream": {"job": "a"}, "values": [["9223372036854775807", "max"]]}),
        b'{"streams":[{"values":[["1","a"]],"stream":{"b":"c"}}]}',  # members in either order
        b' \r\n{ "streams" : [ { "stream" : { "a" : "b" } , "values" : [ [ "1" , "x" , { "k" : "v" } ] ] } ] } \n',
        # Escapes: short ones, \u incl. a surrogate pair and NUL, \/; raw multi-byte UTF-8.
        '{"streams":[{"stream":{"a":"\\ud83d\\ude00"},"values":[["1","q\\"b\\\\s\\/\\b\\f\\n\\r\\t\\u0000\\u20ac\\uD83D\\uDE00 é 😀 \U0010ffff",{"k\\u00e9":"\\t\\\\"}]]}]}'.encode(),
        push({"stream": {"job": "a"}, "values": [[TS, "x" * 40 + "\\" + "é" * 9 + '"' * 17]]}),  # SSE2 chunk edges
        push({"stream": {"1bad": "v"}, "values": [[TS, "x"]]}),  # label errors come from json_push's code
        push({"stream": {"a": "1"}, "values": [[TS, "x"]]}, {"stream": {"b.c": "v"}, "values": [[TS, "x"]]}),
    ],
)
def test_plain_bodies_decode_exactly_like_the_reference(body):
    assert assert_same_or_declined(body)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{}",
        b'{"streams":[]}',
        b'{"Streams":[{"stream":{"a":"b"},"values":[["1","x"]]}]}',  # Loki matches case-insensitively
        b'{"streams":[{"stream":{"a":"b"},"values":[["1","x"]]}],"other":1}',
        b'{"streams":[{"stream":{"a":"b"}}]}',
        b'{"streams":[{"stream":{"a":"b"},"values":[["1","x"]],"x":1}]}',
        b'{"streams":[{"stream":{"a":"b","a":"c"},"values":[["1","x"]]}]}',  # duplicate names
        b'{"streams":[{"stream":{"a":"b"},"values":[["1","x",{"k":"v","k":"w"}]]}]}',
        b'{"streams":[{"stream":{"a":1},"values":[["1","x"]]}]}',
        b'{"streams":[{"stream":{"a":"b"},"values":[["1","x"],null]}]}',
        b'{"streams":[{"stream":{"a":"b"},"values":[[1,"x"]]}]}',
        b'{"streams":[{"stream":{"a":"b"},"values":[["-1","x"]]}]}',
        b'{"streams":[{"stream":{"a":"b"},"values":[["","x"]]}]}',
        b'{"streams":[{"stream":{"a":"b"},"values":[["1.5","x"]]}]}',
        b'{"streams":[{"stream":{"a":"b"},"values":[["9223372036854775808","x"]]}]}',
        b'{"streams":[{"stream":{"a":"b"},"values":[["00000000000000000001","x"]]}]}',
        b'{"streams":[{"stream":{"a":"b"},"values":[["\\u0031","x"]]}]}',
        b'{"streams":[{"stream":{"a":"b"},"values":[["1","x",{"k":"v"},"extra"]]}]}',
        b'{"streams":[{"stream":{"a":"b"},"values":[["1","x",{"k":2}]]}]}',
        b'{"streams":[{"stream":{"a":"b"},"values":[["1"]]}]}',
        b'{"streams":[{"stream":{"a":"b"},"values":[["1","\\ud800"]]}]}',  # lone surrogates
        b'{"streams":[{"stream":{"a":"b"},"values":[["1","\\udc00"]]}]}',
        b'{"streams":[{"stream":{"a":"b"},"values":[["1","\xff"]]}]}',  # invalid UTF-8
        b'{"streams":[{"stream":{"a":"b"},"values":[["1","\xed\xa0\x80"]]}]}',  # UTF-8 surrogate
        b'{"streams":[{"stream":{"a":"b"},"values":[["1","\xc0\xaf"]]}]}',  # overlong
        b'{"streams":[{"stream":{"a":"b"},"values":[["1","a\tb"]]}]}',  # raw control character
        b'{"streams":[{"stream":{"a":"b"},"values":[["1","\\x"]]}]}',
        b'{"streams":[{"stream":{"a":"b"},"values":[["1","x"]]}]} x',
        b'{"streams":[{"stream":{"a":"b"},"values":[["1","x"]]},]}',
        b'{"streams":[{"stream":{"a":"b"},"values":[["1","x"]]}]',
    ],
)
def test_unusual_bodies_are_left_to_the_reference(body):
    assert decode_json_fast(body) is None


def _bodies(paths: list[Path]) -> list[bytes]:
    return [gzip.decompress(p.read_bytes()) for p in paths]


def test_conformance_bodies_decode_exactly_like_the_reference():
    bodies = _bodies(sorted(DATA.glob("push-*.json.gz")))
    assert len(bodies) >= 20
    assert all(assert_same_or_declined(b) for b in bodies)


def test_bench_bodies_decode_exactly_like_the_reference(bench_bodies):
    bodies = _bodies(bench_bodies[:4])
    assert all(assert_same_or_declined(b) for b in bodies)
    assert sum(b.count(b'"values"') for b in bodies) >= 20  # streams to compare, not empty bodies


# Mutations of a small body with the awkward parts in it: every byte may be replaced, dropped or
# doubled, or a fragment inserted. The result must be the reference's, or a decline.
_SEED = (
    '{"streams":[{"stream":{"job":"a","x":""},"values":[["1767139200000000000","level=info é \\"q\\" \\u00e9"],'
    '["2","{\\"level\\":\\"warn\\"}",{"trace_id":"ab","k":"\\ud83d\\ude00"}]]},'
    '{"stream":{"job":"b"},"values":[["3","x",{}]]}]}'
).encode()
_FRAGMENTS = [b'"', b"\\", b"\\u", b"\\ud800", b"{", b"}", b"[", b"]", b",", b":", b" ", b"null", b"0", b"\xff", b"\xc3", b"\xe2\x82", b"\t"]


@st.composite
def mutated_bodies(draw) -> bytes:
    body = bytearray(_SEED)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(body) - 1))
        kind = draw(st.sampled_from(["replace", "drop", "double", "insert"]))
        if kind == "replace":
            body[at] = draw(st.integers(0, 255))
        elif kind == "drop":
            del body[at]
        elif kind == "double":
            body.insert(at, body[at])
        else:
            body[at:at] = draw(st.sampled_from(_FRAGMENTS))
    return bytes(body)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_bodies())
def test_mutated_bodies_decode_like_the_reference_or_are_declined(body):
    assert_same_or_declined(body)


def test_the_seed_body_is_taken_by_the_fast_path():
    assert assert_same_or_declined(_SEED)  # or the mutations above would test declines only


def _worker(body: bytes, **opts):
    options = {"max_line_size": 262144, "discover_service_name": tuple(DEFAULT_LIST), "discover_log_levels": True,
               "max_age_ns": None, "grace_ns": 0} | opts  # fmt: skip
    return decode_body("tenant", body, "application/json", "gzip", DecodeOptions(**options))


class _DeclineAll:
    """Stands in for _metajson: every entry's metadata goes to the reference code."""

    @staticmethod
    def canonical(sm, *args):
        return 0, list(sm)


def _without_fast_path(monkeypatch, body: bytes, **opts):
    with monkeypatch.context() as m:
        m.setattr(decode_module, "scan", lambda body: None)
        m.setattr(validate_module, "_metajson", _DeclineAll)
        m.setattr(validate_module, "detect_levels", reference_levels)
        return _worker(body, **opts)


@pytest.mark.parametrize("limits", [{}, {"max_line_size": 120}, {"discover_log_levels": False}])
def test_worker_payloads_are_byte_identical(monkeypatch, limits, bench_bodies):
    paths = sorted(DATA.glob("push-*.json.gz"))[:6] + bench_bodies[:2]
    for path in paths:
        body = path.read_bytes()
        fast, reference = _worker(body, **limits), _without_fast_path(monkeypatch, body, **limits)
        assert fast.payload == reference.payload, path
        assert (fast.lines, fast.bytes, fast.discarded, fast.discarded_bytes, fast.error) == (
            reference.lines, reference.bytes, reference.discarded, reference.discarded_bytes, reference.error
        ), path  # fmt: skip


def test_worker_answers_partial_rejects_identically(monkeypatch):
    big = {"k": "v" * 70000}
    body = gzip.compress(
        push(
            {"stream": {"job": "a"}, "values": [[TS, "ok"], [TS, "meta too large", big], [TS, "y" * 300]]},
            {"stream": {"job": "b", "job_": "x" * 3000}, "values": [[TS, "label value too long"]]},
            {"stream": {"job": "c", "level": "WARN"}, "values": [[TS, "stream level"], [TS, "m", {"lvl": "debug"}]]},
            {"stream": {"job": "d"}, "values": [["1", "too old"], [TS, "e", {"detected_level": "Err", "a.b": "\ufffdx"}]]},
        )
    )
    fast = _worker(body, max_line_size=256, max_age_ns=10**18)
    reference = _without_fast_path(monkeypatch, body, max_line_size=256, max_age_ns=10**18)
    assert fast.error is not None and fast.discarded
    assert (fast.payload, fast.lines, fast.bytes, fast.discarded, fast.discarded_bytes, fast.error) == (
        reference.payload, reference.lines, reference.bytes, reference.discarded, reference.discarded_bytes, reference.error
    )  # fmt: skip
