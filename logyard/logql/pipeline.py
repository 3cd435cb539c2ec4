"""AST log pipeline → an executable pipeline over `Rows`.

The leading line filters become one columnar step (Arrow/RE2 kernels over the whole line column),
and so do the string label filters right after them, decided once per distinct (stream, metadata
they read). Everything after those runs per row, over a `LabelsBuilder` per entry, on the rows that
survived: parsers, label filters, formatters, drop/keep. Label names the row stages need are known up front,
so a metric query whose labels are all aggregated away can skip parsing altogether (Loki's
parser hints: `sum(count_over_time({…} | json [5m]))` never parses and never fails on bad JSON).

`check` (the query's `Deadline.check`) runs between line filters and every few thousand row-stage
calls, so a query stops in the middle of a window when its time is up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
import pyarrow as pa

from logyard.labels import LabelSet
from logyard.logql.syntax import ast
from logyard.logql import stages as st
from logyard.logql.parsed_prefilter import ParsedPrefilter
from logyard.logql.pattern_prefilter import PatternPrefilter
from logyard.logql.rows import Rows, group_codes_by_meta_names, meta_pairs
from logyard.logql.stages.label_filter import is_label_filter
from logyard.logql.value_prefilter import ValuePrefilter


def _label_node(node, stage: bool = False) -> object:
    """The label filter of `node`; `stage` when it is a whole pipeline stage (or unwrap filter)."""
    if isinstance(node, (ast.LabelAnd, ast.LabelOr)):
        # A chain of one connective becomes one n-ary filter, walked without recursion: `a=1, b=2, …`
        # parses into a chain as long as the list.
        kind, parts, stack = type(node), [], [node]
        while stack:
            n = stack.pop()
            if type(n) is kind:
                stack += (n.right, n.left)
            else:
                parts.append(_label_node(n))
        return st.AndLabelFilter(*parts, stage=stage) if kind is ast.LabelAnd else st.OrLabelFilter(*parts)
    if isinstance(node, ast.LabelCompare):
        kind = node.kind
        op = "==" if node.op == "=" and kind in ("number", "duration", "bytes") else node.op
        if kind == "string":
            return st.StringLabelFilter(node.name, op, node.value)
        if kind == "number":
            return st.NumericLabelFilter(node.name, op, float(node.value))
        if kind == "duration":
            return st.DurationLabelFilter(node.name, op, node.value)
        if kind == "bytes":
            return st.BytesLabelFilter(node.name, op, node.value)
        if kind == "ip":
            return st.IPLabelFilter(node.name, op, node.value)
    raise AssertionError(f"BUG: unknown label filter node {node!r}")


def compile_stage(stage) -> object:
    """One AST stage → the row stage with Loki's semantics."""
    if isinstance(stage, ast.LineFilter):
        return st.LineFilter(stage.op, [stage.value, *stage.or_values],
                             [stage.is_ip, *(stage.or_is_ip or (False,) * len(stage.or_values))])
    if isinstance(stage, ast.JSONParser):
        if stage.params:
            return st.JSONExpressionParser({p.name: p.expression for p in stage.params})
        return st.JSONParser()
    if isinstance(stage, ast.LogfmtParser):
        if stage.params:
            return st.LogfmtExpressionParser({p.name: p.expression for p in stage.params}, stage.strict)
        return st.LogfmtParser(stage.strict, stage.keep_empty)
    if isinstance(stage, ast.RegexpParser):
        return st.RegexpParser(stage.pattern)
    if isinstance(stage, ast.PatternParser):
        return st.PatternParser(stage.pattern)
    if isinstance(stage, ast.Unpack):
        return st.UnpackParser()
    if isinstance(stage, ast.LabelFilter):
        return _label_node(stage.filter, stage=True)
    if isinstance(stage, ast.LineFormat):
        return st.LineFormatter(stage.template)
    if isinstance(stage, ast.LabelFormat):
        return st.LabelsFormatter([st.LabelFmt(op.dst, op.value, not op.is_template) for op in stage.ops])
    if isinstance(stage, (ast.Drop, ast.Keep)):
        items = [i.matcher if i.matcher is not None else i.name for i in stage.items]
        return st.DropLabels(items) if isinstance(stage, ast.Drop) else st.KeepLabels(items)
    if isinstance(stage, ast.Decolorize):
        return st.Decolorizer()
    raise AssertionError(f"BUG: unknown pipeline stage {stage!r}")


