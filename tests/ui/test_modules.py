"""The explorer's pure modules, run in the browser: LogQL edits and completion context, time ranges,
field parsing and ANSI rendering. Each case is the module's answer for an input, checked here."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.ui]


@pytest.fixture
def call(page, corpus_server):
    page.goto(corpus_server.url + "/ready")  # any page of the origin can import the modules

    def call(module: str, fn: str, *args):
        return page.evaluate(f"async (args) => (await import('/ui/js/{module}.js')).{fn}(...args)", list(args))
    return call


@pytest.mark.parametrize("query, name, value, op, expected", [
    ("", "app", "web", "=", '{app="web"}'),
    ('{app="web"}', "env", "prod", "=", '{app="web", env="prod"}'),
    ('{app="web"} |= "}"', "env", 'a"b', "!=", '{app="web", env!="a\\"b"} |= "}"'),
    ('{}', "app", "x", "=", '{app="x"}'),
    ('sum(rate({app="a\\"}"}[5m]))', "env", "p", "=", 'sum(rate({app="a\\"}", env="p"}[5m]))'),
])
def test_add_matcher(call, query, name, value, op, expected):
    assert call("logql", "addMatcher", query, name, value, op) == expected


@pytest.mark.parametrize("query, parser, expected", [
    ('{app="web"}', "json", '{app="web"} | json | user="bob"'),
    ('{app="web"} | json', "json", '{app="web"} | json | user="bob"'),
    ('{app="web"} | logfmt ', "logfmt", '{app="web"} | logfmt | user="bob"'),
    ('{app="web"}', None, '{app="web"} | user="bob"'),
])
def test_add_field_filter(call, query, parser, expected):
    assert call("logql", "addFieldFilter", query, "user", "bob", "=", parser) == expected


@pytest.mark.parametrize("text, caret, expected", [
    ("{", 1, {"kind": "label", "prefix": "", "from": 1, "grouping": False}),
    ('{app="web", en', 14, {"kind": "label", "prefix": "en", "from": 12, "grouping": False}),
    ('{app="we', 8, {"kind": "value", "name": "app", "prefix": "we", "from": 6}),
    ('{app=~"we', 9, {"kind": "value", "name": "app", "prefix": "we", "from": 7}),
    ('{app="web"} | level="er', 23, {"kind": "value", "name": "level", "prefix": "er", "from": 21}),
    ("sum by (ap", 10, {"kind": "label", "prefix": "ap", "from": 8, "grouping": True}),
    ("sum by (app, en", 15, {"kind": "label", "prefix": "en", "from": 13, "grouping": True}),
    ("count_ov", 8, {"kind": "keyword", "prefix": "count_ov", "from": 0}),
    ('{app="web"} |= "err', 19, None),
    ('{app="web"}', 11, None),
])
def test_completion_context(call, text, caret, expected):
    assert call("logql", "completionContext", text, caret) == expected


@pytest.mark.parametrize("text, line, col, offset", [
    ("abc", 1, 1, 0), ("abc", 1, 4, 3), ("ab\ncd", 2, 2, 4), ("abc", 1, 99, 3),
])
def test_offset_of_lokis_line_and_column(call, text, line, col, offset):
    assert call("logql", "offsetOf", text, line, col) == offset


NOW = 1_767_229_200_000  # 2026-01-01T01:00:00Z


@pytest.mark.parametrize("text, ms", [
    ("now", NOW), ("now-15m", NOW - 900_000), ("now-1h30m", NOW - 5_400_000), ("now-7d", NOW - 7 * 86_400_000),
    ("2026-01-01T00:00:00Z", 1_767_225_600_000), ("1767225600000", 1_767_225_600_000), ("now-xyz", None), ("soon", None),
])
def test_resolve_time(call, text, ms):
    assert call("timerange", "resolveMs", text, NOW) == ms


@pytest.mark.parametrize("range_ms, step_ms", [
    (300_000, 2_000), (3_600_000, 30_000), (6 * 3_600_000, 300_000), (86_400_000, 600_000), (7 * 86_400_000, 7_200_000),
])
def test_histogram_steps_divide_the_relative_ranges(call, range_ms, step_ms):
    assert call("timerange", "histogramStepMs", range_ms) == step_ms
    assert range_ms % step_ms == 0


@pytest.mark.parametrize("line, expected", [
    ('{"level":"info","req":{"path":"/a","ms":3},"tags":["x"]}',
     {"parser": "json", "fields": [["level", "info"], ["req_path", "/a"], ["req_ms", "3"], ["tags", '["x"]']]}),
    ('level=warn msg="slow call" ms=812', {"parser": "logfmt", "fields": [["level", "warn"], ["msg", "slow call"], ["ms", "812"]]}),
    ("\x1b[32mINFO\x1b[0m a=1 b=2", {"parser": "logfmt", "fields": [["a", "1"], ["b", "2"]]}),
    ("plain text line", None),
])
def test_parse_fields(call, line, expected):
    assert call("fields", "parseFields", line) == expected


@pytest.mark.parametrize("line, html", [
    ("a < b", "a &lt; b"),
    ("\x1b[32mok\x1b[0m done", '<span style="color:#3a3">ok</span> done'),
    ("\x1b[1;31mbad\x1b[22m still", '<span style="color:#c33;font-weight:600">bad</span><span style="color:#c33"> still</span>'),
    ("\x1b[38;5;196mx", '<span style="color:rgb(255,0,0)">x</span>'),
    ("\x1b[2Kcleared", "cleared"),
])
def test_ansi_to_html(call, line, html):
    assert call("ansi", "ansiToHtml", line) == html


def test_state_round_trips_through_the_url(call, page):
    state = {"query": '{app="a&b"} |= "x y"', "from": "now-6h", "to": "now", "limit": 250, "direction": "forward",
             "refresh": "30s", "hist": "service_name", "view": "explore"}
    url = call("state", "stateUrl", state)
    assert page.evaluate(f"async () => (await import('/ui/js/state.js')).readState({json.dumps(url.split('?', 1)[1])})") == state
