"""decode_push on JSON bodies: Loki's answers, its ingest-time additions and its partial rejects."""

from __future__ import annotations

import gzip
import json
import zlib

import cramjam
import numpy as np
import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from logyard.errors import BadRequestError, TooLargeError, UnprocessableError
from logyard.ingest.decode import decode_push, normalize_metadata_name

CT = "application/json"
PB = "application/x-protobuf"
TS = "1767139200000000000"


def push(*streams: dict) -> bytes:
    return orjson.dumps({"streams": list(streams)})


def one(labels: dict, *values: list) -> bytes:
    return push({"stream": labels, "values": list(values)})


def only_stream(body: bytes, **kw):
    result = decode_push(body, CT, None, **kw)
    assert result.error is None
    [stream] = result.streams
    return stream


@pytest.mark.parametrize(
    "body, status, text",
    [
        (b"", 400, "EOF"),
        (b"   ", 400, "EOF"),
        (b'{"streams": [', 400, None),
        (b'{"streams": []}', 422, "error at least one valid stream is required for ingestion"),
        (b"{}", 422, "error at least one valid stream is required for ingestion"),
        (b"[]", 400, None),
        (b'{"streams": {}}', 400, None),
        (one({"1bad": "v"}, [TS, "x"]), 400, "couldn't parse labels: 1:2: parse error: unexpected character inside braces: '1'"),
        (one({"a": "1", "b.c": "v"}, [TS, "x"]), 400, "couldn't parse labels: 1:10: parse error: unexpected character inside braces: '.'"),
        (one({"job": "probe"}, ["notanumber", "x"]), 400, None),
        (one({"job": "probe"}, [1767139200000000000, "x"]), 400, None),  # numbers are not accepted
        (one({"job": "probe"}, ["1.5", "x"]), 400, None),
        (one({"job": "probe"}, ["99999999999999999999", "x"]), 400, None),
        (one({"job": "probe"}, [TS, 5]), 400, None),
        (one({"job": "probe"}, [TS]), 400, None),
        (one({"job": "probe"}, "x"), 400, None),
        (one({"job": "probe"}, [TS, "x", {"k": 1}]), 400, None),
        (one({"job": "probe"}, [TS, "x", "meta"]), 400, None),
        (one({"job": {"a": 1}}, [TS, "x"]), 400, None),
    ],
)
def test_bad_json_pushes_are_rejected_whole(body, status, text):
    with pytest.raises((BadRequestError, UnprocessableError)) as info:
        decode_push(body, CT, None)
    assert info.value.status == status
    if text is not None:
        assert str(info.value) == text
    else:
        assert str(info.value)  # says what is wrong


def test_json_error_names_the_place():
    with pytest.raises(BadRequestError, match=r"streams\[0\]\.values\[1\]\[0\]: invalid timestamp \"x1\""):
        decode_push(one({"job": "a"}, [TS, "ok"], ["x1", "bad"]), CT, None)


@pytest.mark.parametrize(
    "labels, service",
    [
        ({"job": "varlogs", "host": "h"}, "varlogs"),
        ({"container": "c", "job": "j"}, "c"),  # first of Loki's list wins
        ({"app": "a", "service": "s"}, "s"),
        ({"host": "h"}, "unknown_service"),
        ({}, "unknown_service"),  # an empty label set is accepted, as in Loki
        ({"app": "", "job": "j"}, "j"),  # empty values are absent labels
    ],
)
def test_service_name_is_discovered_like_loki(labels, service):
    stream = only_stream(one(labels, [TS, "x"]))
    assert stream.labels.get("service_name") == service


def test_existing_service_name_is_kept():
    stream = only_stream(one({"service_name": "mine", "app": "a"}, [TS, "x"]))
    assert stream.labels.to_dict() == {"service_name": "mine", "app": "a"}


