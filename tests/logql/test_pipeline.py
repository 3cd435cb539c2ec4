"""`logyard.logql.pipeline`: the columnar step of a compiled pipeline."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from logyard.logql.parser import parse
from logyard.logql.pipeline import compile_pipeline


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
