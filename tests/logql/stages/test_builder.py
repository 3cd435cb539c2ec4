"""LabelsBuilder: Loki's precedence between stream labels, structured metadata and parsed labels."""

from __future__ import annotations

from logyard.logql.stages.builder import METADATA, PARSED, LabelsBuilder


def test_parsed_label_hides_metadata_and_stream_label_of_the_same_name():
    lbs = LabelsBuilder({"a": "stream"}, {"b": "meta"})
    lbs.set(PARSED, "a", "p1")
    lbs.set(PARSED, "b", "p2")
    assert lbs.labels() == {"a": "p1", "b": "p2"}


def test_metadata_never_overrides_a_parsed_label():
    lbs = LabelsBuilder({})
    lbs.set(PARSED, "x", "parsed")
    lbs.set(METADATA, "x", "meta")
    assert lbs.get("x") == "parsed"


def test_metadata_named_like_a_stream_label_is_suffixed_on_entry():
    assert LabelsBuilder({"a": "s"}, {"a": "m"}).labels() == {"a": "s", "a_extracted": "m"}


def test_parser_collision_rule_covers_stream_labels_and_metadata():
    lbs = LabelsBuilder({"a": "s"}, {"m": "x"})
    assert [lbs.extracted_name(k) for k in ("a", "m", "z")] == ["a_extracted", "m_extracted", "z"]


def test_first_extracted_value_wins():
    lbs = LabelsBuilder({})
    lbs.set_parsed("k", "1")
    lbs.set_parsed("k", "2")
    assert lbs.labels() == {"k": "1"}


def test_deleted_stream_label_is_absent_and_error_labels_are_appended():
    lbs = LabelsBuilder({"a": "1", "b": "2"})
    lbs.delete("a")
    lbs.set_error("JSONParserErr", "bad")
    assert lbs.get("a") is None
    assert lbs.labels() == {"b": "2", "__error__": "JSONParserErr", "__error_details__": "bad"}