def test_service_name_discovery_can_be_turned_off():
    stream = only_stream(one({"app": "a"}, [TS, "x"]), discover_service_name=[])
    assert stream.labels.to_dict() == {"app": "a"}


def test_entries_keep_push_order_timestamps_and_lines():
    body = one({"job": "a"}, ["3", "c"], ["1", "a"], ["2", "b\nmulti"], ["-5", "neg"])
    stream = only_stream(body)
    assert stream.timestamps.dtype == np.int64
    assert stream.timestamps.tolist() == [3, 1, 2, -5]
    assert stream.lines == ["c", "a", "b\nmulti", "neg"]


def test_metadata_is_sorted_json_with_detected_level():
    body = one({"job": "a"}, [TS, "level=warn x", {"trace_id": "ab", "Session": "s1"}], [TS, "plain"])
    stream = only_stream(body)
    assert stream.metadata == [
        '{"Session":"s1","detected_level":"warn","trace_id":"ab"}',
        '{"detected_level":"unknown"}',
    ]


@pytest.mark.parametrize(
    "labels, meta, line, level",
    [
        ({"job": "a", "level": "WARNING"}, {}, "an error", "warn"),  # stream label first
        ({"job": "a", "level": "notice"}, {}, "an error", "notice"),  # unknown kept verbatim
        ({"job": "a"}, {"severity": "ERR"}, "level=info", "error"),  # then metadata
        ({"job": "a"}, {"detected_level": "Info"}, "an error", "info"),  # client's, normalised
        ({"job": "a"}, {"severity_number": "17"}, "level=info", "error"),  # OTLP severity
        ({"job": "a"}, {"severity_number": "x"}, "debug", "info"),
        ({"job": "a"}, {"trace_id": "t"}, '{"lvl":"trace"}', "trace"),
    ],
)
def test_detected_level_precedence(labels, meta, line, level):
    entry = [TS, line, meta] if meta else [TS, line]
    stream = only_stream(one(labels, entry))
    assert orjson.loads(stream.metadata[0])["detected_level"] == level


def test_level_discovery_can_be_turned_off():
    body = one({"job": "a"}, [TS, "level=info"], [TS, "x", {"trace_id": "t"}])
    stream = only_stream(body, discover_log_levels=False)
    assert stream.metadata == ["", '{"trace_id":"t"}']


@pytest.mark.parametrize(
    "name, normalized",
    [("trace_id", "trace_id"), ("a.b", "a_b"), ("a..b", "a_b"), ("a__b", "a_b"), ("1x", "key_1x"),
     ("__meta__", "__meta__"), ("_x", "_x"), ("k8s.pod-name", "k8s_pod_name")],
)  # fmt: skip
def test_metadata_names_are_normalised_like_loki(name, normalized):
    assert normalize_metadata_name(name) == normalized


def test_metadata_name_of_underscores_only_is_rejected():
    with pytest.raises(BadRequestError):
        normalize_metadata_name("__")


def test_line_over_the_limit_drops_only_that_entry_and_answers_400():
    big = "x" * 300000
    body = push(
        {"stream": {"job": "probe"}, "values": [[TS, big], [TS, "small"]]},
        {"stream": {"job": "other"}, "values": [[TS, "fine"]]},
    )
    result = decode_push(body, CT, None)
    assert [s.lines for s in result.streams] == [["small"], ["fine"]]
    assert result.lines == 2 and result.bytes == len("small") + len("fine")
    assert result.discarded_lines == {"line_too_long": 1}
    assert result.discarded_bytes == {"line_too_long": 300000}
    assert result.error is not None and result.error.status == 400
    assert str(result.error) == (
        "max entry size '262144' bytes exceeded for stream '{job=\"probe\", service_name=\"probe\"}' "
        "while adding an entry with length '300000' bytes"
    )


