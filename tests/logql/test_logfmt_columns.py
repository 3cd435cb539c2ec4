"""`sum by (x) (… | logfmt …)` grouped from a C scan of the line column (logfmt_columns.py): the C
scan gives each hinted name the value the logfmt stage gives it, whatever the line, or declines the
row; and metric queries answer exactly as the per-row walk does, with stream labels and metadata
of the grouped names, empty values, pipeline errors in metadata and lines the scan declines."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logyard.labels import LabelSet
from logyard.logql import _logfmt
from logyard.logql.engine import Engine
from logyard.logql.logfmt_columns import LogfmtGroups
from logyard.logql.metric import samples
from logyard.logql.stages import LabelsBuilder, LogfmtParser
from logyard.logql.stages.builder import PARSED, ParserHints
from tests.support.line_match import kept

NAMES = ("level", "x_y", "_1a", "msg")
# Pieces of lines: keys that sanitize to the names (and to other names), values bare, quoted,
# escaped, empty, broken quotes, stray `=`, blanks, non-ASCII keys and values, U+FFFD, \u escapes.
PIECES = ["level", "x-y", "x.y", "1a", "_1a", "msg", "lvl", "=", "==", " ", "  ", "\t", '"', '""', '"a b"',
          '"a\\"b"', '"\\\\"', '"\\u00e9"', '"\\q"', "\\", "info", "error", "é", "é=1", "lével", "\ufffd",
          "a=\ufffd", "\u00a0", "\u3000", "\u2029", "\u200b", "0", "9x", "'", "x\"y", "ms\u00e9g", "x\u00a0y"]


def c_values(lines: list[str]) -> tuple[list[bool], list[dict[str, str]]]:
    data = [s.encode() for s in lines]
    off = np.concatenate(([0], np.cumsum([len(b) for b in data]))).astype(np.int64)
    declined, outs = _logfmt.first_values(off, b"".join(data), tuple(n.encode() for n in NAMES))
    found: list[dict[str, str]] = [{} for _ in lines]
    for name, (o, d, present) in zip(NAMES, outs):
        at = np.frombuffer(o, dtype=np.int64)
        for i in range(len(lines)):
            if present[i]:
                found[i][name] = d[at[i]:at[i + 1]].decode()
    return [bool(x) for x in declined], found


def stage_values(line: str) -> dict[str, str]:
    lbs = LabelsBuilder({}, None, ParserHints(required=frozenset(NAMES)))
    LogfmtParser().process(0, line, lbs)
    return dict(lbs.add[PARSED])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(st.sampled_from(PIECES), max_size=12).map("".join), min_size=1, max_size=20))
def test_the_c_scan_gives_each_name_what_the_logfmt_stage_gives_it_or_declines_the_row(lines):
    declined, found = c_values(lines)
    for line, no, got in zip(lines, declined, found):
        if not no:
            assert got == stage_values(line), line
        elif "\ufffd" not in line and "\\u" not in line:
            pytest.fail(f"a line without U+FFFD or a \\u escape was declined: {line!r}")


def test_declined_rows_are_the_ones_the_stage_reads_differently():
    lines = ['level=a\ufffd', 'level="\\u0041"', 'lével=x \u00a0level=y', 'x=\xff', 'level=ok é=1', '\u3000msg\u2000=m']
    declined, found = c_values(lines)
    assert declined == [True, True, False, False, False, False]
    assert found[2] == {"level": "y"} and found[4] == {"level": "ok"} and found[5] == {"msg": "m"}


SEC = 10**9
STREAMS = {
    1: LabelSet({"app": "web"}.items()),
    2: LabelSet({"app": "db", "level": "warn"}.items()),  # the parsed level becomes level_extracted
    3: LabelSet({"app": "x", "level": ""}.items()),        # an empty stream label reads as absent
}
METAS = ["", '{"level":"debug"}', '{"trace_id":"t1"}', '{"msg":"from meta"}', '{"level":"","trace_id":"t2"}']
LINES = ['level=error msg="disk full"', 'level=info', 'msg=hello level=', 'level="" level=warn', 'lvl=error',
         'level="a b" x-y=1', 'x.y=2 x_y=3', '1a=one', 'not logfmt at all', '', 'level="\\u0045RR"',
         'level=\ufffd', 'lével=1 level=e', 'msg="a\\"b" level=fatal', 'level=error level=info', 'level="x\\qy"',
         'level="unterminated', 'level=er"ror msg=m']


class RandomStore:
    """Three streams of random logfmt-ish lines and metadata, read as storage hands them over."""

    window_ns = 0

    def __init__(self, seed: int, n: int = 2000, error_meta: bool = False) -> None:
        rng = np.random.default_rng(seed)
        metas = METAS + (['{"__error__":"SomeErr","trace_id":"t9"}'] if error_meta else [])
        self.data = {
            "stream": pa.array(rng.integers(1, 4, n).astype(np.int64)),
            "ts": pa.array(np.sort(rng.integers(0, 600, n)).astype(np.int64) * SEC),
            "line": pa.array([LINES[int(i)] for i in rng.integers(0, len(LINES), n)], pa.large_string()),
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
]


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("seed", [1, 2])
def test_grouping_by_logfmt_labels_answers_as_the_per_row_walk(query, seed, monkeypatch):
    store = RandomStore(seed)
    calls = []
    group = LogfmtGroups.group
    monkeypatch.setattr(LogfmtGroups, "group", lambda self, *a: calls.append(1) or group(self, *a))
    columnar = answer(store, query)
    assert calls, "the columnar grouping was not used"
    monkeypatch.setattr(samples, "COLUMNAR_LOGFMT", False)
    assert columnar == answer(store, query)
    assert isinstance(columnar, list) and columnar


def test_a_pipeline_error_in_metadata_fails_the_query_as_the_per_row_walk_does(monkeypatch):
    store = RandomStore(3, error_meta=True)
    query = 'sum by (level) (count_over_time({app=~".+"} | logfmt [1m]))'
    columnar = answer(store, query)
    monkeypatch.setattr(samples, "COLUMNAR_LOGFMT", False)
    assert columnar == answer(store, query)
    assert columnar[0] == "BadRequestError" and "SomeErr" in columnar[1] and 't9' in columnar[1] and "t9" in columnar[1]


@pytest.mark.parametrize("stages, required", [
    ("| logfmt --strict", {"level"}),
    ("| logfmt --keep-empty", {"level"}),
    ('| logfmt level="lvl"', {"level"}),
    ("| logfmt | status > 200", {"level", "status"}),
    ("| logfmt | line_format \"x\"", {"level"}),
    ("| json", {"level"}),
    ("| logfmt", set()),
    ("| logfmt", {"level_extracted"}),
    ("| logfmt", {"__error__"}),
])
def test_only_a_plain_logfmt_with_hinted_names_is_grouped_from_columns(stages, required):
    from logyard.logql.pipeline import compile_pipeline
    from logyard.logql.syntax.parser import parse

    compiled = compile_pipeline(parse('{a="b"} ' + stages).pipeline, {})
    assert LogfmtGroups.of(compiled.row_stages, frozenset(required)) is None
