"""Property tests: every tree prints as LogQL that parses back to the same tree, and any text either
parses or raises a logyard error."""

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from logyard.errors import LogyardError
from logyard.labels import Matcher
from logyard.logql.syntax import ast
from logyard.logql.syntax.lexer import FUNCTIONS, KEYWORDS
from logyard.logql.syntax.parser import parse, parse_unvalidated

RESERVED = {k for k in KEYWORDS if k.isidentifier()}

names = st.from_regex(r"\A[a-z_][a-z0-9_]{0,6}\Z").filter(lambda s: s not in RESERVED and s not in FUNCTIONS)
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
regexes = st.sampled_from(["a.*", ".+", "(x|y)", "[0-9]+", "", "\\d{3}"])
numbers = st.floats(allow_nan=False, allow_infinity=False, width=64)
durations = st.integers(min_value=-(10**15), max_value=10**15)


@st.composite
def matchers(draw):
    op = draw(st.sampled_from(["=", "!=", "=~", "!~"]))
    value = draw(regexes if op in ("=~", "!~") else texts)
    return Matcher(draw(names), op, value)


selectors = st.lists(matchers(), min_size=1, max_size=3).map(lambda ms: ast.StreamSelector(tuple(ms)))


@st.composite
def line_filters(draw):
    op = draw(st.sampled_from(["|=", "!=", "|~", "!~", "|>", "!>"]))
    is_ip = draw(st.booleans())
    if op in ("|=", "|~", "|>"):
        n = draw(st.integers(0, 2))
        return ast.LineFilter(op, draw(texts), tuple(draw(texts) for _ in range(n)), is_ip,
                              tuple(draw(st.booleans()) for _ in range(n)))
    return ast.LineFilter(op, draw(texts), (), is_ip)


@st.composite
def label_compares(draw):
    kind = draw(st.sampled_from(["string", "number", "duration", "bytes", "ip"]))
    if kind == "string":
        op = draw(st.sampled_from(["=", "!=", "=~", "!~"]))
        return ast.LabelCompare(draw(names), op, kind, draw(regexes if "~" in op else texts))
    if kind == "ip":
        return ast.LabelCompare(draw(names), draw(st.sampled_from(["=", "!="])), kind, draw(texts))
    op = draw(st.sampled_from(["==", "!=", ">", ">=", "<", "<="]))
    value = {"number": numbers, "duration": durations, "bytes": st.integers(0, 2**53)}[kind]
    return ast.LabelCompare(draw(names), op, kind, draw(value))


label_trees = st.recursive(
    label_compares(),
    lambda inner: st.builds(ast.LabelAnd, inner, inner) | st.builds(ast.LabelOr, inner, inner),
    max_leaves=5,
)
extractions = st.lists(st.builds(ast.LabelExtraction, names, texts), max_size=2).map(tuple)
stages = st.one_of(
    line_filters(),
    st.builds(ast.JSONParser, extractions),
    st.builds(ast.LogfmtParser, st.booleans(), st.booleans(), extractions),
    st.builds(ast.LabelFilter, label_trees),
    st.builds(ast.LineFormat, texts),
    st.builds(ast.LabelFormat, st.lists(st.builds(ast.LabelFormatOp, names, names, st.just(False))
                                        | st.builds(ast.LabelFormatOp, names, texts, st.just(True)),
                                        min_size=1, max_size=2).map(tuple)),
    st.builds(ast.Drop, st.lists(st.builds(ast.NamedMatcher, names), min_size=1, max_size=2).map(tuple)),
    st.just(ast.Unpack()),
    st.just(ast.Decolorize()),
)


def _parsable(pipeline) -> bool:
    # `| drop a != "x"` is a drop matcher to Loki's grammar, so a drop followed by a `!=` / `!~` line
    # filter is a tree no query can spell (and the parser never builds).
    return not any(isinstance(a, ast.Drop) and isinstance(b, ast.LineFilter) and b.op in ("!=", "!~")
                   for a, b in zip(pipeline, pipeline[1:]))


log_queries = st.builds(ast.LogQuery, selectors, st.lists(stages, max_size=4).map(tuple).filter(_parsable))
groupings = st.none() | st.builds(ast.Grouping, st.booleans(), st.lists(names, max_size=2).map(tuple))


@st.composite
def range_aggregations(draw):
    unwrap = draw(st.none() | st.builds(ast.Unwrap, names, st.sampled_from(["", "bytes", "duration"]),
                                        st.lists(label_trees, max_size=1).map(tuple)))
    if unwrap is None:
        op, grouping = draw(st.sampled_from(["rate", "count_over_time"])), None
    else:
        op, grouping = draw(st.sampled_from(["max_over_time", "quantile_over_time"])), draw(groupings)
    param = draw(st.floats(0, 1)) if op == "quantile_over_time" else None
    return ast.RangeAggregation(op, draw(log_queries), draw(st.integers(0, 10**9)) * 1_000_000,
                                draw(durations), unwrap, param, grouping)


@st.composite
def matchings(draw):
    side = draw(st.sampled_from([None, "left", "right"]))
    include = tuple(draw(st.lists(names, max_size=2))) if side else ()
    return ast.VectorMatching(draw(st.booleans()), tuple(draw(st.lists(names, max_size=2))), side, include)


metric_exprs = st.recursive(
    range_aggregations() | st.builds(ast.VectorExpr, st.floats(min_value=0, allow_infinity=False)),
    lambda inner: st.one_of(
        st.builds(ast.VectorAggregation, st.sampled_from(["sum", "max"]), inner, groupings),
        st.builds(ast.VectorAggregation, st.just("topk"), inner, groupings, st.integers(1, 99)),
        st.builds(ast.BinaryOp, st.sampled_from(list(ast.BINARY_PRECEDENCE)), inner, inner, st.booleans(),
                  st.none() | matchings()),
        st.builds(ast.LabelReplace, inner, names, texts, names, regexes),
    ),
    max_leaves=3,
)


@settings(max_examples=60, deadline=None)
@given(log_queries)
def test_log_query_trees_print_and_parse_back(tree):
    assert parse_unvalidated(str(tree)) == tree


@settings(max_examples=60, deadline=None)
@given(metric_exprs)
def test_metric_trees_print_and_parse_back(tree):
    assert parse_unvalidated(str(tree)) == tree


alphabet = st.sampled_from(list(string.printable) + ["{", "}", "|=", " [5m]", "rate(", "sum by (", '"',
                                                     "`", "µ", "模", "=~", " or ", " and ", "5m", "10KB"])


@settings(max_examples=200, deadline=None)
@given(st.lists(alphabet, max_size=40).map("".join))
def test_any_text_parses_or_raises_a_logyard_error(text):
    try:
        parse(text)
    except LogyardError:
        pass