def test_repeated_validation_errors_are_grouped_like_loki():
    body = one({"job": "p"}, [TS, "xxxx"], [TS, "yyyy"], [TS, "ok"])
    result = decode_push(body, CT, None, max_line_size=3)
    assert str(result.error).startswith("2 errors like: max entry size '3' bytes exceeded")
    assert [s.lines for s in result.streams] == [["ok"]]


def test_line_limit_counts_utf8_bytes_and_zero_means_none():
    body = one({"job": "p"}, [TS, "é" * 2])
    assert decode_push(body, CT, None, max_line_size=3).discarded_lines == {"line_too_long": 1}
    assert decode_push(body, CT, None, max_line_size=0).lines == 1


@pytest.mark.parametrize(
    "labels, reason, text",
    [
        ({f"l{i}": "v" for i in range(16)}, "max_label_names_per_series", "has 16 label names; limit 15"),
        ({"job": "v" * 2049}, "label_value_too_long", "has label value too long"),
        ({"n" * 1025: "v"}, "label_name_too_long", "has label name too long"),
    ],
)
def test_invalid_streams_are_dropped_with_loki_messages(labels, reason, text):
    body = push({"stream": labels, "values": [[TS, "x"]]}, {"stream": {"job": "ok"}, "values": [[TS, "y"]]})
    result = decode_push(body, CT, None)
    assert [s.lines for s in result.streams] == [["y"]]
    assert result.discarded_lines == {reason: 1}
    assert text in str(result.error)


def test_top_level_field_name_is_case_insensitive_like_jsoniter():
    body = orjson.dumps({"Streams": [{"stream": {"job": "a"}, "values": [[TS, "x"]]}]})
    assert decode_push(body, CT, None).lines == 1


def test_streams_without_entries_are_skipped_beside_streams_with_entries():
    body = push({"stream": {"job": "a"}, "values": []}, {"stream": {"job": "b"}, "values": [[TS, "x"]]})
    result = decode_push(body, CT, None)
    assert [s.lines for s in result.streams] == [["x"]] and result.error is None


@pytest.mark.parametrize("encoding", [None, "gzip"])
def test_a_body_with_no_entry_at_all_is_refused_not_acknowledged(encoding):
    # Loki answers 204 and keeps nothing; logyard never acknowledges a push that stores nothing.
    body = push({"stream": {"job": "a"}, "values": []}, {"stream": {"job": "b"}})
    if encoding:
        body = gzip.compress(body)
    with pytest.raises(UnprocessableError, match="error at least one valid stream is required for ingestion"):
        decode_push(body, CT, encoding)


@pytest.mark.parametrize("stream", [{}, {"foo": [[TS, "x"]]}, {"stream": {"a": "b"}, "entries": [{"ts": "x"}]},
                                    {"labels": '{a="b"}', "values": [[TS, "x"]]}])
def test_a_stream_of_unknown_shape_is_a_400_that_names_it(stream):
    with pytest.raises(BadRequestError, match=r"streams\[0\]"):
        decode_push(push(stream), CT, None)


LEGACY_TS = "2026-01-01T00:00:00Z"
LEGACY_NS = 1767225600000000000


def legacy(*streams: dict) -> bytes:
    return orjson.dumps({"streams": list(streams)})


@pytest.mark.parametrize(
    "ts, ns",
    [
        ("2026-01-01T00:00:00Z", LEGACY_NS),
        ("2026-01-01T00:00:00.5Z", LEGACY_NS + 500_000_000),
        ("2026-01-01T00:00:00.123456789Z", LEGACY_NS + 123456789),
        ("2026-01-01T00:00:00.1234567891Z", LEGACY_NS + 123456789),  # Go keeps nanoseconds, drops the rest
        ("2026-01-01T02:30:00.000001+02:30", LEGACY_NS + 1000),  # python-logging-loki's rfc3339 form
        ("2025-12-31T19:00:00-05:00", LEGACY_NS),
    ],
)
def test_legacy_push_shape_is_stored_like_lokis_v0_decoder(ts, ns):
    # python-logging-loki's default emitter: `labels` a selector string, entries of RFC3339 `ts` and `line`.
    body = legacy({"labels": '{app="x", severity="info"}', "entries": [{"ts": ts, "line": "hello"}]})
    stream = only_stream(body)
    assert stream.labels.to_dict() == {"app": "x", "severity": "info", "service_name": "x"}
    assert stream.timestamps.tolist() == [ns]
    assert stream.lines == ["hello"]


