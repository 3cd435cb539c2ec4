"""`logyard.logql.pipeline`: the columnar step of a compiled pipeline."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from logyard.labels import LabelSet
from logyard.logql.syntax.parser import parse
from logyard.logql.pipeline import compile_pipeline
from logyard.logql.rows import Rows


def _table():
    line = pa.chunked_array([pa.array(["an error", "fine"], pa.large_string()),
                             pa.array(["error again", "ok", "no error"], pa.large_string())])
    return pa.table({"stream": pa.array([1, 1, 2, 2, 3]), "ts": pa.array([10, 20, 30, 40, 50]), "line": line,
                     "meta": pa.array(["", "", "", "", ""])})


def test_metric_rows_are_filtered_in_chunks_without_their_lines():
    compiled = compile_pipeline(parse('{a="b"} |= "error" != "again"').pipeline, {})
    rows = compiled.columnar_table(_table(), keep_line=False)
    assert rows.line is None
    assert rows.ts.tolist() == [10, 50] and rows.stream.tolist() == [1, 3]


def test_rows_keep_their_lines_when_asked():
    compiled = compile_pipeline(parse('{a="b"} |= "error"').pipeline, {})
    rows = compiled.columnar_table(_table(), keep_line=True)
    assert rows.line.to_pylist() == ["an error", "error again", "no error"]
    assert np.array_equal(rows.ts, [10, 30, 50])


def test_no_filter_keeps_every_row():
    compiled = compile_pipeline(parse('{a="b"}').pipeline, {})
    assert len(compiled.columnar_table(_table(), keep_line=False)) == 5


def test_repeated_line_filters_compile_to_one_each():
    # `|= "x"` a thousand times is `|= "x"`: AND is idempotent, and each filter is a pass over the lines.
    q = '{a="b"}' + ' |= "error"' * 1000 + ' != "again"' * 3 + ' |= "error"'
    compiled = compile_pipeline(parse(q).pipeline, {})
    assert len(compiled.filters) == 2
    rows = compiled.columnar_table(_table(), keep_line=True)
    assert rows.line.to_pylist() == ["an error", "no error"]


def test_a_label_filter_list_thousands_long_runs():
    # `a0="1", a1="1", …` parses into a chain as long as the list: compiled and run without recursion.
    q = '{a="b"} | logfmt | ' + ", ".join(f'a{i}="1"' for i in range(5000))
    compiled = compile_pipeline(parse(q).pipeline, {1: LabelSet({"a": "b"}.items())})
    rows = Rows.from_table(pa.table({"stream": pa.array([1, 1]), "ts": pa.array([10, 20]),
                                     "line": pa.array([" ".join(f"a{i}=1" for i in range(5000)), "a0=1"],
                                                      pa.large_string()),
                                     "meta": pa.array(["", ""])}))
    assert compiled.per_row(rows).ts.tolist() == [10]


def test_line_filters_that_keep_every_line_are_no_pass():
    # Grafana's dashboards send `|~ "(?i)$search"`; with an empty search it keeps every line.
    for q in ('{a="b"} |~ "(?i)"', '{a="b"} |~ ""', '{a="b"} |= ""', '{a="b"} |~ "(?is).*"'):
        compiled = compile_pipeline(parse(q).pipeline, {})
        assert compiled.filters == [], q
        assert len(compiled.columnar_table(_table(), keep_line=False)) == 5
    for q in ('{a="b"} |~ "^$"', '{a="b"} |~ ".+"', '{a="b"} !~ "(?i)"', '{a="b"} != ""', '{a="b"} |~ "(?i)error"',
              '{a="b"} |= "" or "x"', '{a="b"} |~ "x" or "(?i)"'):  # Loki drops "" from an or chain
        assert len(compile_pipeline(parse(q).pipeline, {}).filters) == 1, q
    assert len(compile_pipeline(parse('{a="b"} !~ "(?i)"').pipeline, {}).columnar_table(_table())) == 0
