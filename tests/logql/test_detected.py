"""Detected fields: Loki's types, its json-then-logfmt parsing, values re-printed for queries."""

from __future__ import annotations

import pytest

from logyard.logql.detected import Entry, detected_fields, determine_type, field_type, field_values, value_for_query


@pytest.mark.parametrize(("value", "kind"), [
    ("42", "int"), ("-7", "int"), ("4.5", "float"), ("1e3", "float"), ("true", "boolean"), ("F", "boolean"),
    ("12ms", "duration"), ("1h2m", "duration"), ("1.5KiB", "bytes"), ("4 GB", "bytes"), ("GET", "string"),
    ("1e400", "string"), ("", "string"),
])
def test_a_value_has_lokis_type(value, kind):
    assert determine_type(value) == kind


def test_a_field_takes_the_first_type_all_its_values_have():
    assert field_type({"12", "12.5"}) == "float"
    assert field_type({"0", "1.5s"}) == "duration"
    assert field_type({"200", "ok"}) == "string"


def test_json_lines_give_json_fields_with_paths_and_others_logfmt():
    entries = [Entry({"app": "a"}, '{"user":{"id":7},"app":"x"}', {"trace": "t1"}, {}),
               Entry({"app": "a"}, "level=info took=5ms", {}, {})]
    fields = {f["label"]: f for f in detected_fields(entries, 100)}
    assert fields["user_id"] == {"label": "user_id", "type": "int", "cardinality": 1, "parsers": ["json"],
                                 "jsonPath": ["user", "id"]}
    # a parsed name that is a stream label gets Loki's _extracted suffix
    assert fields["app_extracted"]["parsers"] == ["json"]
    assert fields["took"] == {"label": "took", "type": "duration", "cardinality": 1, "parsers": ["logfmt"]}
    assert fields["trace"]["parsers"] is None


def test_field_values_reprint_bytes_but_not_durations():
    assert value_for_query("1.5KiB") == "1.5kB"
    assert value_for_query("12.345m") == "12.345m"
    entries = [Entry({}, "size=2048b", {}, {}), Entry({}, "size=10", {}, {})]
    assert field_values(entries, "size", 10) == ["10", "2.0kB"]


def test_metadata_named_like_a_stream_label_is_detected_as_extracted():
    """Entries no row stage touched carry their metadata as Loki's categorized answer does:
    a name taken by a stream label is `<name>_extracted` (LabelsBuilder.Add)."""
    import numpy as np
    import pyarrow as pa

    from logyard.logql.detected import _entries
    from logyard.logql.rows import Rows

    rows = Rows(np.array([1], np.int64), np.array([7], np.int64), pa.array(["hi"], pa.large_string()),
                pa.array(['{"app":"b","pod":"p1"}']))
    (entry,) = _entries(rows, {7: {"app": "a"}})
    assert entry.metadata == {"app_extracted": "b", "pod": "p1"}
