"""LogQL formatting for `/loki/api/v1/format_query`: Loki's Prettify (pkg/logql/syntax/prettier.go).

An expression whose printed form fits in `MAX_CHARS_PER_LINE` characters stays on one line; a
longer one is split: a log query's stages each on a line of their own (consecutive line filters
together, or one a line when even they are too long), a function's arguments on lines indented
one level deeper between `op(` and `)`, a binary operator on its own line between its operands.
Every piece that is not split is printed as `str()` prints it (logyard's canonical LogQL).
"""

from __future__ import annotations

from logyard.gocompat.durations import format_duration, format_prom_duration
from logyard.gocompat.text import go_quote
from logyard.logql.syntax import ast

MAX_CHARS_PER_LINE = 100
INDENT = "  "


def prettify(expr: ast.Expr) -> str:
    return _pretty(expr, 0)


def _indent(level: int) -> str:
    return INDENT * level


def _fits(expr) -> bool:
    return len(str(expr)) <= MAX_CHARS_PER_LINE


def _pretty(e, level: int) -> str:
    if _fits(e) or isinstance(e, (ast.NumberLiteral, ast.VectorExpr)):
        return _indent(level) + str(e)
    if isinstance(e, ast.LogQuery):
        return _log_query(e, level)
    if isinstance(e, ast.RangeAggregation):
        return _range_aggregation(e, level)
    if isinstance(e, ast.VectorAggregation):
        return _vector_aggregation(e, level)
    if isinstance(e, ast.BinaryOp):
        return _binary(e, level)
    if isinstance(e, ast.LabelReplace):
        return _label_replace(e, level)
    raise AssertionError(f"BUG: no pretty printer for {type(e).__name__}")


def _stages(pipeline) -> list[list]:
    """Loki's multi-stages: a run of line filters is one stage, anything else a stage alone."""
    out: list[list] = []
    for stage in pipeline:
        if isinstance(stage, ast.LineFilter) and out and isinstance(out[-1][0], ast.LineFilter):
            out[-1].append(stage)
        else:
            out.append([stage])
    return out


def _log_query(e: ast.LogQuery, level: int) -> str:
    lines = [_indent(level) + str(e.selector)]
    for stage in _stages(e.pipeline):
        text = " ".join(map(str, stage))
        if len(stage) > 1 and len(text) > MAX_CHARS_PER_LINE:
            lines += [_indent(level + 1) + str(f) for f in stage]
        else:
            lines.append(_indent(level + 1) + text)
    return "\n".join(lines)


def _range_aggregation(e: ast.RangeAggregation, level: int) -> str:
    s = _indent(level) + e.op + "(\n"
    if e.param is not None:
        s += _indent(level + 1) + ast.format_number(e.param) + ",\n"
    inner = _pretty(e.log, level + 1)
    if e.unwrap is not None:
        inner += "\n" + _indent(level + 2) + (f"| unwrap {e.unwrap.conv}({e.unwrap.label})" if e.unwrap.conv
                                                else f"| unwrap {e.unwrap.label}")
        for f in e.unwrap.filters:
            inner += "\n" + _indent(level + 2) + f"| {f}"
    inner += f" [{format_prom_duration(e.range_ns)}]"
    if e.offset_ns:
        inner += f" offset {format_duration(e.offset_ns)}"
    s += inner + "\n" + _indent(level) + ")"
    if e.grouping is not None:
        s += " " + str(e.grouping)
    return s


def _vector_aggregation(e: ast.VectorAggregation, level: int) -> str:
    s = _indent(level) + e.op
    if e.grouping is not None:
        s += " " + str(e.grouping)
    args = [_pretty(e.expr, level + 1)]
    if e.param is not None:
        args.insert(0, _indent(level + 1) + str(e.param))
    return s + "(\n" + ",\n".join(args) + "\n" + _indent(level) + ")"


def _binary(e: ast.BinaryOp, level: int) -> str:
    op = e.op + (" bool" if e.bool_mod else "")
    if e.matching is not None:
        op += f" {e.matching}"
    return _pretty(e.lhs, level + 1) + "\n" + _indent(level) + op + "\n" + _pretty(e.rhs, level + 1)


def _label_replace(e: ast.LabelReplace, level: int) -> str:
    args = [_pretty(e.expr, level + 1)] + [_indent(level + 1) + go_quote(s)
                                           for s in (e.dst, e.replacement, e.src, e.regex)]
    return _indent(level) + "label_replace(\n" + ",\n".join(args) + "\n" + _indent(level) + ")"


__all__ = ["MAX_CHARS_PER_LINE", "prettify"]
