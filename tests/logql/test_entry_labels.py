"""Sorting an entry's labels into Loki's categories (LabelsBuilder.LabelsResult)."""

from __future__ import annotations

from logyard.logql.entry_labels import EntryLabels, categorized, without_stages
from logyard.logql.stages.builder import PARSED, LabelsBuilder

STREAM = {"app": "a", "job": "j"}


def test_parsed_labels_hide_metadata_and_stream_labels_of_their_name():
    lbs = LabelsBuilder(STREAM, {"trace_id": "t", "user": "m"})
    lbs.set(PARSED, "user", "p")
    lbs.set(PARSED, "app", "x")   # as label_format app="x" does
    got = categorized(lbs)
    assert dict(got) == {"app": "x", "job": "j", "trace_id": "t", "user": "p"}
    assert got.stream_key() == (("job", "j"),)
    assert got.extra() == {"structuredMetadata": {"trace_id": "t"}, "parsed": {"app": "x", "user": "p"}}


def test_error_labels_are_parsed():
    lbs = LabelsBuilder(STREAM)
    lbs.set_error("JSONParserErr", "bad")
    assert categorized(lbs).extra() == {"parsed": {"__error__": "JSONParserErr", "__error_details__": "bad"}}


def test_dropped_labels_are_in_no_category():
    lbs = LabelsBuilder(STREAM, {"trace_id": "t"})
    lbs.delete("trace_id")
    lbs.delete("app")
    got = categorized(lbs)
    assert got.stream_key() == (("job", "j"),) and got.extra() == {}


def test_metadata_named_like_a_stream_label_gets_the_extracted_suffix():
    got = without_stages(STREAM, {"app": "b"})
    assert dict(got) == {"app": "a", "app_extracted": "b", "job": "j"}
    assert got.extra() == {"structuredMetadata": {"app_extracted": "b"}}


def test_entry_labels_without_categories_are_all_stream_labels():
    got = EntryLabels({"b": "2", "a": "1"}, frozenset(), frozenset())
    assert got.stream_key() == (("a", "1"), ("b", "2")) and got.extra() == {}
