"""`sum by (x) (… | logfmt …)`, `| json` and `| regexp` grouped from a scan of the line column
(parsed_columns.py): the C scan gives each hinted name the value the parser stage gives it,
whatever the line, or declines the row; and metric queries answer exactly as the per-row walk
does, with stream labels and metadata of the grouped names, empty values, pipeline errors in
metadata or from the parser, and lines the scan declines."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logyard.gocompat.text import GO_SPACE
from logyard.labels import LabelSet
import json
import re

from logyard.logql import _parsed
from logyard.logql.engine import Engine
from logyard.logql.parsed_columns import ParsedGroups
from logyard.logql.metric import samples
from logyard.logql.stages import JSONParser, LabelsBuilder, LogfmtParser
from logyard.logql.stages.builder import PARSED, ParserHints
from logyard.logql.stages.jsonscan import MALFORMED_OBJECT
from tests.support.line_match import kept

NAMES = ("level", "x_y", "_1a", "msg")
# Pieces of lines: keys that sanitize to the names (and to other names), values bare, quoted,
# escaped, empty, broken quotes, stray `=`, blanks, non-ASCII keys and values, U+FFFD, \u escapes.
PIECES = ["level", "x-y", "x.y", "1a", "_1a", "msg", "lvl", "=", "==", " ", "  ", "\t", '"', '""', '"a b"',
          '"a\\"b"', '"\\\\"', '"\\u00e9"', '"\\q"', "\\", "info", "error", "é", "é=1", "lével", "\ufffd",
          "a=\ufffd", "\u00a0", "\u3000", "\u2029", "\u200b", "0", "9x", "'", "x\"y", "ms\u00e9g", "x\u00a0y"]


def _dunder_key(line: str) -> bool:
    """A key whose first two characters (after Unicode spaces) are no ASCII letter or digit: it may
    be sanitized to a `__` name, which the scan leaves to the stage."""
    def word(ch: str) -> bool:
        return ch.isascii() and ch.isalnum()

    keys = (k.lstrip(GO_SPACE) for k in re.findall(r'(?:^|[\x00-\x20])([^\x00-\x20="]+)=', line))
    return any(len(k) >= 2 and not word(k[0]) and not word(k[1]) for k in keys)


def c_values(lines: list[str], scan=_parsed.logfmt_values, names=NAMES) -> tuple[list[bool], list[dict[str, str]]]:
    data = [s.encode() for s in lines]
    off = np.concatenate(([0], np.cumsum([len(b) for b in data]))).astype(np.int64)
    states, outs = scan(off, b"".join(data), tuple(n.encode() for n in names))
    declined = list(states)  # 0 scanned, 1 declined, 2 not a JSON object
    found: list[dict[str, str]] = [{} for _ in lines]
    for name, (o, d, present) in zip(names, outs):
        at = np.frombuffer(o, dtype=np.int64)
        for i in range(len(lines)):
            if present[i]:
                found[i][name] = d[at[i]:at[i + 1]].decode()
    return declined, found


def stage_values(line: str, stage=LogfmtParser, names=NAMES) -> dict[str, str]:
    return dict(stage_builder(line, stage, names).add[PARSED])


def stage_builder(line: str, stage=LogfmtParser, names=NAMES) -> LabelsBuilder:
    lbs = LabelsBuilder({}, None, ParserHints(required=frozenset(names)))
    stage().process(0, line, lbs)
    return lbs


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(st.sampled_from(PIECES), max_size=12).map("".join), min_size=1, max_size=20))
def test_the_c_scan_gives_each_name_what_the_logfmt_stage_gives_it_or_declines_the_row(lines):
    states, found = c_values(lines)
    for line, state, got in zip(lines, states, found):
        if state == 0:
            assert got == stage_values(line), line
        elif state == 2 or ("\ufffd" not in line and "\\u" not in line and not _dunder_key(line)):
            pytest.fail(f"a line without U+FFFD or a \\u escape was declined (or said not JSON): {line!r}")


PATTERNS = ['<k>=<v> <_>', 'level=<v>', '<a> <_>=<b>', '<_>"<x>"', '<a>=<b>=<c>', '<_> <k>', 'x<a>y<b>',
            '<_>é<e> <_>', '[<ts>] <level>: <_>']


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PATTERNS), st.lists(st.lists(st.sampled_from(PIECES + ["[", "]", ": ", "x", "y"]),
                                                    max_size=10).map("".join), min_size=1, max_size=20))
def test_the_c_matcher_captures_what_the_pattern_stage_captures(pattern, lines):
    from logyard.logql import _pattern
    from logyard.logql.stages import PatternParser
    from logyard.logql.stages.pattern import Capture, matcher_shape

    parser = PatternParser(pattern)
    captures = [c.name for c in parser.nodes if isinstance(c, Capture)]
    data = [line.encode() for line in lines]
    off = np.concatenate(([0], np.cumsum([len(b) for b in data]))).astype(np.int64)
    wanted = tuple(k for k, name in enumerate(captures) if name != "_")
    reached, outs = _pattern.captures(off, b"".join(data), *matcher_shape(parser.nodes), wanted)
    for i, line in enumerate(lines):
        got = {}
        for k, (o, d) in zip(wanted, outs):
            at = np.frombuffer(o, dtype=np.int64)
            if reached[i] > k:
                got[captures[k]] = d[at[i]:at[i + 1]].decode()
            else:
                assert at[i] == at[i + 1]
        assert got == dict(zip(parser.names, parser.matches(line))), (pattern, line)


def test_declined_rows_are_the_ones_the_stage_reads_differently():
    lines = ['level=a\ufffd', 'level="\\u0041"', 'lével=x \u00a0level=y', 'x=\xff', 'level=ok é=1', '\u3000msg\u2000=m']
    states, found = c_values(lines)
    assert states == [1, 1, 0, 0, 0, 0]
    assert found[2] == {"level": "y"} and found[4] == {"level": "ok"} and found[5] == {"msg": "m"}



JSON_NAMES = ("level", "a_b", "_1x", "req_status", "msg")
_KEYS = st.sampled_from(["level", "a", "b", "a_b", "a-b", "1x", "req", "status", "msg", "lvl", "__x", " level", "",
                         "é", 'q"', "a\\b"])
class Raw(str):
    """JSON text written into the line as it is (escapes a test wants spelled a certain way)."""


_SCALARS = st.one_of(st.sampled_from(["error", "", 'a"b', "é", "\t", Raw(r'"\u00e9"'), Raw(r'"\ud83d\ude00"'),
                                      Raw(r'"\ud83d"'), Raw(r'"\ufffd"'), Raw(r'"x\u0000y"'), Raw(r'"\/\b\f\n\r\t"'),
                                      Raw('"\ufffd"'), Raw("1E+2"), Raw("-0.0e-1"), Raw('"a\x01b"'), Raw("01"),
                                      Raw("1."), Raw("NaN")]),
                     st.integers(-10**20, 10**20), st.floats(allow_nan=False, allow_infinity=False), st.booleans(),
                     st.none())
_JSON = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                        st.lists(st.tuples(_KEYS, inner), max_size=4)), max_leaves=12)


def _dump(value) -> str:
    """JSON text of a generated value; a list of (key, value) pairs is an object, duplicates kept."""
    if isinstance(value, list) and value and all(isinstance(x, tuple) for x in value):
        return "{" + ", ".join(f"{json.dumps(k)}:{_dump(v)}" for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_dump(v) for v in value) + "]"
    return value if isinstance(value, Raw) else json.dumps(value, ensure_ascii=False)


_JSON_LINES = st.one_of(
    st.lists(st.tuples(_KEYS, _JSON), max_size=5).map(lambda pairs: _dump(pairs) if pairs else "{}"),
    st.lists(st.sampled_from(['{', '}', '"level"', ':', '"x"', ',', '1', ' ', '[', ']', 'tru', 'null', '01', '1.',
                              '-', 'NaN', '"\\u12"', '{"level":"e"}', 'level=x', '\t', '\v', '\ufeff']),
                 max_size=10).map("".join),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_JSON_LINES, min_size=1, max_size=20))
def test_the_c_scan_gives_each_name_what_the_json_stage_gives_it_or_declines_the_row(lines):
    states, found = c_values(lines, _parsed.json_values, JSON_NAMES)
    for line, state, got in zip(lines, states, found):
        if state == 0:
            assert got == stage_values(line, JSONParser, JSON_NAMES), line
        elif state == 2:  # no JSON object: the stage's error, and no label
            lbs = stage_builder(line, JSONParser, JSON_NAMES)
            assert (lbs.err, lbs.err_details, dict(lbs.add[PARSED]), got) == ("JSONParserErr", MALFORMED_OBJECT, {}, {})


def test_plain_json_objects_are_not_declined():
    lines = ['{"level":"error","req":{"status":500,"ok":true},"a":null,"tags":[{"level":"x"}],"msg":""}',
             ' {"1x": 1.5e3, "a": {"b": "c\\"d"}, "level": "\\u00e9", "level": "second"} ',
             '{"a_b":"top","a":{"b":"nested"}}']
    states, found = c_values(lines, _parsed.json_values, JSON_NAMES)
    assert states == [0, 0, 0]
    assert found == [{"level": "error", "req_status": "500", "msg": ""}, {"_1x": "1.5e3", "a_b": 'c"d', "level": "é"},
                     {"a_b": "top"}]
    assert [stage_values(line, JSONParser, JSON_NAMES) for line in lines] == found

SEC = 10**9
STREAMS = {
    1: LabelSet({"app": "web"}.items()),
    2: LabelSet({"app": "db", "level": "warn"}.items()),  # the parsed level becomes level_extracted
    3: LabelSet({"app": "x", "level": ""}.items()),        # an empty stream label reads as absent
}
METAS = ["", '{"level":"debug"}', '{"trace_id":"t1"}', '{"msg":"from meta"}', '{"level":"","trace_id":"t2"}']
LINES = ['level=error msg="disk full"', 'level=info', 'msg=hello level=', 'level="" level=warn', 'lvl=error',
         'level="a b" x-y=1', 'x.y=2 x_y=3', 'level=5 x_y=7 msg=2s', '1a=one', 'not logfmt at all', '', 'level="\\u0045RR"',
         'level=\ufffd', 'lével=1 level=e', 'msg="a\\"b" level=fatal', 'level=error level=info', 'level="x\\qy"',
         'level="unterminated', 'level=er"ror msg=m']


JSON_LINES = ['{"level":"error","msg":"disk full"}', '{"level":"info","req":{"status":200}}', '{"msg":"no level"}',
              '{"level":"","level":"warn"}', '{"req":{"status":500,"level":"nested"},"level":"error"}',
              '{"level":"\\u00e9"}', '{"level":"\\ud83d\\ude00"}', 'not json', '{"level": "x", broken',
              '{"app":"from line","level":"debug"}', '{"trace_id":"t1","level":"fatal"}', '[1, 2]', '{"level":1.50}',
              '{"level":true}', '{"level":null,"msg":"m"}', '{"tags":[{"level":"in array"}],"level":"error"}',
              ' {"level" : "spaced"} ', '{"__error__":"from line","level":"error"}']


class RandomStore:
    """Three streams of random logfmt-ish lines and metadata, read as storage hands them over."""

    window_ns = 0

    def __init__(self, seed: int, n: int = 2000, error_meta: bool = False, lines: list[str] = LINES,
                 metas: list[str] = METAS) -> None:
        rng = np.random.default_rng(seed)
        metas = metas + (['{"__error__":"SomeErr","trace_id":"t9"}'] if error_meta else [])
        self.data = {
            "stream": pa.array(rng.integers(1, 4, n).astype(np.int64)),
            "ts": pa.array(np.sort(rng.integers(0, 600, n)).astype(np.int64) * SEC),
            "line": pa.array([lines[int(i)] for i in rng.integers(0, len(lines), n)], pa.large_string()),
            "meta": pa.array([metas[int(i)] for i in rng.integers(0, len(metas), n)]).dictionary_encode(),
        }
        self.data["len"] = pa.compute.binary_length(self.data["line"]).cast(pa.int32())

    def streams(self, tenant, matchers, start, end):
        return STREAMS

    def read(self, tenant, ids, start, end, *, direction, columns, line_contains=(), first=None, line_match=None):
        table = pa.table({c: self.data[c] for c in columns})
        for a in range(0, table.num_rows, 700):  # a few windows
            part = table.slice(a, 700)
            yield kept(part, part.column("line").to_pylist(), line_match)


def answer(store, query: str):
    try:
        data = Engine(store).query_range("t", query, 0, 600 * SEC, 60 * SEC, None, 100, "forward")
    except Exception as e:  # noqa: BLE001 - the error is part of the answer compared
        return type(e).__name__, str(e)
    return [(r["metric"], r["values"]) for r in data["result"]]


QUERIES = [
    'sum by (level) (count_over_time({app=~".+"} | logfmt [1m]))',
    'sum by (level, app) (count_over_time({app=~".+"} | logfmt [2m]))',
    'sum by (msg, level) (bytes_over_time({app=~".+"} | logfmt [1m]))',
    'sum by (x_y) (rate({app=~".+"} | logfmt [1m]))',
    'sum by (_1a, trace_id) (count_over_time({app=~".+"} | logfmt [5m]))',
    'sum by (level) (count_over_time({app=~".+"} |= "level" | logfmt [1m]))',
    'sum by (app) (count_over_time({app=~".+"} | logfmt [1m]))',
    'topk(2, sum by (level) (count_over_time({app="db"} | logfmt [3m])))',
    'sum by (app) (count_over_time({app=~".+"} | logfmt | level=~"error|warn" [1m]))',
    'sum by (level) (count_over_time({app=~".+"} | logfmt | level!="" | msg="" or app="db" [1m]))',
    'sum by (level) (count_over_time({app=~".+"} | logfmt | level="error" [1m]))',
    'sum by (level) (count_over_time({app=~".+"} | logfmt | trace_id="t1" [1m]))',
    'sum by (level) (count_over_time({app=~".+"} | logfmt | x_y >= 2 [1m]))',
    'sum by (app) (count_over_time({app=~".+"} | logfmt | x_y > 1 or level="info" [1m]))',
    'sum by (level) (count_over_time({app=~".+"} | logfmt | msg > 1s [1m]))',
    'sum by (app) (count_over_time({app=~".+"} | logfmt | __error__="" | level!="" [1m]))',
    'sum by (app) (sum_over_time({app=~".+"} | logfmt | unwrap x_y | __error__="" [1m]))',
    'quantile_over_time(0.5, {app=~".+"} | logfmt | unwrap x_y [2m]) by (level)',
    'max_over_time({app=~".+"} | logfmt | unwrap x_y | x_y > 2 [1m]) by (app)',
    'sum by (app) (sum_over_time({app=~".+"} | logfmt | unwrap level | __error__="" [1m]))',
    'sum by (app) (sum_over_time({app=~".+"} | logfmt | unwrap duration(msg) | __error__="" [1m]))',
    'avg_over_time({app=~".+"} | logfmt | unwrap level [1m]) by (app)',
    'sum by (lvl) (count_over_time({app=~".+"} | regexp `level=(?P<lvl>[a-z]+)` [1m]))',
    'sum by (v, w) (count_over_time({app=~".+"} | regexp `(?P<v>x)|(?P<w>l)` [1m]))',
    'sum by (level, app) (count_over_time({app=~".+"} | regexp `(?P<level>e[a-z]+)` [1m]))',
    'sum by (app) (sum_over_time({app=~".+"} | regexp `x_y=(?P<n>[0-9]+)` | unwrap n [1m]))',
    'sum by (d) (count_over_time({app=~".+"} | regexp `(?P<d>[0-9])(?P<d2>[0-9]?)` | d2="" [1m]))',
    'sum by (k, v) (count_over_time({app=~".+"} | pattern "<k>=<v> <_>" [1m]))',
    'sum by (v) (count_over_time({app=~".+"} | pattern "level=<v>" [1m]))',
    'sum by (a, b) (count_over_time({app=~".+"} | pattern "<a> <_>=<b>" | b!="" [1m]))',
    'sum by (level, app) (count_over_time({app=~".+"} | pattern "<level>=<_> " [2m]))',
    'sum by (x) (count_over_time({app=~".+"} | pattern "<_>\\"<x>\\"" [1m]))',
    'sum by (app) (sum_over_time({app=~".+"} | pattern "<_> x_y=<n>" | unwrap n | __error__="" [1m]))',
    'sum by (k, level) (count_over_time({app=~".+"} | pattern "<k>=<_>" | logfmt | k!="msg" [1m]))',
]


JSON_QUERIES = [
    'sum by (level) (count_over_time({app=~".+"} | json | __error__="" [1m]))',
    'sum by (req_status, app) (count_over_time({app=~".+"} | json | __error__="" [2m]))',
    'sum by (msg) (bytes_over_time({app=~".+"} | json | __error__="" | level="error" [1m]))',
    'sum by (level, trace_id) (rate({app=~".+"} | json | __error__="" [5m]))',
    'sum by (level, __error__) (count_over_time({app=~".+"} | json [1m]))',
    'sum by (level) (count_over_time({app=~".+"} | json [1m]))',
    'sum by (level) (count_over_time({app=~".+"} | json | __error__="" | req_status >= 500 [1m]))',
    'sum by (app) (count_over_time({app=~".+"} | json | __error__="" | level > 1 or level="error" [1m]))',
    'sum by (app) (count_over_time({app=~".+"} | json | __error__="" | level > 1 | __error__="" [1m]))',
    'quantile_over_time(0.9, {app=~".+"} | json | unwrap req_status | __error__="" [2m]) by (level)',
    'sum by (level) (sum_over_time({app=~".+"} | json | __error__="" | unwrap level | __error__="" [1m]))',
]


# Several parsers and drops (Logs Drilldown's `| json | logfmt | drop __error__, __error_details__`),
# over logfmt and JSON lines mixed: each parser sets only what an earlier one left unextracted.
MIXED_QUERIES = [
    'sum by (level) (count_over_time({app=~".+"} | json | logfmt | drop __error__, __error_details__ [1m]))',
    'sum(count_over_time({app=~".+"} | logfmt | drop __error__, __error_details__ [1m])) by (level)',
    'sum by (level, msg) (count_over_time({app=~".+"} | json | logfmt | drop __error__, __error_details__ '
    '| level!="" [1m]))',
    'sum by (x_y) (count_over_time({app=~".+"} | logfmt | json | drop __error__, __error_details__ [2m]))',
    'sum by (level) (count_over_time({app=~".+"} | json | drop __error__="JSONParserErr" [1m]))',
    'sum by (level) (count_over_time({app=~".+"} | json | drop __error__ | __error_details__="" [1m]))',
    'sum by (app, level) (count_over_time({app=~".+"} | logfmt | drop app, level="error" [1m]))',
    'sum by (level) (count_over_time({app=~".+"} | json | __error__="" | drop level=~"e.*" [1m]))',
    'sum by (lvl, level) (count_over_time({app=~".+"} | regexp `level=(?P<lvl>[a-z]+)` | json '
    '| drop __error__, __error_details__ [1m]))',
    'avg_over_time({app=~".+"} | json | logfmt | drop __error__, __error_details__ | unwrap x_y | __error__="" [1m]) '
    'by (level)',
    'sum by (level) (sum_over_time({app=~".+"} | logfmt | drop x_y="7" | unwrap x_y | __error__="" [1m]))',
    'sum by (level) (sum_over_time({app=~".+"} | json | logfmt | drop __error__, __error_details__ | unwrap x_y '
    '| __error__="" [1m]))',
    'max_over_time({app=~".+"} | logfmt | json | drop __error__, __error_details__ | unwrap x_y '
    '| __error__="" [1m]) by (app)',
    'avg_over_time({app=~".+"} | json | logfmt | drop __error__, __error_details__ | unwrap duration(x_y) '
    '| __error__="" [1m]) by ()',
    'sum by (level) (count_over_time({app=~".+"} | drop __error__, __error_details__ | level!="" [1m]))',
    'sum by (trace_id, app) (count_over_time({app=~".+"} | drop app | trace_id=~"t.*" [1m]))',
    'sum by (lvl) (count_over_time({app=~".+"} | logfmt | label_format lvl=level [1m]))',
    'sum by (level) (count_over_time({app=~".+"} | json | logfmt | label_format level=msg | drop __error__, '
    '__error_details__ [1m]))',
    'sum by (level, msg) (count_over_time({app=~".+"} | logfmt | label_format msg=level, level=app | msg!="" [1m]))',
    'sum by (app) (sum_over_time({app=~".+"} | logfmt | label_format n=x_y | unwrap n | __error__="" [1m]))',
    'sum by (level) (count_over_time({app=~".+"} | logfmt | keep level, app [1m]))',
    'sum by (level, app) (count_over_time({app=~".+"} | json | keep level="error" | drop __error__, __error_details__ '
    '[1m]))',
    'sum by (level) (sum_over_time({app=~".+"} | logfmt | keep level, x_y="2" | unwrap x_y | __error__="" [1m]))',
    'sum by (level) (count_over_time({app=~".+"} | logfmt | json [1m]))',
]
# Lines where both parsers find a name: the first to find it sets it.
BOTH_LINES = ['{"x_y":5,"level":"a"}', '{"x_y":"","msg":"m"}', '{"x_y":"7s"}', 'x_y=4 level=b', 'x_y= x_y=6',
              '{"level":"c"} x_y=9', '{"req":{"status":200}} x_y=1', 'x_y=3s {"x_y":2}', '{"a":"x x_y=2 ","x_y":3}',
              '{"a":"x_y=4 b","x_y":""}']

# Pipeline errors no filter drops: lines that are no JSON, values a numeric filter cannot convert.
FAILING = {JSON_QUERIES[4], JSON_QUERIES[5], JSON_QUERIES[7], QUERIES[14], QUERIES[21], MIXED_QUERIES[-1]}


def grouped_answer(store, query: str, monkeypatch):
    """The query's answer through the columnar grouping (checked to be taken), after checking that
    the per-row walk gives the same."""
    calls = []
    group = ParsedGroups.group
    monkeypatch.setattr(ParsedGroups, "group", lambda self, *a: calls.append(1) or group(self, *a))
    columnar = answer(store, query)
    assert calls, "the columnar grouping was not used"
    monkeypatch.setattr(samples, "COLUMNAR_PARSERS", False)
    assert columnar == answer(store, query)
    return columnar


@pytest.mark.parametrize("query", QUERIES + JSON_QUERIES + MIXED_QUERIES)
@pytest.mark.parametrize("seed", [1, 2])
def test_grouping_by_parsed_labels_answers_as_the_per_row_walk(query, seed, monkeypatch):
    lines = LINES + JSON_LINES + BOTH_LINES if query in MIXED_QUERIES else JSON_LINES if "json" in query else LINES
    columnar = grouped_answer(RandomStore(seed, lines=lines), query, monkeypatch)
    if query in FAILING:
        assert columnar[0] == "BadRequestError" and "pipeline error" in columnar[1], columnar
    else:
        assert isinstance(columnar, list) and columnar, columnar


CLEAN_LINES = ["level=a", "level=b x_y=1", "msg=m"]  # none declined by the scan: errors come from metadata only


def test_a_pipeline_error_in_metadata_fails_the_query_as_the_per_row_walk_does(monkeypatch):
    store = RandomStore(3, error_meta=True, lines=CLEAN_LINES)
    query = 'sum by (level) (count_over_time({app=~".+"} | logfmt [1m]))'
    columnar = answer(store, query)
    monkeypatch.setattr(samples, "COLUMNAR_PARSERS", False)
    assert columnar == answer(store, query)
    assert columnar[0] == "BadRequestError" and "SomeErr" in columnar[1] and "t9" in columnar[1]


def test_a_keep_that_leaves_out_the_unwrapped_label_leaves_no_sample(monkeypatch):
    query = 'sum by (level) (sum_over_time({app=~".+"} | logfmt | keep level | unwrap x_y [1m]))'
    assert grouped_answer(RandomStore(2), query, monkeypatch) == []


def test_a_pipeline_error_in_metadata_that_a_drop_clears_is_grouped_from_columns(monkeypatch):
    store = RandomStore(3, error_meta=True, lines=CLEAN_LINES)
    query = 'sum by (trace_id) (count_over_time({app=~".+"} | drop __error__ | trace_id!="" [1m]))'
    columnar = grouped_answer(store, query, monkeypatch)
    assert {m["trace_id"] for m, _ in columnar} == {"t1", "t2", "t9"}


def test_a_parser_error_no_filter_drops_names_every_label_of_its_row_as_the_per_row_walk_does(monkeypatch):
    store = RandomStore(4, lines=['not json', '{"level":"x"}'], metas=['{"trace_id":"t7"}'])
    query = 'sum by (level) (count_over_time({app=~".+"} | json [1m]))'
    columnar = answer(store, query)
    monkeypatch.setattr(samples, "COLUMNAR_PARSERS", False)
    assert columnar == answer(store, query)
    assert columnar[0] == "BadRequestError" and "JSONParserErr" in columnar[1] and "t7" in columnar[1]


@pytest.mark.parametrize("stages, required", [
    ("| logfmt --strict", {"level"}),
    ("| logfmt --keep-empty", {"level"}),
    ('| logfmt level="lvl"', {"level"}),
    ("| logfmt | unpack", {"level"}),
    ("| logfmt | json level=\"a.b\"", {"level"}),
    ("| logfmt | line_format \"x\"", {"level"}),
    ('| logfmt | label_format a="{{.level}}"', {"level", "a"}),
    ('| json level="a.b"', {"level"}),
    ("| json", {"__x"}),
    ("| json | unpack", {"level"}),
    ("| logfmt", set()),
    ("| logfmt", {"level_extracted"}),
    ("| logfmt", {"__x"}),
    ("| regexp `(?P<a>l)(e)`", {"a"}),
])
def test_only_a_plain_parser_with_hinted_names_is_grouped_from_columns(stages, required):
    from logyard.logql.pipeline import compile_pipeline
    from logyard.logql.syntax.parser import parse

    compiled = compile_pipeline(parse('{a="b"} ' + stages).pipeline, {})
    assert ParsedGroups.of(compiled.row_stages, frozenset(required)) is None


def test_the_deadline_is_checked_while_the_combinations_are_made(monkeypatch):
    from logyard.logql import parsed_columns
    from logyard.logql.rows import Rows

    monkeypatch.setattr(parsed_columns, "COMBINATIONS_PER_CHECK", 10)
    n = 100
    rows = Rows(ts=np.arange(n, dtype=np.int64), stream=np.ones(n, dtype=np.int64),
                line=pa.array([f"level=l{i}" for i in range(n)], pa.large_string()), meta=pa.array([""] * n))
    groups = ParsedGroups.of([LogfmtParser()], frozenset({"level"}))
    calls = []
    grouped = groups.group(rows, STREAMS, ParserHints(required=frozenset({"level"})), lambda: calls.append(1))
    assert len(grouped.builders) == n and len(calls) == n // 10


def test_combinations_without_a_sample_make_no_series(monkeypatch):
    """Lines that are no JSON give no unwrapped value: their errored combination must not become a
    series (it would count toward the series limit and turn off its early check)."""
    store = RandomStore(5, lines=['not json', '{"level":"a","req":{"status":200}}', '{"level":"b"}'])
    query = 'quantile_over_time(0.9, {app=~".+"} | json | unwrap req_status [2m]) by (level)'
    made = []
    real = samples._grouped_labels
    monkeypatch.setattr(samples, "_grouped_labels", lambda lbs, grouping: made.append(lbs) or real(lbs, grouping))
    columnar = answer(store, query)
    assert not any(lbs.has_err() for lbs in made)
    monkeypatch.setattr(samples, "COLUMNAR_PARSERS", False)
    assert columnar == answer(store, query) and columnar
