"""String label filters that open the row stages run in the columnar step (`CompiledPipeline.
label_filters`), once per distinct (stream, metadata of the names they read): they keep exactly
the rows, lines and labels the per-row walk keeps, whatever the stream labels and structured
metadata (names shared with stream labels, `__error__` in metadata, empty values), and a pipeline
of nothing else has no row stage left."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyarrow as pa
import pytest

from logyard.labels import LabelSet
from logyard.logql.pipeline import compile_pipeline
from logyard.logql.rows import Rows
from logyard.logql.syntax.parser import parse

STREAMS = {
    1: LabelSet({"app": "web"}.items()),
    2: LabelSet({"app": "db", "detected_level": "warn"}.items()),  # metadata detected_level is renamed
    3: LabelSet({"app": "x", "level": ""}.items()),
}
METAS = ["", '{"detected_level":"error"}', '{"detected_level":"info"}', '{"detected_level":"fatal","trace_id":"a"}',
         '{"detected_level":"error","trace_id":"b"}', '{"__error__":"JSONParserErr"}', '{"level":"debug"}',
         '{"detected_level":""}', '{"trace_id":"c"}']
FILTERS = [
    'detected_level="error"',
    'detected_level!="error"',
    'detected_level=~"error|critical|fatal"',
    'detected_level!~"info|debug"',
    'detected_level_extracted="error"',
    '__error__=""',
    '__error__!=""',
    'level=""',
    'detected_level="error" or level="debug"',
    'detected_level=~"e.*", app!="db"',
    'app="db" | detected_level="warn"',
]


def rows(seed: int, n: int = 3000) -> Rows:
    rng = np.random.default_rng(seed)
    meta = pa.array([METAS[int(i)] for i in rng.integers(0, len(METAS), n)])
    return Rows(ts=np.arange(n, dtype=np.int64), stream=rng.integers(1, 4, n).astype(np.int64),
                line=pa.array([f"line {i}" for i in range(n)], pa.large_string()),
                meta=meta.dictionary_encode() if seed % 2 else meta)


def walked(compiled) -> object:
    """The same pipeline with its label filters run by the per-row walk, as before."""
    return replace(compiled, label_filters=[], row_stages=[*compiled.label_filters, *compiled.row_stages])


def entries(compiled, r: Rows) -> list[tuple]:
    out = compiled.columnar(r)
    if compiled.row_stages:
        out = compiled.per_row(out)
        return list(zip(out.ts.tolist(), out.line.to_pylist(), [sorted(d.items()) for d in out.labels]))
    return list(zip(out.ts.tolist(), out.line.to_pylist()))


@pytest.mark.parametrize("filter_", FILTERS)
@pytest.mark.parametrize("seed", [1, 2])
def test_columnar_label_filters_keep_what_the_per_row_walk_keeps(filter_, seed):
    r = rows(seed)
    for tail in ("", ' | line_format "{{.detected_level}} {{.__error__}}"', ' | json'):
        compiled = compile_pipeline(parse(f'{{app=~".+"}} | {filter_}{tail}').pipeline, STREAMS)
        assert compiled.label_filters, filter_
        assert bool(compiled.row_stages) == bool(tail)
        got = entries(compiled, r)
        assert got == entries(walked(compiled), r) if compiled.row_stages else \
            got == [e[:2] for e in entries(walked(compiled), r)], (filter_, tail)


def test_a_pipeline_of_label_filters_alone_has_no_row_stage():
    compiled = compile_pipeline(parse('{a="b"} |= "x" | detected_level=~"error|fatal" | app!="db"').pipeline, STREAMS)
    assert len(compiled.label_filters) == 2 and not compiled.row_stages and len(compiled.filters) == 1


@pytest.mark.parametrize("query", [
    '{a="b"} | status >= 500',                   # may set __error__: per row
    '{a="b"} | json | detected_level="error"',   # after a parser: per row
    '{a="b"} | line_format "x" | app="db"',
    '{a="b"} | detected_level="error" or status > 1',
    '{a="b"} | addr = ip("10.0.0.0/8")',
])
def test_filters_that_may_change_labels_or_follow_other_stages_stay_per_row(query):
    compiled = compile_pipeline(parse(query).pipeline, STREAMS)
    assert not compiled.label_filters and compiled.row_stages


def test_label_filters_without_the_meta_column_are_a_bug_not_a_wrong_answer():
    compiled = compile_pipeline(parse('{a="b"} | detected_level="error"').pipeline, STREAMS)
    r = replace(rows(1), meta=None)
    with pytest.raises(AssertionError, match="meta column"):
        compiled.columnar(r)


@pytest.mark.parametrize("query", ['{a="b"} | detected_level=~".*"', '{a="b"} |~ "(?i)" | detected_level=~"" | app=~"(?:.*)"'])
def test_filters_that_keep_every_entry_are_left_out(query):
    # Grafana's "All" of a multi-value variable: `name=~".*"` keeps every entry, with the label or not.
    compiled = compile_pipeline(parse(query).pipeline, STREAMS)
    assert not compiled.label_filters and not compiled.row_stages and not compiled.filters
    assert len(compiled.columnar(rows(1))) == 3000
    kept_all = compile_pipeline(parse('{a="b"} | detected_level=~".*" | line_format "x"').pipeline, STREAMS)
    assert len(kept_all.row_stages) == 1 and len(kept_all.per_row(kept_all.columnar(rows(2)))) == 3000
