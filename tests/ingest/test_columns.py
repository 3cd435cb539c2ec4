"""Whole-body columns (columns.py) against the reference decode_push + prepare_append: the same WAL
payload and counts for every body taken, and a decline (a DecodeResult) for every body where
validation drops, renames or rejects anything."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from logyard.errors import LogyardError
from logyard.ingest.decode import BodyColumns, DecodeResult, decode_push, decode_push_columns
from logyard.storage.wal import prepare_append, prepare_columns

DATA = Path(__file__).resolve().parents[1] / "conformance" / "data"
BENCH = Path("/tmp/bench-data")
TS = "1767139200000000000"
ANY_TIME = (None, 1 << 62)


def push(*streams: dict) -> bytes:
    return orjson.dumps({"streams": list(streams)})


def _payload(cols: BodyColumns) -> bytes:
    return prepare_columns("t", cols.labels, cols.counts, cols.ts, cols.lines, cols.meta)


def assert_like_reference(body: bytes, encoding: str | None = None, ts_range=ANY_TIME, **limits) -> bool:
    """True when the body was taken as columns (and then gave the reference's payload)."""
    try:
        got = decode_push_columns(body, "application/json", encoding, ts_range, **limits)
    except LogyardError as e:
        with pytest.raises(LogyardError) as ref:
            decode_push(body, "application/json", encoding, **limits)
        assert (ref.value.status, ref.value.message) == (e.status, e.message)
        return False
    ref = decode_push(body, "application/json", encoding, **limits)
    if isinstance(got, DecodeResult):
        assert prepare_append("t", got.streams) == prepare_append("t", ref.streams)
        return False
    assert ref.error is None and not ref.discarded_lines
    assert _payload(got) == prepare_append("t", ref.streams)
    assert (len(got.ts), got.line_bytes) == (ref.lines, ref.bytes)
    return True


@pytest.mark.parametrize(
    "body",
    [
        push({"stream": {"job": "a"}, "values": [[TS, "level=warn plain"], [TS, "x", {"trace_id": "ab", "k": "v"}]]}),
        push({"stream": {"job": "a"}, "values": []}, {"stream": {"job": "b"}, "values": [[TS, "y"]]}),
        push({"stream": {"job": "a"}, "values": [[TS, "x"]]}, {"stream": {"job": "a"}, "values": [[TS, "dup"]]}),
        push({"stream": {"app": "a", "empty": ""}, "values": [[TS, '{"level":"error","m":1}', {"q": '"\t'}]]}),
    ],
)
def test_usual_bodies_are_taken_as_columns_with_the_reference_payload(body):
    assert assert_like_reference(body)


@pytest.mark.parametrize(
    "body, limits, ts_range",
    [
        (push({"stream": {"job": "a"}, "values": [[TS, "x" * 300]]}), {"max_line_size": 256}, ANY_TIME),
        (push({"stream": {"job": "a", "level": "WARN"}, "values": [[TS, "stream level"]]}), {}, ANY_TIME),
        (push({"stream": {"job": "a"}, "values": [[TS, "x", {"a.b": "renamed"}]]}), {}, ANY_TIME),
        (push({"stream": {"job": "a"}, "values": [[TS, "x", {"level": "debug"}]]}), {}, ANY_TIME),
        (push({"stream": {"job": "a"}, "values": [[TS, "x", {"k": "v" * 100}]]}), {"max_structured_metadata_size": 50},
         ANY_TIME),
        (push({"stream": {f"l{i}": "v" for i in range(20)}, "values": [[TS, "x"]]}), {}, ANY_TIME),
        (push({"stream": {"job": "a"}, "values": [["1", "too old"]]}), {}, (10, 1 << 62)),
        (push({"stream": {"job": "a"}, "values": [[TS, "too new"]]}), {}, (None, 10)),
        (push({"stream": {"job": "a"}, "values": []}), {}, ANY_TIME),
    ],
)
def test_bodies_validation_changes_are_left_to_the_reference(body, limits, ts_range):
    assert not assert_like_reference(body, ts_range=ts_range, **limits)


def test_bad_label_names_raise_the_references_error():
    body = push({"stream": {"job": "a"}, "values": [[TS, "x"]]}, {"stream": {"1bad": "v"}, "values": [[TS, "x"]]})
    assert not assert_like_reference(body)


def test_without_ts_range_the_reference_answers():
    body = push({"stream": {"job": "a"}, "values": [[TS, "x"]]})
    assert isinstance(decode_push_columns(body, "application/json", None, None), DecodeResult)


@pytest.mark.parametrize("limits", [{}, {"discover_log_levels": False}, {"max_line_size": 120}])
def test_corpus_bodies_decode_like_the_reference(limits):
    paths = sorted(DATA.glob("push-*.json.gz"))[:6] + sorted(BENCH.glob("push-*.json.gz"))[:3]
    taken = sum(assert_like_reference(p.read_bytes(), "gzip", **limits) for p in paths)
    if limits.get("max_line_size") is None and paths:
        assert taken  # the usual bodies do take the column path
