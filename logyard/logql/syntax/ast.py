"""The LogQL syntax tree: frozen dataclasses, each printing itself back as canonical LogQL.

`parse(str(e)) == e` holds for every tree the parser builds (save NaN/Inf literals, below). Sugar is normalised away while parsing,
so the evaluator sees one shape per meaning:
- a log query is always `LogQuery(selector, pipeline)`; `(…)` around it leaves no trace;
- `{s}[5m] | json` and `({s} | json)[5m]` both become `RangeAggregation(log={s} | json, range_ns=…)`;
- consecutive line filters are consecutive `LineFilter` stages; a negative filter with an `or` chain
  (`!= "a" or "b"`) becomes one stage per value, since Loki evaluates it as `!= "a" != "b"`;
- `,`, `and` and juxtaposition between label filters are all `LabelAnd`;
- arithmetic and comparisons between two number literals are folded into one `NumberLiteral` (as Loki
  does: `2 ^ 3` is the literal 8).

Node overview (log side): StreamSelector, LogQuery, and the stages LineFilter, LogfmtParser, JSONParser,
RegexpParser, PatternParser, Unpack, LabelFilter (tree of LabelCompare / LabelAnd / LabelOr),
LineFormat, LabelFormat, Drop, Keep, Decolorize; Unwrap sits on RangeAggregation.
Metric side: RangeAggregation, VectorAggregation, BinaryOp (+ VectorMatching), NumberLiteral,
VectorExpr, LabelReplace, with Grouping for `by`/`without`. `Invalid` exists only between parsing
and validation. Helpers: `is_log_query`, `walk`, `log_queries`, `selectors`, `range_aggregations`.
(Folded `0/0` and overflowing literals print as Go's `NaN`/`+Inf`, which do not parse back.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Union

from logyard.gocompat.durations import format_duration, format_prom_duration
from logyard.labels import Matcher, quote


go_quote = quote  # Go's strconv.Quote; the one implementation lives in logyard.labels


def format_bytes(n: int) -> str:
    """A byte count as a token that parses back to exactly n (`150000B`; `0KB`, since Loki's scanner
    fails on `0B`: "decimal literal has no digits")."""
    return f"{n}B" if n else "0KB"


def format_number(value: float) -> str:
    """Print a float as Go's %v does for LogQL literals (`8`, `0.5`, `1e+21`), so that it lexes back.
    (A folded `0/0` or `2^2000` prints as Go's `NaN` / `+Inf`, which, as in Loki, does not parse back.)"""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, exp = text.split("e")
        sign = "-" if exp.startswith("-") else "+"
        exp = exp.lstrip("+-").rjust(2, "0")
        text = f"{mantissa}e{sign}{exp}"
    return text


# --------------------------------------------------------------------------------------------------
# Log queries


@dataclass(frozen=True)
class StreamSelector:
    """`{a="b", c=~"d"}`: which streams a query reads."""

    matchers: tuple[Matcher, ...]

    def __str__(self) -> str:
        return "{" + ", ".join(f"{m.name}{m.op}{go_quote(m.value)}" for m in self.matchers) + "}"


@dataclass(frozen=True)
class LineFilter:
    """`|= "a"`, `!~ "re"`, `|> "<_> pat"`, `|= ip("10.0.0.0/8")`, `|= "a" or "b"`.

    op is one of `|=` `!=` `|~` `!~` `|>` `!>`. A line passes when it matches `value` or any of
    `or_values` (only positive ops carry or_values). `is_ip` / `or_is_ip` mark `ip("cidr")` values.
    """

    op: str
    value: str
    or_values: tuple[str, ...] = ()
    is_ip: bool = False
    or_is_ip: tuple[bool, ...] = ()

    def __post_init__(self) -> None:
        if len(self.or_is_ip) != len(self.or_values):
            object.__setattr__(self, "or_is_ip", tuple(self.or_is_ip) + (False,) * (len(self.or_values) - len(self.or_is_ip)))

    def terms(self) -> list[tuple[str, bool]]:
        """Every alternative as (value, is_ip)."""
        return [(self.value, self.is_ip), *zip(self.or_values, self.or_is_ip)]

    def __str__(self) -> str:
        parts = [f'ip({go_quote(v)})' if ip else go_quote(v) for v, ip in self.terms()]
        return f"{self.op} " + " or ".join(parts)


@dataclass(frozen=True)
class LabelExtraction:
    """`name="expression"` of `json`/`logfmt` parameters; a bare `name` extracts the field `name`."""

    name: str
    expression: str

    def __str__(self) -> str:
        return f"{self.name}={go_quote(self.expression)}"


@dataclass(frozen=True)
class JSONParser:
    """`| json` (all fields) or `| json a="x.y[0]", b` (only those)."""

    params: tuple[LabelExtraction, ...] = ()

    def __str__(self) -> str:
        if not self.params:
            return "| json"
        return "| json " + ",".join(map(str, self.params))


@dataclass(frozen=True)
class LogfmtParser:
    """`| logfmt [--strict] [--keep-empty] [a="x", b]`."""

    strict: bool = False
    keep_empty: bool = False
    params: tuple[LabelExtraction, ...] = ()

    def __str__(self) -> str:
        out = ["| logfmt"]
        if self.strict:
            out.append("--strict")
        if self.keep_empty:
            out.append("--keep-empty")
        if self.params:
            out.append(",".join(map(str, self.params)))
        return " ".join(out)


@dataclass(frozen=True)
class RegexpParser:
    """`| regexp "(?P<name>re)"`: named groups become labels."""

    pattern: str

    def __str__(self) -> str:
        return f"| regexp {go_quote(self.pattern)}"


@dataclass(frozen=True)
class PatternParser:
    """`| pattern "<ip> - <_>"`."""

    pattern: str

    def __str__(self) -> str:
        return f"| pattern {go_quote(self.pattern)}"


@dataclass(frozen=True)
class Unpack:
    """`| unpack`: JSON labels packed by Promtail's pack stage, `_entry` becoming the line."""

    def __str__(self) -> str:
        return "| unpack"


@dataclass(frozen=True)
class LabelCompare:
    """One label comparison. kind and value:
    - "string": op `=` `!=` `=~` `!~`, value str (a regex is fully anchored, like a matcher);
    - "number": op `==` `!=` `>` `>=` `<` `<=`, value float;
    - "duration": same ops, value int nanoseconds (`50ms`); the label is parsed as a Go duration;
    - "bytes": same ops, value int bytes (`150KB`); the label is parsed as a byte size;
    - "ip": op `=` `!=`, value str (an IP, range or CIDR).
    (`x = 5` and `x == 5` are the same filter; `==` is kept.)
    """

    name: str
    op: str
    kind: str
    value: object

    def __str__(self) -> str:
        if self.kind == "string":
            return f"{self.name}{self.op}{go_quote(self.value)}"  # type: ignore[arg-type]
        if self.kind == "ip":
            return f"{self.name}{self.op}ip({go_quote(self.value)})"  # type: ignore[arg-type]
        if self.kind == "duration":
            text = format_duration(self.value)  # type: ignore[arg-type]
        elif self.kind == "bytes":
            text = format_bytes(self.value)  # type: ignore[arg-type]
        else:
            text = format_number(self.value)  # type: ignore[arg-type]
        return f"{self.name}{self.op}{text}"


@dataclass(frozen=True)
class LabelAnd:
    left: "LabelNode"
    right: "LabelNode"

    def __str__(self) -> str:
        return f"{_label_operand(self.left, self)} and {_label_operand(self.right, self, right=True)}"


@dataclass(frozen=True)
class LabelOr:
    left: "LabelNode"
    right: "LabelNode"

    def __str__(self) -> str:
        return f"{_label_operand(self.left, self)} or {_label_operand(self.right, self, right=True)}"


LabelNode = Union[LabelCompare, LabelAnd, LabelOr]


def _label_operand(child: LabelNode, parent: LabelNode, right: bool = False) -> str:
    # Parenthesise any nested right operand (Loki's grammar lets `,` grab everything after it) and an
    # `or` under an `and`.
    if isinstance(child, LabelCompare):
        return str(child)
    if right or (isinstance(child, LabelOr) and isinstance(parent, LabelAnd)):
        return f"({child})"
    return str(child)


@dataclass(frozen=True)
class LabelFilter:
    """`| status >= 500, level="error" or duration > 1s`: a label filter stage."""

    filter: LabelNode

    def __str__(self) -> str:
        return f"| {self.filter}"


@dataclass(frozen=True)
class LineFormat:
    """`| line_format "{{.a}}"`: the template is compiled (and checked) when the query is validated."""

    template: str

    def __str__(self) -> str:
        return f"| line_format {go_quote(self.template)}"


@dataclass(frozen=True)
class LabelFormatOp:
    """One `dst=src` rename (is_template False, `value` a label name) or `dst="tmpl"` template."""

    dst: str
    value: str
    is_template: bool

    def __str__(self) -> str:
        return f"{self.dst}={go_quote(self.value) if self.is_template else self.value}"


@dataclass(frozen=True)
class LabelFormat:
    """`| label_format a=b, c="{{.d}}"`."""

    ops: tuple[LabelFormatOp, ...]

    def __str__(self) -> str:
        return "| label_format " + ",".join(map(str, self.ops))


@dataclass(frozen=True)
class NamedMatcher:
    """An item of drop/keep: a bare label `name` (matcher None) or a matcher `name="v"`."""

    name: str
    matcher: Matcher | None = None

    def __str__(self) -> str:
        if self.matcher is None:
            return self.name
        m = self.matcher
        return f"{m.name}{m.op}{go_quote(m.value)}"


@dataclass(frozen=True)
class Drop:
    """`| drop a, b="v"`."""

    items: tuple[NamedMatcher, ...]

    def __str__(self) -> str:
        return "| drop " + ",".join(map(str, self.items))


@dataclass(frozen=True)
class Keep:
    """`| keep a, b="v"`."""

    items: tuple[NamedMatcher, ...]

    def __str__(self) -> str:
        return "| keep " + ",".join(map(str, self.items))


@dataclass(frozen=True)
class Decolorize:
    """`| decolorize`: strips ANSI colour sequences from the line."""

    def __str__(self) -> str:
        return "| decolorize"


Stage = Union[LineFilter, JSONParser, LogfmtParser, RegexpParser, PatternParser, Unpack, LabelFilter,
              LineFormat, LabelFormat, Drop, Keep, Decolorize]
PARSER_STAGES = (JSONParser, LogfmtParser, RegexpParser, PatternParser, Unpack)


@dataclass(frozen=True)
class LogQuery:
    """A log query: a stream selector and its pipeline (possibly empty)."""

    selector: StreamSelector
    pipeline: tuple[Stage, ...] = ()

    def __str__(self) -> str:
        return " ".join([str(self.selector), *map(str, self.pipeline)])

    def line_filters(self) -> list[LineFilter]:
        """The line filters that run before any other stage (those a store may push down)."""
        out = []
        for stage in self.pipeline:
            if not isinstance(stage, LineFilter):
                break
            out.append(stage)
        return out


# --------------------------------------------------------------------------------------------------
# Metric queries


@dataclass(frozen=True)
class Grouping:
    """`by (a, b)` or `without (a)`; `by ()` is kept (it is not the same as no grouping everywhere)."""

    without: bool
    labels: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{'without' if self.without else 'by'} ({', '.join(self.labels)})"


@dataclass(frozen=True)
class Unwrap:
    """`| unwrap x`, `| unwrap duration(x)` / `duration_seconds(x)` / `bytes(x)`, with the label
    filters written after it (`| unwrap x | __error__=""`), which run on the unwrapped samples."""

    label: str
    conv: str = ""  # "", "duration", "duration_seconds" or "bytes"
    filters: tuple[LabelNode, ...] = ()

    def __str__(self) -> str:
        out = f"| unwrap {self.conv}({self.label})" if self.conv else f"| unwrap {self.label}"
        return " ".join([out, *(f"| {f}" for f in self.filters)])


@dataclass(frozen=True)
class RangeAggregation:
    """`op(param, {sel} | pipeline | unwrap x [range] offset o) by (…)`."""

    op: str
    log: LogQuery
    range_ns: int
    offset_ns: int = 0
    unwrap: Unwrap | None = None
    param: float | None = None
    grouping: Grouping | None = None

    def __str__(self) -> str:
        inner = str(self.log)
        if self.unwrap is not None:
            inner += f" {self.unwrap}"
        inner += f" [{format_prom_duration(self.range_ns)}]"
        if self.offset_ns:
            inner += f" offset {format_duration(self.offset_ns)}"
        head = f"{format_number(self.param)}, " if self.param is not None else ""
        tail = f" {self.grouping}" if self.grouping is not None else ""
        return f"{self.op}({head}{inner}){tail}"


@dataclass(frozen=True)
class VectorAggregation:
    """`sum by (a) (expr)`, `topk(5, expr)`; param is the k of topk/bottomk/approx_topk."""

    op: str
    expr: "MetricExpr"
    grouping: Grouping | None = None
    param: int | None = None

    def __str__(self) -> str:
        group = f" {self.grouping} " if self.grouping is not None else ""
        head = f"{self.param}, " if self.param is not None else ""
        return f"{self.op}{group}({head}{self.expr})"


@dataclass(frozen=True)
class VectorMatching:
    """`on (…)` (on=True) or `ignoring (…)`, and `group_left (…)` / `group_right (…)`."""

    on: bool
    labels: tuple[str, ...] = ()
    group_side: str | None = None  # None (one-to-one), "left" (many-to-one) or "right" (one-to-many)
    include: tuple[str, ...] = ()

    def __str__(self) -> str:
        out = f"{'on' if self.on else 'ignoring'} ({', '.join(self.labels)})"
        if self.group_side:
            out += f" group_{self.group_side} ({', '.join(self.include)})"
        return out


BINARY_PRECEDENCE = {"or": 1, "and": 2, "unless": 2, "==": 3, "!=": 3, ">": 3, ">=": 3, "<": 3, "<=": 3,
                     "+": 4, "-": 4, "*": 5, "/": 5, "%": 5, "^": 6}
COMPARISON_OPS = frozenset({"==", "!=", ">", ">=", "<", "<="})
SET_OPS = frozenset({"and", "or", "unless"})


@dataclass(frozen=True)
class BinaryOp:
    """`lhs op [bool] [on/ignoring (…) [group_left/right (…)]] rhs`."""

    op: str
    lhs: "MetricExpr"
    rhs: "MetricExpr"
    bool_mod: bool = False
    matching: VectorMatching | None = None

    def __str__(self) -> str:
        op = self.op
        if self.bool_mod:
            op += " bool"
        if self.matching is not None:
            op += f" {self.matching}"
        return f"{_operand(self.lhs)} {op} {_operand(self.rhs)}"


def _operand(e: "MetricExpr") -> str:
    # Binary operands that are themselves binary operations are always parenthesised: simple and exact.
    return f"({e})" if isinstance(e, BinaryOp) else str(e)


@dataclass(frozen=True)
class NumberLiteral:
    value: float

    def __str__(self) -> str:
        return format_number(self.value)


@dataclass(frozen=True)
class VectorExpr:
    """`vector(1)`: a label-less sample at every step."""

    value: float

    def __str__(self) -> str:
        return f"vector({format_number(self.value)})"


@dataclass(frozen=True)
class LabelReplace:
    """`label_replace(expr, "dst", "replacement", "src", "regex")` (the regex is fully anchored)."""

    expr: "MetricExpr"
    dst: str
    replacement: str
    src: str
    regex: str

    def __str__(self) -> str:
        args = ", ".join(go_quote(s) for s in (self.dst, self.replacement, self.src, self.regex))
        return f"label_replace({self.expr}, {args})"


@dataclass(frozen=True)
class Invalid:
    """Internal to parsing: a node Loki builds with an error that its validation reports later, in
    tree order (`grouping not allowed for …`). `parse` never returns a tree holding one."""

    message: str
    literal: bool = False  # a number literal that is no float (binary operators check these first)

    def __str__(self) -> str:
        return f"<invalid: {self.message}>"


MetricExpr = Union[RangeAggregation, VectorAggregation, BinaryOp, NumberLiteral, VectorExpr, LabelReplace]
Expr = Union[LogQuery, MetricExpr]


# --------------------------------------------------------------------------------------------------
# Helpers for the planner and evaluator


def is_log_query(expr: Expr) -> bool:
    """True for a query that returns log lines (streams), False for a metric query."""
    return isinstance(expr, LogQuery)


def children(expr: Expr) -> tuple[Expr, ...]:
    if isinstance(expr, RangeAggregation):
        return (expr.log,)
    if isinstance(expr, (VectorAggregation, LabelReplace)):
        return (expr.expr,)
    if isinstance(expr, BinaryOp):
        return (expr.lhs, expr.rhs)
    return ()


def walk(expr: Expr) -> Iterator[Expr]:
    """Every node of the expression tree (not the pipeline stages), parents before children, left
    to right (without recursion: binary chains can be thousands deep)."""
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(children(node)))