def test_legacy_push_keeps_order_metadata_and_mixes_with_v1_streams():
    body = legacy(
        {"labels": '{app="x"}', "entries": [{"ts": LEGACY_TS, "line": "a", "structuredMetadata": {"trace_id": "t1"}},
                                            None, {"ts": "2026-01-01T00:00:01Z", "line": "b"}]},
        {"stream": {"app": "y"}, "values": [[TS, "c"]]},
    )
    result = decode_push(body, CT, None)
    assert result.error is None and result.lines == 3
    x, y = result.streams
    assert x.lines == ["a", "b"] and x.timestamps.tolist() == [LEGACY_NS, LEGACY_NS + 10**9]
    assert orjson.loads(x.metadata[0])["trace_id"] == "t1"
    assert y.lines == ["c"] and y.timestamps.tolist() == [int(TS)]


@pytest.mark.parametrize(
    "stream, text",
    [
        ({"labels": "{1bad=\"v\"}", "entries": [{"ts": LEGACY_TS, "line": "x"}]},
         "couldn't parse labels: 1:2: parse error: unexpected character inside braces: '1'"),
        ({"labels": {"app": "x"}, "entries": []}, "streams[0].labels"),
        ({"labels": '{app="x"}', "entries": {}}, "streams[0].entries"),
        ({"labels": '{app="x"}', "entries": [["2026", "x"]]}, "streams[0].entries[0]"),
        ({"labels": '{app="x"}', "entries": [{"line": "x"}]}, "streams[0].entries[0].ts"),
        ({"labels": '{app="x"}', "entries": [{"ts": 5, "line": "x"}]}, "streams[0].entries[0].ts"),
        ({"labels": '{app="x"}', "entries": [{"ts": LEGACY_TS, "line": "x"}, {"ts": "2026-01-01 00:00:00Z", "line": "y"}]},
         'streams[0].entries[1].ts: invalid timestamp "2026-01-01 00:00:00Z"'),
        ({"labels": '{app="x"}', "entries": [{"ts": "2026-02-30T00:00:00Z", "line": "x"}]}, "streams[0].entries[0].ts"),
        ({"labels": '{app="x"}', "entries": [{"ts": "2026-01-01T24:00:00Z", "line": "x"}]}, "streams[0].entries[0].ts"),
        ({"labels": '{app="x"}', "entries": [{"ts": "2026-01-01T00:00:00", "line": "x"}]}, "streams[0].entries[0].ts"),
        ({"labels": '{app="x"}', "entries": [{"ts": "2300-01-01T00:00:00Z", "line": "x"}]},
         "streams[0].entries[0].ts: timestamp 2300-01-01T00:00:00Z is out of range"),
        ({"labels": '{app="x"}', "entries": [{"ts": LEGACY_TS, "line": 5}]}, "streams[0].entries[0].line"),
        ({"labels": '{app="x"}', "entries": [{"ts": LEGACY_TS, "line": "x", "structuredMetadata": {"k": 1}}]},
         "streams[0].entries[0].structuredMetadata"),
    ],
)
def test_bad_legacy_pushes_are_refused_whole_naming_the_place(stream, text):
    with pytest.raises(BadRequestError) as info:
        decode_push(legacy(stream, {"stream": {"job": "ok"}, "values": [[TS, "kept?"]]}), CT, None)
    assert text in str(info.value)


