"""The C metadata pass (`_metajson.c`) against Validator.metadata's per-entry code, the reference:
the same canonical JSON per entry, metadata bytes, discards and messages, with it on and off."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import logyard.ingest.validate as validate_module
from logyard.errors import LogyardError
from logyard.ingest import _metajson
from logyard.ingest.decode import decode_push
from logyard.ingest.level import LEVELS
from logyard.ingest.validate import _LEVEL_KEYS

TS = "1767139200000000000"


class _DeclineAll:
    """Stands in for _metajson: every entry goes to the reference code."""

    @staticmethod
    def canonical(sm, *args):
        return 0, list(sm)


def _result_view(result) -> tuple:
    return (
        [(s.labels, s.timestamps.tolist(), list(s.lines), list(s.metadata)) for s in result.streams],
        result.lines, result.bytes, result.metadata_bytes, result.discarded_lines, result.discarded_bytes,
        str(result.error) if result.error else None,
    )  # fmt: skip


def _decoded(body: bytes, **limits) -> tuple:
    try:
        return _result_view(decode_push(body, "application/json", None, **limits))
    except LogyardError as e:  # e.g. a metadata name that normalizes to nothing
        return e.status, e.message


def _both(body: bytes, **limits) -> tuple[tuple, tuple]:
    fast = _decoded(body, **limits)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(validate_module, "_metajson", _DeclineAll)
        reference = _decoded(body, **limits)
    return fast, reference


def _body(entries: list, labels: dict | None = None) -> bytes:
    return orjson.dumps({"streams": [{"stream": labels or {"job": "a"}, "values": entries}]})


def test_plain_entries_are_written_by_the_c_pass():
    out = ["", ""]
    meta = {0: {"trace_id": "ab", "Z": 'q"\\\n\x01\x7f é'}, 1: {"a.b": "x"}}
    done, declined = _metajson.canonical(meta, bytes([2, 4]), LEVELS, _LEVEL_KEYS, out, 0, 0)
    assert declined == [1]  # `a.b` is renamed by the reference
    assert out[0] == orjson.dumps({**meta[0], "detected_level": "info"}, option=orjson.OPT_SORT_KEYS).decode()
    assert done == len("trace_id") + 2 + len("Z") + len('q"\\\n\x01\x7f é'.encode())


@pytest.mark.parametrize(
    "meta, declined",
    [
        ({"ok_name": "v", "_x": "v", "__x": "v"}, False),
        ({"a__b": "v"}, True),
        ({"___": "v"}, True),
        ({"1a": "v"}, True),
        ({"é": "v"}, True),
        ({"level": "warn"}, True),  # a level field: the reference's rules
        ({"detected_level": "warn"}, True),
        ({"severity_number": "9"}, True),
        ({"k": "a\ufffdb"}, True),  # U+FFFD is dropped by the reference
    ],
)
def test_what_the_c_pass_leaves_to_the_reference(meta, declined):
    out = [""]
    _, back = _metajson.canonical({0: meta}, bytes([2]), LEVELS, _LEVEL_KEYS, out, 0, 0)
    assert back == ([0] if declined else [])


def test_limits_leave_the_entry_to_the_reference():
    meta = {"k": "v" * 50}
    size = len(orjson.dumps({**meta, "detected_level": "info"}))
    assert _metajson.canonical({0: meta}, bytes([2]), LEVELS, _LEVEL_KEYS, [""], size, 0)[1] == []
    assert _metajson.canonical({0: meta}, bytes([2]), LEVELS, _LEVEL_KEYS, [""], size - 1, 0)[1] == [0]
    assert _metajson.canonical({0: {"a": "1", "b": "2"}}, None, LEVELS, _LEVEL_KEYS, [""], 0, 2)[1] == []
    assert _metajson.canonical({0: {"a": "1", "b": "2"}}, None, LEVELS, _LEVEL_KEYS, [""], 0, 1)[1] == [0]


# Clean names (the C pass's) as often as the ones the reference renames or reads a level from.
_names = st.one_of(
    st.sampled_from(["trace_id", "k", "Z", "_a", "__b", "x" * 40]),
    st.sampled_from(["a__b", "a.b", "1x", "é", "___", "level", "lvl", "detected_level", "severity_number", "Severity"]),
)
_values = st.one_of(
    st.sampled_from(["warn", "ERROR", "9", "17", "\ufffd", "a\ufffd", '"\\', "\x00\x01\x1f\x7f", "\b\f\n\r\t", "é😀", "v" * 30]),
    st.text(max_size=12),
)
_lines = st.sampled_from(["plain", "level=debug x", '{"level":"warn"}', "an error", "x" * 50])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(_lines, st.dictionaries(_names, _values, max_size=3)), min_size=1, max_size=8),
    st.sampled_from([{}, {"max_structured_metadata_size": 60}, {"max_structured_metadata_count": 2},
                     {"discover_log_levels": False}, {"max_line_size": 20}]),  # fmt: skip
    st.sampled_from([None, None, None, {"job": "a", "level": "WARN"}]),
)
@example([("plain", {"k": "\x00\x01\x0b\x1f\x7f\b\f\n\r\t\"\\"}), ("x", {"Z": "é"})], {}, None)
def test_generated_metadata_decodes_like_the_reference(entries, limits, labels):
    body = _body([[TS, line, meta] for line, meta in entries], labels)
    fast, reference = _both(body, **limits)
    assert fast == reference
