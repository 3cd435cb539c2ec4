"""`| json` and `| json a="path"` as Loki parses JSON (jsonparser's walk and error texts)."""

from __future__ import annotations

import pytest

from logyard.logql.stages.json import JSONExpressionParser, JSONParser
from logyard.logql.stages.pipeline import run_stages


def parsed(stage, line, meta=None):
    out = run_stages([stage], 0, line, {"app": "a"}, meta)
    assert out is not None
    labels = out[1]
    labels.pop("app")
    return labels


@pytest.mark.parametrize(
    "line, expected",
    [
        ('{"a":{"b":{"c":1}},"d":[1,2],"e":null,"f":true,"g":1.50,"h":"x\\u00e9","i":-2e3}',
         {"a_b_c": "1", "f": "true", "g": "1.50", "h": "xé", "i": "-2e3"}),
        ('{"1a":1,"a.b":2,"x y":3," ":4}', {"_1a": "1", "a_b": "2", "x_y": "3"}),
        ('{"a":1,"a":2}', {"a": "1"}),
        ('{"app":"x","n":{"app":"y"}}', {"app_extracted": "x", "n_app": "y"}),
        ('{"a":1,', {"a": "1", "__error__": "JSONParserErr",
                     "__error_details__": "Value is array, but can't find closing ']' symbol"}),
        ("hello", {"__error__": "JSONParserErr",
                   "__error_details__": "Value looks like object, but can't find closing '}' symbol"}),
        ('{"a":tru}', {"__error__": "JSONParserErr", "__error_details__": "Unknown value type"}),
        ('{"a":"x', {"__error__": "JSONParserErr",
                     "__error_details__": "Value is string, but can't find closing '\"' symbol"}),
        ("{}", {}),
    ],
)
def test_json(line, expected):
    assert parsed(JSONParser(), line) == expected


def test_json_key_colliding_with_structured_metadata_is_suffixed():
    assert parsed(JSONParser(), '{"trace_id":"x"}', meta={"trace_id": "t"}) == {
        "trace_id": "t", "trace_id_extracted": "x"}


LINE = '{"tags":["vision","x"],"r":{"c":{"ip":"::1"}},"o":{"k":1},"n":null,"s":"a\\"b"}'


@pytest.mark.parametrize(
    "exprs, line, expected",
    [
        ({"t": "tags[0]", "ip": "r.c.ip"}, LINE, {"t": "vision", "ip": "::1"}),
        ({"o": "o", "n": "n", "s": "s", "tags": "tags"}, LINE,
         {"o": '{"k":1}', "n": "", "s": 'a"b', "tags": '["vision","x"]'}),
        ({"m": "missing.deep", "t": "tags[5]"}, LINE, {"m": "", "t": ""}),
        ({"q": '["r"]["c"].ip'}, LINE, {"q": "::1"}),
        ({"x": "x"}, "not json", {"__error__": "JSONParserErr"}),  # returns before filling labels
        ({"app": "s"}, LINE, {"app_extracted": 'a"b'}),
    ],
)
def test_json_parameters(exprs, line, expected):
    assert parsed(JSONExpressionParser(exprs), line) == expected


@pytest.mark.parametrize(
    "line",
    [
        '{"a":{"b":{"c":1}},"d":[{"x":1}],"e":null,"f":false,"g":1.50,"h":"x\\u00e9\\n","i":-2E3}',
        '{"a":1,"a":2,"A":{"b":"\\ufffd"}," k ":{"":"v"},"9":{"9":9}}',
        '  {"app":"x","n":{"app":{"deep":"y"}}}  ',
        '{"s":"\\"quoted\\" \\\\ back \\/ slash","t":true}',
    ],
)
def test_fast_path_agrees_with_lokis_walk(line):
    from logyard.logql.stages.builder import LabelsBuilder

    fast = LabelsBuilder({"app": "a"})
    JSONParser().process(0, line, fast)
    slow = LabelsBuilder({"app": "a"})
    JSONParser()._walk(line.encode(), [], slow)
    assert fast.labels() == slow.labels()


@pytest.mark.parametrize(
    "expr, path",
    [("a.b", ["a", "b"]), ("tags[0]", ["tags", 0]), ('["r"]["c"].ip', ["r", "c", "ip"]), ('a["x.y"]', ["a", "x.y"])],
)
def test_json_path_expressions(expr, path):
    from logyard.logql.stages.json import parse_json_path

    assert parse_json_path(expr) == path


@pytest.mark.parametrize(
    "expr, detail",
    [("a-b", "unexpected char -"), ("tags[0.5]", "cannot use float as array index"),
     ("a..b", "syntax error: unexpected DOT"), ("", "syntax error: unexpected $end")],
)
def test_json_path_errors(expr, detail):
    from logyard.errors import BadRequestError
    from logyard.logql.stages.json import parse_json_path

    with pytest.raises(BadRequestError) as exc:
        parse_json_path(expr)
    assert str(exc.value) == f"cannot parse expression [{expr}]: {detail}"
