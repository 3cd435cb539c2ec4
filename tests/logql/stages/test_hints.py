"""Parser hints in metric queries: what Loki's parsers skip when the query cannot observe it."""

from __future__ import annotations

import pytest

from logyard.logql.stages.builder import ParserHints
from logyard.logql.stages.format import LabelFmt, LabelsFormatter, LineFormatter
from logyard.logql.stages.json import JSONParser
from logyard.logql.stages.label_filter import AndLabelFilter, NumericLabelFilter, StringLabelFilter
from logyard.logql.stages.logfmt import LogfmtParser
from logyard.logql.stages.pipeline import required_label_names, run_stages
from logyard.logql.stages.unpack import UnpackParser


def labels(stages, line, hints):
    out = run_stages(stages, 0, line, {"app": "a"}, None, hints)
    assert out is not None
    return out[1]


def test_no_labels_means_parsers_do_not_parse_so_no_error():
    # sum(count_over_time({…} | json [5m])): Loki never reports the JSON error
    assert labels([JSONParser()], "not json", ParserHints.for_metric([], None, False, True)) == {"app": "a"}


def test_parsing_stops_once_required_labels_are_found():
    hints = ParserHints.for_metric(["status"], ["status"], False, False)
    assert labels([JSONParser()], '{"status":500,"x":1,', hints) == {"app": "a", "status": "500"}
    assert labels([LogfmtParser(strict=True)], 'x=1 status=500 "bad', hints) == {"app": "a", "status": "500"}


def test_only_required_labels_are_extracted():
    hints = ParserHints.for_metric([], ["level"], False, False)
    assert labels([JSONParser()], '{"msg":"m","nested":{"level":"x"},"level":"info"}', hints) == {
        "app": "a", "level": "info"}


def test_unpack_leaves_the_line_alone_without_labels_to_extract():
    out = run_stages([UnpackParser()], 0, '{"_entry":"x"}', {"app": "a"}, None,
                     ParserHints.for_metric([], None, False, True))
    assert out == ('{"_entry":"x"}', {"app": "a"})


@pytest.mark.parametrize(
    "required, groups, without, no_labels, expected",
    [
        ([], None, False, True, ParserHints(no_labels=True)),
        (["s"], None, False, True, ParserHints(frozenset({"s"}))),
        (["s"], ["g"], True, False, ParserHints()),
        (["s"], [], False, False, ParserHints()),
        (["s"], ["g_extracted"], False, False, ParserHints(frozenset({"s", "g_extracted", "g"}))),
    ],
)
def test_for_metric(required, groups, without, no_labels, expected):
    assert ParserHints.for_metric(required, groups, without, no_labels) == expected


def test_grouping_by_error_preserves_parser_errors():
    hints = ParserHints.for_metric(["__error__"], ["__error__"], False, False)
    assert labels([JSONParser()], "x", hints)["__preserve_error__"] == "true"


def test_required_label_names_of_a_chain():
    stages = [JSONParser(), AndLabelFilter(NumericLabelFilter("s", ">", 1), StringLabelFilter("m", "=", "x")),
              LabelsFormatter([LabelFmt("a", "b", True), LabelFmt("c", "{{.d}}", False)]),
              LineFormatter("{{.e}} {{.s}}")]
    assert required_label_names(stages) == ["s", "m", "b", "d", "e"]
