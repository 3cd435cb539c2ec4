"""`| <parser> | name="value"` prefiltered by a substring search (value_prefilter.py): the row
stages keep exactly the same entries, lines and labels with it as without it, on lines whose
values come plain, quoted, escaped (logfmt, JSON \\u escapes), nested or not at all, and stream
labels or metadata of the same name."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyarrow as pa
import pytest

from logyard.labels import LabelSet
from logyard.logql.pipeline import compile_pipeline
from logyard.logql.rows import Rows
from logyard.logql.stages.builder import ParserHints
from logyard.logql.syntax.parser import parse
from logyard.logql.value_prefilter import ValuePrefilter

LINES = [
    'level=error msg="disk full"', 'level=info msg="error in the text"', 'level="error" x=1', 'level=errors',
    'level="err\\u006fr"', 'level="err\\"or"', 'lvl=error', 'msg=fine', '', 'level=', 'a=1 level=error a=2',
    '{"level":"error","msg":"x"}', '{"level":"e\\u0072ror"}', '{"level":"info","msg":"error"}',
    '{"a":{"level":"error"}}', '{"level":"err\\"or"}', '{"level":5}', '{"level":["error"]}', '{"_entry":"l","level":"error"}',
    'not json level=error', '2026 level=error took=3ms', '{"level": "error"}', 'LEVEL=ERROR',
]
PARSERS = ['logfmt', 'json', 'regexp "level=(?P<level>\\\\w+)"', 'pattern `<_> level=<level> <_>`', 'unpack',
           'json level="a.level"', 'logfmt --strict']
STREAMS = {1: LabelSet({"app": "web"}.items()), 2: LabelSet({"app": "db", "level": "error"}.items()),
           3: LabelSet({"app": "x", "level": ""}.items())}
METAS = ["", '{"level":"error"}', '{"detected_level":"error"}', '{"level":"warn"}']


def rows(seed: int, n: int = 3000) -> Rows:
    rng = np.random.default_rng(seed)
    return Rows(ts=np.arange(n, dtype=np.int64), stream=rng.integers(1, 4, n).astype(np.int64),
                line=pa.array([LINES[int(i)] for i in rng.integers(0, len(LINES), n)], pa.large_string()),
                meta=pa.array([METAS[int(i)] for i in rng.integers(0, len(METAS), n)]).dictionary_encode())


def kept(compiled, r: Rows) -> list[tuple]:
    out = compiled.per_row(compiled.columnar(r))
    return list(zip(out.ts.tolist(), out.line.to_pylist(), [sorted(d.items()) for d in out.labels]))


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("value", ["error", 'err\\"or', "5"])
def test_the_row_stages_keep_the_same_entries_with_the_prefilter_as_without(parser, value):
    q = f'{{app=~".+"}} | {parser} | level="{value}" | line_format "{{{{.level}}}}"'
    compiled = compile_pipeline(parse(q).pipeline, STREAMS)
    assert isinstance(compiled.prefilter, ValuePrefilter), q
    for seed in (1, 2):
        r = rows(seed)
        assert kept(compiled, r) == kept(replace(compiled, prefilter=None), r), q
        hinted = replace(compiled, hints=ParserHints(required=frozenset({"level"})))
        assert kept(hinted, r) == kept(replace(hinted, prefilter=None), r), q


def test_rows_whose_lines_lack_the_value_are_dropped_unless_the_label_may_come_from_elsewhere():
    compiled = compile_pipeline(parse('{app=~".+"} | logfmt | level="error"').pipeline, STREAMS)
    r = Rows(ts=np.arange(5, dtype=np.int64), stream=np.array([1, 1, 1, 2, 1]),
             line=pa.array(["level=info", "level=error", 'level="e\\x"', "level=info", "level=info"], pa.large_string()),
             meta=pa.array(["", "", "", "", '{"level":"error"}']))
    assert compiled.prefilter.keep(r, compiled.stream_labels, compiled.hints).tolist() == [False, True, True, True, True]
    assert compiled.per_row(r).ts.tolist() == [1, 3, 4]


@pytest.mark.parametrize("query", [
    '{a="b"} | logfmt | level!="error"',
    '{a="b"} | logfmt | level=~"error"',
    '{a="b"} | logfmt | level=""',
    '{a="b"} | logfmt | __error__="x"',
    '{a="b"} | line_format "x" | level="error"',
    '{a="b"} | logfmt | drop a | level="error"',
])
def test_only_a_parser_then_an_equality_with_a_value_is_prefiltered(query):
    assert compile_pipeline(parse(query).pipeline, {}).prefilter is None
