"""`| pattern … | name op number` prefiltered over the line column (pattern_prefilter.py, _pattern.c):
the capture found in C is the one Loki's matcher (stages/pattern.py) finds, and the row stages keep
exactly the same entries, lines and labels with the prefilter as without it, whatever the lines,
stream labels, structured metadata and parser hints."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pyarrow as pa
import pytest

from logyard.labels import LabelSet
from logyard.logql import _pattern
from logyard.logql.pattern_prefilter import PatternPrefilter
from logyard.logql.pipeline import compile_pipeline
from logyard.logql.rows import Rows
from logyard.logql.stages.builder import ParserHints
from logyard.logql.stages.pattern import PatternParser
from logyard.logql.syntax.parser import parse

PATTERNS = [
    '<ip> - <user> [<_>] "<method> <path> <_>" <status> <size> <_>',
    'GET <path> <status>',             # a leading literal, the capture at the end of the line
    '<_> status=<status> took=<ms>ms',  # a trailing literal
    '<status>',                        # the whole line
    '[<level>] <status>:<rest>',
]
TOKENS = ["GET", " ", "-", "[", "]", '"', "status=", "took=", "ms", ":", "500", "404", "200", "-3",
          "12.5", "1e3", "0x1F", "503 ", "abc", "é", "5" * 17, "007", "", "\n", "1.", ".5", "GET /x "]
STRICT = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,15})?")


def random_lines(rng: np.random.Generator, n: int) -> list[str]:
    out = []
    for _ in range(n):
        k = int(rng.integers(0, 12))
        out.append("".join(TOKENS[int(j)] for j in rng.integers(0, len(TOKENS), k)))
    out[:6] = ["", "GET /a 503", '1.2.3.4 - u [t] "GET /p HTTP/1.1" 502 10 "-"', "[warn] 404:x",
               "x status=500 took=3ms", "500"]
    return out


def column(lines: list[str]) -> pa.LargeStringArray:
    return pa.array(lines, pa.large_string())


def capture_of(pre: PatternPrefilter, col: pa.LargeStringArray):
    offsets = np.frombuffer(col.buffers()[1], dtype=np.int64, count=len(col) + 1)
    codes, values = _pattern.number_capture(offsets, col.buffers()[2] or b"", pre.lead, pre.literals, pre.capture)
    return np.frombuffer(codes, np.uint8), np.frombuffer(values, np.float64)


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("seed", [1, 2])
def test_the_capture_found_in_c_is_the_one_the_row_matcher_finds(pattern, seed):
    parser = PatternParser(pattern)
    lines = random_lines(np.random.default_rng(seed), 3000)
    for name in parser.names:
        pre = PatternPrefilter.of([parser, compile_pipeline(parse(f'{{a="b"}} | {name} > 0').pipeline, {}).row_stages[0]])
        assert pre is not None
        codes, values = capture_of(pre, column(lines))
        at = parser.names.index(name)
        for line, code, value in zip(lines, codes.tolist(), values.tolist()):
            got = parser.matches(line)
            if len(got) <= at:
                assert code == 0, (pattern, name, line)
            elif STRICT.fullmatch(got[at]):
                assert code == 1 and value == float(got[at]), (pattern, name, line)
            else:
                assert code == 2, (pattern, name, line)


def rows_of(lines: list[str], rng: np.random.Generator) -> Rows:
    n = len(lines)
    metas = ["", '{"detected_level":"info"}', '{"status":"503"}', '{"status":"x"}', '{"trace_id":"status"}']
    return Rows(ts=np.arange(n, dtype=np.int64), stream=rng.integers(1, 4, n).astype(np.int64), line=column(lines),
                meta=pa.array([metas[int(i)] for i in rng.integers(0, len(metas), n)]).dictionary_encode())


def kept(compiled, rows: Rows) -> list[tuple]:
    out = compiled.per_row(rows)
    return list(zip(out.ts.tolist(), out.line.to_pylist(), [sorted(d.items()) for d in out.labels]))


@pytest.mark.parametrize("filter_", ["status >= 500", "status == 404", "status != 200", "status < 0",
                                     "status <= 12.5", "status > 5555555555555555"])
@pytest.mark.parametrize("seed", [3, 4])
def test_the_row_stages_keep_the_same_entries_with_the_prefilter_as_without(filter_, seed):
    rng = np.random.default_rng(seed)
    streams = {1: LabelSet({"app": "web"}.items()), 2: LabelSet({"app": "db", "status": "503"}.items()),
               3: LabelSet({"app": "x", "status": ""}.items())}
    partial = 0  # patterns whose filter keeps some rows and drops others
    for pattern in PATTERNS:
        q = f'{{app=~".+"}} | pattern `{pattern}` | {filter_} | line_format "{{{{.status}}}}"'
        compiled = compile_pipeline(parse(q).pipeline, streams)
        assert compiled.prefilter is not None, q
        rows = rows_of(random_lines(rng, 2000), rng)
        with_it = kept(compiled, rows)
        assert with_it == kept(replace(compiled, prefilter=None), rows), q
        partial += 0 < len(with_it) < len(rows)
        for hints in (ParserHints(required=frozenset({"status"})), ParserHints(required=frozenset({"app"})),
                      ParserHints(no_labels=True)):
            hinted = replace(compiled, hints=hints)
            assert kept(hinted, rows) == kept(replace(hinted, prefilter=None), rows), (q, hints)
    assert partial


def test_the_prefilter_drops_the_rows_before_the_row_stages_run():
    compiled = compile_pipeline(parse('{a="b"} | pattern `<_> <status> <_>` | status >= 500').pipeline,
                                {1: LabelSet({"a": "b"}.items())})
    rows = Rows(ts=np.arange(4, dtype=np.int64), stream=np.ones(4, dtype=np.int64),
                line=column(["a 500 b", "a 200 b", "a x b", "nothing"]), meta=None)
    assert compiled.prefilter.keep(rows, compiled.stream_labels, compiled.hints).tolist() == [True, False, True, False]
    out = compiled.per_row(rows)
    assert out.line.to_pylist() == ["a 500 b", "a x b"]  # "x" does not parse: kept with LabelFilterErr
    assert out.labels[1]["__error__"] == "LabelFilterErr"


@pytest.mark.parametrize("query", [
    '{a="b"} | pattern `<_> <status> <_>` | other >= 500',           # not a capture
    '{a="b"} | pattern `<_> <status> <_>` | status = "500"',         # a string filter (value_prefilter.py's)
    '{a="b"} | pattern `<_> <status> <_>` | status > 1s',            # a duration filter
    '{a="b"} | pattern `<_> <status> <_>` | status >= 500 and status < 600',
    '{a="b"} | logfmt | pattern `<_> <status> <_>` | status >= 500',  # not the first row stage
    '{a="b"} | pattern `<_> <status> <_>` | line_format "x" | status >= 500',
])
def test_only_a_pattern_then_a_numeric_filter_on_its_capture_is_prefiltered(query):
    assert not isinstance(compile_pipeline(parse(query).pipeline, {}).prefilter, PatternPrefilter)


def test_metadata_of_the_filtered_name_keeps_its_row_whatever_the_dictionary():
    """Rows of a row group's slice carry its whole metadata dictionary, other streams' values too."""
    compiled = compile_pipeline(parse('{a="b"} | pattern `<_> <status> <_>` | status >= 500').pipeline,
                                {1: LabelSet({"a": "b"}.items())})
    dictionary = pa.array(["", '{"status":"503"}'] + [f'{{"trace_id":"{i}"}}' for i in range(50)])
    for times in (1, 40):  # a dictionary larger than the rows, and smaller
        meta = pa.DictionaryArray.from_arrays(pa.array([5, 1, 7] * times, pa.int32()), dictionary)
        n = 3 * times
        rows = Rows(ts=np.arange(n, dtype=np.int64), stream=np.ones(n, dtype=np.int64),
                    line=column(["a 200 b"] * n), meta=meta)
        assert compiled.prefilter.keep(rows, compiled.stream_labels, compiled.hints).tolist() == [False, True, False] * times
        assert len(compiled.per_row(rows)) == times  # metadata status=503 passes the filter