_NEEDS_LABELS = (ast.LabelFilter, ast.LineFormat, ast.LabelFormat, ast.Drop, ast.Keep)
# Row-stage calls between two deadline checks in `per_row`.
CHECK_EVERY_CALLS = 4096


def _no_check() -> None:
    return None


@dataclass
class CompiledPipeline:
    """Columnar line filters, then row stages; `stream_labels` resolves stream ids."""

    filters: list
    row_stages: list
    stream_labels: dict[int, LabelSet]
    check: Callable[[], None] = field(default=_no_check)
    # Metric queries: Loki's parser hints for the row stages (what to extract, errors kept on purpose).
    hints: st.ParserHints = st.NO_HINTS
    # A parser, then a filter on what it parses: the rows they drop found column-wise before the
    # per-row walk (`| pattern … | status >= 500`: pattern_prefilter.py; `| logfmt | level="error"`:
    # value_prefilter.py).
    prefilter: PatternPrefilter | ValuePrefilter | None = None
    # Then, exactly, what plain parsers and the label filters after them drop, from a column scan
    # (`| logfmt | level=~"fatal|critical"`, `| json | status >= 500`: parsed_prefilter.py).
    parsed_prefilter: ParsedPrefilter | None = None
    # String label filters before any other row stage (`| detected_level=~"error|fatal"`): their
    # verdict depends on the stream labels and structured metadata alone, so it is made once per
    # distinct (stream, metadata of the names they read) in the columnar step (`_label_filtered`), and a
    # pipeline with nothing else needs no per-row walk at all.
    label_filters: list = field(default_factory=list)

    @property
    def has_row_stages(self) -> bool:
        return bool(self.row_stages)

    def columnar(self, rows: Rows) -> Rows:
        if self.filters and len(rows):
            keep = st.filters_mask(rows.line, self.filters, self.check)
            rows = rows if keep.all() else rows.take(keep)
        return self._label_filtered(rows)

    def columnar_table(self, table: pa.Table, *, keep_line: bool = True) -> Rows:
        """`columnar(Rows.from_table(table))`; without `keep_line` the lines are filtered in their
        chunks and then dropped, never concatenated nor gathered (metric queries count rows)."""
        if "line" not in table.column_names:
            return self.columnar(Rows.from_table(table))
        keep = (st.filters_mask(table.column("line"), self.filters, self.check)
                if self.filters and table.num_rows else None)
        if keep_line:
            # Only the surviving lines are joined into one array (not the whole window's first).
            rows = Rows.from_table(table if keep is None or keep.all() else table.filter(pa.array(keep)))
        else:
            rows = Rows.from_table(table.drop_columns(["line"]))
            rows = rows if keep is None or keep.all() else rows.take(keep)
        return self._label_filtered(rows)

    def _label_filtered(self, rows: Rows) -> Rows:
        """The rows `label_filters` keep, each filter run once per distinct (stream, metadata of the
        names it reads) on the labels the per-row walk would give it there."""
        if not self.label_filters or not len(rows):
            return rows
        if rows.meta is None:
            raise AssertionError("BUG: label filters read structured metadata: the meta column is needed")
        codes, keys = group_codes_by_meta_names(rows, st.required_label_names(self.label_filters))
        ok = np.empty(len(keys), dtype=bool)
        for j, (sid, pairs) in enumerate(keys):  # one step per distinct key, not per row
            lbs = st.LabelsBuilder(dict(self.stream_labels[sid]), dict(pairs) if pairs else None)
            ok[j] = all(f.process(0, "", lbs)[1] for f in self.label_filters)
        keep = ok[codes]
        return rows if keep.all() else rows.take(keep)

    def per_row(self, rows: Rows, extra=None) -> Rows:
        """Run the row stages; `extra(ts, line, lbs)` may inspect each surviving builder (unwrap)."""
        if not self.row_stages:
            return rows
        if self.prefilter is not None:
            keep = self.prefilter.keep(rows, self.stream_labels, self.hints)
            if keep is not None and not keep.all():
                rows = rows.take(keep)
        if self.parsed_prefilter is not None:
            keep = self.parsed_prefilter.keep(rows, self.stream_labels, self.hints, self.check)
            if keep is not None and not keep.all():
                rows = rows.take(keep)
        out_idx, out_lines, out_labels = [], [], []
        lines = rows.line.to_pylist()
        metas = rows.meta.to_pylist() if rows.meta is not None else [""] * len(rows)
        stream_dicts: dict[int, dict] = {}
        stages = self.row_stages
        check, every = self.check, max(1, CHECK_EVERY_CALLS // len(stages))
        # Per-row loop: parsers and templates work on one entry at a time (only surviving rows).
        for i, (ts, sid, line, meta) in enumerate(zip(rows.ts.tolist(), rows.stream.tolist(), lines, metas)):
            if not i % every:
                check()
            sd = stream_dicts.get(sid)
            if sd is None:
                sd = stream_dicts[sid] = dict(self.stream_labels[sid])
            lbs = st.LabelsBuilder(sd, dict(meta_pairs(meta)) if meta else None, self.hints)
            keep = True
            for stage in stages:
                line, keep = stage.process(ts, line, lbs)
                if not keep:
                    break
            if not keep:
                continue
            if extra is not None:
                labels = extra(ts, line, lbs)
                if labels is None:
                    continue
            else:
                labels = lbs.labels()
            out_idx.append(i)
            out_lines.append(line)
            out_labels.append(labels)
        idx = np.asarray(out_idx, dtype=np.int64)
        return Rows(rows.ts[idx], rows.stream[idx], pa.array(out_lines, pa.large_string()),
                    None, out_labels, None)


def compile_pipeline(pipeline: tuple, stream_labels: dict[int, LabelSet], *, skip_parsers: bool = False,
                     check: Callable[[], None] = _no_check) -> CompiledPipeline:
    n = 0
    while n < len(pipeline) and isinstance(pipeline[n], ast.LineFilter):
        n += 1
    # The leading filters are ANDed over the line column, so each distinct one runs once, in order of
    # first appearance: `|= "x"` repeated 16,000 times is one pass over the lines, not 16,000. One
    # that keeps every line is no pass at all (Grafana's `|~ "(?i)$search"` with an empty search).
    leading = dict.fromkeys(f for f in pipeline[:n] if not _keeps_every_line(f))
    stages = [s for s in pipeline[n:] if not keeps_every_entry(s)]
    if skip_parsers:
        stages = [s for s in stages if not isinstance(s, ast.PARSER_STAGES)]
    row_stages = [compile_stage(s) for s in stages]
    k = 0
    while k < len(row_stages) and _reads_labels_only(row_stages[k]):
        k += 1
    return CompiledPipeline([compile_stage(f) for f in leading], row_stages[k:], stream_labels, check,
                            prefilter=PatternPrefilter.of(row_stages[k:]) or ValuePrefilter.of(row_stages[k:]),
                            parsed_prefilter=ParsedPrefilter.of(row_stages[k:]),
                            label_filters=row_stages[:k])


# Flags, then nothing or `.*`: an unanchored search finds its (empty) match in every line.
_MATCHES_EVERY_LINE = re.compile(r"(?:\(\?[imsU]+\))*(?:\.\*)?")


def keeps_every_entry(stage) -> bool:
    """An AST stage that keeps every entry and changes nothing: a line filter `_keeps_every_line`
    or a label filter `name=~".*"` (Grafana's "All" of a variable): left out of compiled pipelines,
    and no reason to leave the count path (count_samples.py)."""
    if isinstance(stage, ast.LineFilter):
        return _keeps_every_line(stage)
    if isinstance(stage, ast.LabelFilter) and isinstance(stage.filter, ast.LabelCompare):
        f = stage.filter
        return f.kind == "string" and f.op == "=~" and f.value in st.ALWAYS_TRUE_REGEXES
    return False


def _keeps_every_line(f: ast.LineFilter) -> bool:
    """`|= ""`, `|~ "(?i)"`, `|~ ".*"` alone (in an `or` chain Loki drops an empty `|=` term)."""
    if f.or_values or f.is_ip:
        return False
    return (f.op == "|=" and f.value == "") or (f.op == "|~" and _MATCHES_EVERY_LINE.fullmatch(f.value) is not None)


def _reads_labels_only(stage) -> bool:
    """A label filter whose verdict depends on the entry's labels alone and that changes none of
    them (string comparisons)."""
    return is_label_filter(stage, (st.StringLabelFilter,))


def needs_labels_after_parsers(pipeline: tuple) -> bool:
    """True when some stage reads labels (so parsers must run even if the result drops them)."""
    return any(isinstance(s, _NEEDS_LABELS) for s in pipeline)


def needs_line(pipeline: tuple) -> bool:
    return bool(pipeline)


def with_rows(rows: Rows, **changes) -> Rows:
    return replace(rows, **changes)
