"""`| logfmt` as Loki decodes it: strict / keep-empty, sanitized keys, collisions, parameters."""

from __future__ import annotations

import pytest

from logyard.errors import BadRequestError
from logyard.logql.stages.logfmt import LogfmtExpressionParser, LogfmtParser
from logyard.logql.stages.pipeline import run_stages

STREAM = {"app": "a", "level": "stream-level"}


def parsed(stage, line, stream=None, meta=None):
    out = run_stages([stage], 0, line, stream or {"app": "a"}, meta)
    assert out is not None
    labels = out[1]
    labels.pop("app")
    return labels


@pytest.mark.parametrize(
    "strict, keep_empty, line, expected",
    [
        (False, False, 'a=1 b="x y" c= d', {"a": "1", "b": "x y"}),
        (False, True, 'a=1 b="x y" c= d', {"a": "1", "b": "x y", "c": "", "d": ""}),
        (False, False, 'a=1 b"c=2 d=4', {"a": "1", "d": "4"}),  # non-strict skips the bad pair
        (True, False, 'a=1 b"c=2 d=4', {"a": "1", "__error__": "LogfmtParserErr",
                                        "__error_details__": "logfmt syntax error at pos 6 : unexpected '\"'"}),
        (True, False, 'a="xyz', {"__error__": "LogfmtParserErr",
                                 "__error_details__": "logfmt syntax error at pos 7 : unterminated quoted value"}),
        (True, False, "a=b=c", {"__error__": "LogfmtParserErr",
                                "__error_details__": "logfmt syntax error at pos 4 : unexpected '='"}),
        (False, False, 'msg="a \\"q\\" \\u00e9" x=1', {"msg": 'a "q" é', "x": "1"}),
        (False, False, "foo.bar=1 9x=2 a-b=3 é=4", {"foo_bar": "1", "_9x": "2", "a_b": "3", "_": "4"}),
        (False, False, "a=1 a=2", {"a": "1"}),  # the first value of a key wins
        (False, False, "app=x", {"app_extracted": "x"}),  # collides with a stream label
        (False, False, "  ", {}),
    ],
)
def test_logfmt(strict, keep_empty, line, expected):
    assert parsed(LogfmtParser(strict, keep_empty), line) == expected


def test_logfmt_key_colliding_with_structured_metadata_is_suffixed():
    assert parsed(LogfmtParser(), "trace_id=1", meta={"trace_id": "t"}) == {"trace_id": "t", "trace_id_extracted": "1"}


def test_logfmt_strict_keeps_labels_before_the_error_from_the_corpus_line():
    line = '[GIN] 2026/01/01 - 00:00:59 | 200 |     265.071ms |       127.0.0.1 | GET     "/api/ps"'
    assert parsed(LogfmtParser(strict=True), line) == {
        "__error__": "LogfmtParserErr", "__error_details__": "logfmt syntax error at pos 79 : unexpected '\"'"}


@pytest.mark.parametrize(
    "exprs, line, expected",
    [
        ({"lvl": "level", "d": "duration"}, "level=warn duration=1s x=2", {"lvl": "warn", "d": "1s"}),
        ({"lvl": "level"}, "x=2", {"lvl": ""}),  # a requested label always exists
        ({"lvl": "level"}, "lvl=direct level=warn", {"lvl": "warn"}),
        ({"app": "level"}, "level=warn", {"app_extracted": "warn"}),
    ],
)
def test_logfmt_parameters(exprs, line, expected):
    assert parsed(LogfmtExpressionParser(exprs), line) == expected


def test_logfmt_parameter_names_are_validated():
    with pytest.raises(BadRequestError, match="invalid extracted label name '1a'"):
        LogfmtExpressionParser({"1a": "x"})


@pytest.mark.parametrize(
    "expr, message",
    [("foo.bar", "cannot parse expression [foo.bar]: unexpected char ."),
     ("", "cannot parse expression []: syntax error: unexpected $end")],
)
def test_logfmt_parameter_expressions_use_lokis_grammar(expr, message):
    with pytest.raises(BadRequestError) as exc:
        LogfmtExpressionParser({"x": expr})
    assert str(exc.value) == message