def test_invalid_utf8_in_a_json_line_is_stored_as_replacement_characters_like_go():
    # Go replaces each invalid byte with U+FFFD (protobuf bodies are repaired the same way).
    body = one({"job": "u"}, [TS, "ok"], [TS, "XX"]).replace(b"XX", b"a\xffb\xe2\x82c")
    stream = only_stream(body)
    assert stream.lines == ["ok", "a\ufffdb\ufffd\ufffdc"]


def test_invalid_utf8_in_a_label_value_is_repaired_too():
    body = one({"job": "XX"}, [TS, "ok"]).replace(b"XX", b"\xc3")
    assert only_stream(body).labels.get("job") == "\ufffd"


def test_invalid_utf8_outside_strings_is_still_malformed_json():
    body = one({"job": "a"}, [TS, "ok"]).replace(b"{", b"\xff{", 1)
    with pytest.raises(BadRequestError, match="malformed JSON"):
        decode_push(body, CT, None)


def test_null_entries_are_skipped_like_loki():
    stream = only_stream(one({"job": "a"}, None, [TS, "x"]))
    assert stream.lines == ["x"]


@pytest.mark.parametrize("content_type", [None, "", "application/json", "Application/JSON; charset=utf-8"])
def test_json_content_types(content_type):
    assert decode_push(one({"job": "a"}, [TS, "x"]), content_type, None).lines == 1


def deflate_raw(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-15)
    return c.compress(data) + c.flush()


@pytest.mark.parametrize(
    "encode, encoding",
    [
        (lambda b: b, None),
        (lambda b: b, "snappy"),  # Loki passes the body on: snappy applies to protobuf only
        (gzip.compress, "gzip"),
        (lambda b: gzip.compress(b[:10]) + gzip.compress(b[10:]), "gzip"),  # multi-member
        (deflate_raw, "deflate"),
    ],
)
def test_content_encodings(encode, encoding):
    body = one({"job": "a"}, [TS, "x"])
    assert decode_push(encode(body), CT, encoding).lines == 1


@pytest.mark.parametrize(
    "body, encoding, text",
    [
        (b"not gzip", "gzip", "unexpected EOF"),
        (b"definitely not gzip", "gzip", "gzip: invalid header"),
        (gzip.compress(b'{"streams": []}')[:-6], "gzip", "unexpected EOF"),
        (b"x", "br", 'Content-Encoding "br" not supported'),
    ],
)
def test_bad_encodings_answer_like_go(body, encoding, text):
    with pytest.raises(BadRequestError) as info:
        decode_push(body, CT, encoding)
    assert str(info.value) == text


def test_other_content_types_are_read_as_snappy_protobuf():
    with pytest.raises(BadRequestError, match="^snappy: corrupt input$"):
        decode_push(b"hello", "text/plain", None)


def test_bad_media_type_is_rejected():
    with pytest.raises(BadRequestError, match="mime: expected slash after first token"):
        decode_push(b"{}", "json", None)


# -- round trip ------------------------------------------------------------------------------

label_names = st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True).filter(lambda n: n != "service_name")
entry = st.tuples(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.text(max_size=60),
    st.dictionaries(st.from_regex(r"[a-z][a-z0-9]{0,5}(_[a-z0-9]{1,4})?", fullmatch=True), st.text(max_size=10), max_size=3),
)
stream_st = st.tuples(st.dictionaries(label_names, st.text(min_size=1, max_size=12), max_size=5), st.lists(entry, min_size=1, max_size=8))