def log_queries(expr: Expr) -> list[LogQuery]:
    """Every log query inside an expression, left to right."""
    return [e for e in walk(expr) if isinstance(e, LogQuery)]


def range_aggregations(expr: Expr) -> list[RangeAggregation]:
    return [e for e in walk(expr) if isinstance(e, RangeAggregation)]


def selectors(expr: Expr) -> list[StreamSelector]:
    """Every stream selector of an expression, left to right."""
    return [q.selector for q in log_queries(expr)]


def fold_literals(op: str, left: float, right: float) -> float:
    """The value of `left op right` for two literals, as Loki folds them while parsing
    (comparisons give 1 or 0 with or without `bool`; x/0 and x%0 give NaN)."""
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op == "/":
        return math.nan if right == 0 else left / right
    if op == "%":
        return math.nan if right == 0 else math.fmod(left, right)
    if op == "^":
        return go_pow(left, right)
    result = {"==": left == right, "!=": left != right, ">": left > right, ">=": left >= right,
              "<": left < right, "<=": left <= right}[op]
    return 1.0 if result else 0.0


def go_pow(x: float, y: float) -> float:
    """math.Pow with Go's answers where Python's would raise or go complex."""
    try:
        r = math.pow(x, y)
    except OverflowError:
        if x < 0 and y == int(y) and int(y) % 2:
            return -math.inf
        return math.inf
    except ValueError:
        if x == 0 and y < 0:
            return math.copysign(math.inf, x) if y == int(y) and int(y) % 2 else math.inf
        return math.nan
    return r

