"""parsed_prefilter.py drops, before the per-row walk, only rows the leading parsers and label
filters drop: log and metric queries answer exactly as without it, over random logfmt, JSON and
mixed lines with metadata and stream labels named like the parsed ones."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logyard.logql.engine import Engine
from logyard.logql.parsed_prefilter import ParsedPrefilter
from logyard.logql.pipeline import compile_pipeline
from logyard.logql.syntax.parser import parse
from tests.logql.test_parsed_columns import JSON_LINES, LINES, SEC, RandomStore

LOG_QUERIES = [
    '{app=~".+"} | logfmt | level="error"',
    '{app=~".+"} | logfmt | level=~"err.*|warn"',
    '{app=~".+"} | logfmt | x_y >= 2',
    '{app=~".+"} | logfmt | msg > 1s',
    '{app=~".+"} | logfmt | level=""',
    '{app=~".+"} | logfmt | trace_id="t1"',
    '{app=~".+"} | logfmt | drop level | level=""',
    '{app=~".+"} | logfmt | level="error" | line_format "{{.msg}}"',
    '{app=~".+"} | regexp `level=(?P<lvl>[a-z]+)` | lvl="error"',
    '{app=~".+"} | json | level="error"',
    '{app=~".+"} | drop app | level="debug"',
    '{app=~".+"} | logfmt | label_format lvl=level | lvl="error"',
    '{app=~".+"} | logfmt | keep level, msg | level="error" or app="db"',
    '{app=~".+"} | json | label_format level=msg, msg=level | msg=~"disk.*"',
    '{app=~".+"} | pattern "<k>=<v> <_>" | v="error"',
    '{app=~".+"} | pattern "<_> x_y=<n>" | n > 2',
    '{app=~".+"} | json | req_status >= 500',
    '{app=~".+"} | json | __error__=""',
    '{app=~".+"} | json | level!="error" or msg="disk full"',
    '{app=~".+"} | json | logfmt | drop __error__, __error_details__ | level!=""',
    '{app=~".+"} | logfmt | json | level="error"',
    'sum by (app) (count_over_time({app=~".+"} | logfmt | level="error" | line_format "{{.msg}}" [1m]))',
    'sum by (app) (count_over_time({app=~".+"} | json | req_status >= 500 | label_format a=app [1m]))',
]


def answer(store, query: str):
    engine = Engine(store)
    try:
        data = engine.query_range("t", query, 0, 600 * SEC, 60 * SEC, None, 5000, "forward")
    except Exception as e:  # noqa: BLE001 - the error is part of the answer compared
        return type(e).__name__, str(e)
    return [(r.get("stream", r.get("metric")), r["values"]) for r in data["result"]]


@pytest.mark.parametrize("query", LOG_QUERIES)
@pytest.mark.parametrize("seed", [1, 2])
def test_queries_answer_as_without_the_prefilter(query, seed, monkeypatch):
    store = RandomStore(seed, lines=LINES + JSON_LINES)
    calls = []
    keep = ParsedPrefilter.keep
    monkeypatch.setattr(ParsedPrefilter, "keep", lambda self, *a: calls.append(1) or keep(self, *a))
    filtered = answer(store, query)
    assert calls, "the prefilter was not used"
    monkeypatch.setattr(ParsedPrefilter, "of", classmethod(lambda cls, stages: None))
    assert filtered == answer(store, query)
    assert isinstance(filtered, list) and filtered, filtered


def test_it_drops_the_rows_the_filter_drops(monkeypatch):
    from logyard.logql import parsed_prefilter
    from logyard.logql.rows import Rows
    import numpy as np
    import pyarrow as pa

    lines = ["level=error", "level=info", '{"level":"error"}', "level=\ufffd", "lvl=error level=warn"]
    rows = Rows(ts=np.arange(5, dtype=np.int64), stream=np.ones(5, dtype=np.int64),
                line=pa.array(lines, pa.large_string()), meta=pa.array([""] * 5))
    compiled = compile_pipeline(parse('{a="b"} | logfmt | level="error"').pipeline, {})
    from tests.logql.test_parsed_columns import STREAMS

    assert compiled.parsed_prefilter.keep(rows, STREAMS, compiled.hints) is None  # too few to pay for a scan
    monkeypatch.setattr(parsed_prefilter, "MIN_ROWS", 1)
    keep = compiled.parsed_prefilter.keep(rows, STREAMS, compiled.hints)
    # the U+FFFD line is declined by the scan: it goes on to the per-row walk
    assert keep.tolist() == [True, False, False, True, False]


@pytest.mark.parametrize("stages", ['| logfmt', '| logfmt --strict | level="x"', '| line_format "x" | level="x"',
                                    '| unpack | level="x"', '| logfmt | __x="y"'])
def test_no_prefilter_without_a_scannable_parser_and_a_filter(stages):
    compiled = compile_pipeline(parse('{a="b"} ' + stages).pipeline, {})
    assert compiled.parsed_prefilter is None


# Random pipelines of every replayable kind, in any order: the column paths answer as the per-row walk.
_STAGES = ['| logfmt', '| json', '| regexp `level=(?P<level>[a-z]+)`', '| pattern "<k>=<v> <_>"', '| drop level',
           '| drop __error__, __error_details__', '| drop k="level"', '| label_format lvl=level', '| level="error"',
           '| level=~"e.*|w.*"', '| x_y > 1', '| __error__=""', '| msg!=""', '| lvl!="info" or v="1"',
           '| keep level, k, v', '| keep app, lvl="error"']
_GROUPS = ["level", "lvl", "k, v", "app, level", "msg", "x_y"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_STAGES), min_size=1, max_size=4), st.sampled_from(_GROUPS), st.booleans())
def test_random_pipelines_answer_as_the_per_row_walk(stages, group, metric):
    import logyard.logql.metric.samples as samples

    pipeline = " ".join(stages)
    query = (f'sum by ({group}) (count_over_time({{app=~".+"}} {pipeline} [1m]))' if metric
             else f'{{app=~".+"}} {pipeline}')
    store = RandomStore(7, n=600, lines=LINES + JSON_LINES)
    columnar = answer(store, query)
    of, flag = ParsedPrefilter.of, samples.COLUMNAR_PARSERS
    try:
        ParsedPrefilter.of = classmethod(lambda cls, s: None)
        samples.COLUMNAR_PARSERS = False
        assert columnar == answer(store, query), query
    finally:
        ParsedPrefilter.of, samples.COLUMNAR_PARSERS = of, flag