@settings(max_examples=150, deadline=None)
@given(st.lists(stream_st, min_size=1, max_size=4))
@example([({}, [(0, "", {"a": "\ufffd"})])])
def test_json_round_trip_gives_back_every_entry(streams):
    body = push(
        *[
            {"stream": labels, "values": [[str(ts), line, meta] if meta else [str(ts), line] for ts, line, meta in entries]}
            for labels, entries in streams
        ]
    )
    result = decode_push(body, CT, None, max_line_size=0)
    assert result.error is None
    assert len(result.streams) == len(streams)
    for got, (labels, entries) in zip(result.streams, streams):
        assert got.labels.without(["service_name"]).to_dict() == labels
        assert got.timestamps.tolist() == [ts for ts, _, _ in entries]
        assert got.lines == [line for _, line, _ in entries]
        for meta_text, (_, _, meta) in zip(got.metadata, entries):
            decoded = json.loads(meta_text)
            assert decoded.pop("detected_level") in ("trace", "debug", "info", "warn", "error", "critical", "fatal", "unknown")
            # Loki drops U+FFFD (its mark of invalid UTF-8) from metadata values, not from lines.
            assert decoded == {k: v.replace("\ufffd", "") for k, v in meta.items()}
    assert result.lines == sum(len(e) for _, e in streams)
    assert result.bytes == sum(len(line.encode()) for _, e in streams for _, line, _ in e)


def test_structured_metadata_limits_drop_the_entry_with_loki_messages():
    body = one({"job": "p"}, [TS, "a", {"k1": "v", "k2": "v"}], [TS, "b", {"k1": "v"}])
    result = decode_push(body, CT, None, max_structured_metadata_count=1)
    assert [s.lines for s in result.streams] == [["b"]]
    assert result.discarded_lines == {"structured_metadata_too_many": 1}
    assert str(result.error).startswith("stream '{job=\"p\", service_name=\"p\"}' has too many structured metadata labels: '2', limit: '1'")
    result = decode_push(body, CT, None, max_structured_metadata_size=4)
    assert result.discarded_lines == {"structured_metadata_too_large": 1}
    assert "has structured metadata too large: '6' bytes, limit: '4' bytes" in str(result.error)


def test_metadata_bytes_count_names_and_values_sent():
    body = one({"job": "p"}, [TS, "a", {"trace_id": "abc"}], [TS, "b", {"k": "é"}])
    result = decode_push(body, CT, None)
    assert result.metadata_bytes == len("trace_idabc") + len("ké".encode())
    assert result.bytes == 2


def test_unicode_replacement_characters_are_dropped_from_metadata_values():
    stream = only_stream(one({"job": "p"}, [TS, "a", {"k": "x\ufffdy"}]))
    assert orjson.loads(stream.metadata[0])["k"] == "xy"


# -- garbage in, logyard errors out ----------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=200), json_values.map(orjson.dumps), st.builds(lambda v: push({"stream": {"a": "b"}, "values": v}), json_values)))
def test_any_body_decodes_or_raises_a_logyard_error(body):
    snappy = bytes(cramjam.snappy.compress_raw(body))
    cases = ((CT, None, body), (PB, None, body), (PB, None, snappy), (CT, "gzip", body), (CT, "deflate", body))
    for content_type, encoding, data in cases:
        try:
            result = decode_push(data, content_type, encoding)
        except (BadRequestError, UnprocessableError, TooLargeError):  # a snappy header may claim 4 GiB
            continue
        assert all(len(s.lines) == len(s.timestamps) == len(s.metadata) for s in result.streams)


@pytest.mark.parametrize(
    "meta",
    [
        {"trace_id": "abc"},
        {"k": 'quote " and \\ backslash\n'},  # escaped in the JSON text
        {"k": "é✓", "nämé": "x"},  # non-ASCII values; a non-ASCII name is renamed first
        {"detected_level": "WARN", "a": "b"},  # the client's level is not counted
        {"level": "error", "span": "1"},  # a level field is counted, detected_level is not
        {"severity_number": "9"},
        {"detected_level": ""},
    ],
)
def test_metadata_bytes_count_names_and_values_without_detected_level(meta):
    result = decode_push(one({"job": "p"}, [TS, "line", meta]), CT, None)
    expected = sum(len(normalize_metadata_name(k).encode()) + len(v.encode()) for k, v in meta.items() if k != "detected_level")
    assert result.metadata_bytes == expected
