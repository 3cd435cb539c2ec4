"""Any line through any parser, and any text as a template, fail only in the documented ways."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from logyard.errors import BadRequestError
from logyard.logql.stages import (
    Decolorizer,
    JSONExpressionParser,
    JSONParser,
    LogfmtParser,
    PatternParser,
    UnpackParser,
    run_stages,
)
from logyard.logql.stages.line_filter import LineFilter
from logyard.logql.template.execute import TemplateError, parse_template

LINE_CHARS = st.lists(st.sampled_from(list('{}[]":,=\\ \tab1.-eé\x1b\nut') + ["null", "true", "\\u00e9"]),
                      max_size=40).map("".join)
PARSERS = [LogfmtParser(), LogfmtParser(strict=True, keep_empty=True), JSONParser(),
           JSONExpressionParser({"x": "a.b[0]"}), UnpackParser(), PatternParser("<a> <b>"), Decolorizer()]


@settings(max_examples=300, deadline=None)
@given(LINE_CHARS)
def test_parsers_never_raise(line):
    for parser in PARSERS:
        out = run_stages([parser], 0, line, {"app": "a"}, {"m": "1"})
        assert out is not None
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in out[1].items())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list('{}()|$.-" abx1=:,') + ["{{", "}}", "if", "end", "else", "range", "len",
                                                               "printf", "$x", ":="]), max_size=30).map("".join))
def test_templates_fail_only_with_go_errors(text):
    try:
        tmpl = parse_template(text)
    except BadRequestError as exc:
        assert str(exc).startswith("template: line:")
        return
    try:
        out = tmpl.render({"a": "1", "b": "x"}, "line", 0)
    except TemplateError as exc:
        assert str(exc).startswith("template: line")
        return
    assert isinstance(out, str)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="ab. 0123456789:x", max_size=25), min_size=1, max_size=8))
def test_ip_filter_column_and_row_forms_agree(lines):
    import pyarrow as pa

    f = LineFilter("|=", ["10.0.0.0/8"], [True])
    assert f.mask(pa.array(lines)).tolist() == [f.test(x) for x in lines]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["<_>", "a", "b", " ", "ab", "[", "é"]), min_size=1, max_size=5).map("".join),
       st.lists(st.text(alphabet="ab [é\n", max_size=12), min_size=1, max_size=6))
def test_pattern_filter_column_form_agrees_with_lokis_leftmost_test(pattern, lines):
    import pyarrow as pa

    from logyard.errors import BadRequestError

    try:
        f = LineFilter("|>", [pattern])
    except BadRequestError:
        return  # consecutive captures
    assert f.mask(pa.array(lines)).tolist() == [f.test(x) for x in lines]
