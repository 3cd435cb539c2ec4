"""line_format / label_format against Loki's answers (pl-*format* cases) and Loki's rules."""

from __future__ import annotations

import json

import pytest

from logyard.errors import BadRequestError
from logyard.logql.stages.builder import LabelsBuilder
from logyard.logql.stages.format import LabelFmt, LabelsFormatter, LineFormatter
from logyard.logql.stages.json import JSONParser
from logyard.logql.stages.logfmt import LogfmtParser
from logyard.logql.stages.pipeline import run_stages

from . import corpus
from .casecheck import check_case

GRAFANA = {"compose_service": "grafana", "stream": "stdout"}

CASES = {
    "pl-line-format": ({"compose_service": "prometheus", "stream": "stdout"},
                       lambda: [LogfmtParser(), LineFormatter("{{.level}} {{.msg}}")]),
    "pl-line-format-default": (GRAFANA, lambda: [
        LogfmtParser(), LineFormatter('{{ default "anonymous" .uname }}:{{.path}}')]),
    "pl-line-format-funcs": (GRAFANA, lambda: [
        LogfmtParser(), LineFormatter('{{ .method | ToUpper }} {{ printf "%5s" .status }} {{ .path }}')]),
    "pl-line-format-regex": ({"compose_service": "nginx", "stream": "stderr"}, lambda: [
        LineFormatter('{{ regexReplaceAll "[0-9]+" __line__ "N" }}')]),
    "pl-line-format-timestamp": ({"compose_service": "watchtower"}, lambda: [
        LineFormatter('{{ __timestamp__ | date "15:04:05" }} {{ __line__ | trunc 20 }}')]),
    "pl-label-format": (GRAFANA, lambda: [LogfmtParser(), LabelsFormatter([
        LabelFmt("lvl", "level", True), LabelFmt("svc", "{{.compose_service}}-{{.stream}}", False)])]),
    "pl-label-format-sm": ({"compose_service": "open-webui", "stream": "stdout"}, lambda: [
        JSONParser(), LabelsFormatter([LabelFmt("short", "{{ trunc 8 .trace_id }}", False)]),
        LineFormatter("{{.short}} {{.msg}}")]),
}


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_format_stage_reproduces_loki_answer(case_id):
    matchers, make = CASES[case_id]
    check_case(case_id, matchers, make())


def test_bad_line_template_is_worded_as_loki():
    expected = corpus.case("e-template")["response"]["body"]
    with pytest.raises(BadRequestError) as exc:
        LineFormatter("{{.foo")
    # the parser adds "parse error : stage '| line_format …' : " in front
    assert expected.rstrip("\n").endswith(": " + str(exc.value))


def _run(stages, line="x", stream=None, meta=None, ts=0):
    return run_stages(stages, ts, line, stream or {"app": "a"}, meta)


def test_line_format_simple_field_copies_value_or_empties_line():
    assert _run([LineFormatter("{{.app}}")]) == ("a", {"app": "a"})
    assert _run([LineFormatter("{{.missing}}")]) == ("", {"app": "a"})


def test_line_format_execution_error_keeps_line_and_sets_template_error():
    line, labels = _run([LineFormatter("{{ div 1 0 }}")], line="orig")
    assert line == "orig"
    assert labels["__error__"] == "TemplateFormatErr"
    assert labels["__error_details__"] == (
        'template: line:1:3: executing "line" at <div 1 0>: error calling div: '
        "runtime error: integer divide by zero")


@pytest.mark.parametrize(
    "formats, expected",
    [
        ([LabelFmt("b", "app", True)], {"b": "a"}),  # rename removes the source
        ([LabelFmt("app", "app", True)], {}),  # Loki quirk: a=a deletes a
        ([LabelFmt("b", "nope", True)], {"app": "a"}),  # missing source: nothing
        ([LabelFmt("b", "{{.app}}-x", False)], {"app": "a", "b": "a-x"}),
        # quirk: the second template still sees the labels from before the first one ran
        ([LabelFmt("b", "1", False), LabelFmt("c", "{{.b}}", False)], {"app": "a", "b": "1", "c": ""}),
    ],
)
def test_label_format(formats, expected):
    assert _run([LabelsFormatter(formats)])[1] == expected


@pytest.mark.parametrize(
    "formats, message",
    [
        ([LabelFmt("__error__", "x", True)], "__error__ cannot be formatted"),
        ([LabelFmt("a", "x", True), LabelFmt("a", "y", True)],
         "multiple label name 'a' not allowed in a single format operation"),
        ([LabelFmt("a", "{{ nope }}", False)],
         "invalid template for label 'a': template: label:1: function \"nope\" not defined"),
    ],
)
def test_label_format_rejects(formats, message):
    with pytest.raises(BadRequestError) as exc:
        LabelsFormatter(formats)
    assert str(exc.value) == message


def test_label_format_sees_structured_metadata():
    lbs = LabelsBuilder({"app": "a"}, {"trace_id": "0123456789abcdef"})
    LabelsFormatter([LabelFmt("short", "{{ trunc 4 .trace_id }}", False)]).process(0, "x", lbs)
    assert lbs.labels()["short"] == "0123"


def test_json_line_format_round_trip_of_nested_fields():
    line = json.dumps({"a": {"b": 1.50}, "msg": "hi"})
    out = _run([JSONParser(), LineFormatter("{{.a_b}} {{.msg}}")], line=line)
    assert out is not None and out[0] == "1.5 hi"
