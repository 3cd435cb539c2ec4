import math

import numpy as np
import pytest

from logyard.errors import LogyardError
from logyard.labels import LabelSet
from logyard.logql.metric.binop import (
    DUPLICATE_SERIES,
    GROUPING_NOT_UNIQUE,
    MANY_TO_ONE,
    MANY_TO_ONE_IMPLICIT,
    ONE_TO_MANY,
    VectorMatching,
    apply_op,
    label_replace,
    scalar_binop,
    set_binop,
    vector,
    vector_binop,
    vector_scalar_binop,
)
from logyard.logql.metric.range_agg import range_step_matrix
from logyard.logql.metric.vector_agg import aggregate

from .conftest import actual_points, assert_same_points, case_grid, expected_points, load_case
from .test_vector_agg import L, as_dict, sm

S = 1_000_000_000
NAN = float("nan")


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


@pytest.mark.parametrize(
    "op, a, b, expected",
    [
        ("+", 1, 2, 3), ("-", 1, 2, -1), ("*", 3, 2, 6), ("/", 3, 2, 1.5),
        ("/", 1, 0, NAN),      # Loki: NaN, not +Inf
        ("/", 0, 0, NAN),
        ("%", 7, 0, NAN),      # Loki: NaN
        ("%", -7, 3, -1),      # Go's math.Mod keeps the dividend's sign
        ("%", 7.5, 2, 1.5),
        ("^", 2, 3, 8), ("^", NAN, 0, 1),
        ("==", 1, 1, 1), ("!=", 1, 1, 0), (">", 2, 1, 1), (">=", 1, 1, 1), ("<", 2, 1, 0), ("<=", 1, 2, 1),
        ("==", NAN, NAN, 0),
    ],
)
def test_scalar_ops_follow_loki(op, a, b, expected):
    assert same(scalar_binop(op, a, b), expected)
    assert same(float(apply_op(op, np.array([a]), np.array([b]))[0]), expected)


VEC = sm([(L(a="1"), [500.0, 100.0, None])])


@pytest.mark.parametrize(
    "op, scalar, scalar_left, return_bool, expected",
    [
        (">", 400, False, False, [500.0, None, None]),   # filter keeps the vector's value
        ("<", 400, True, False, [500.0, None, None]),    # 400 < v: still the vector's value
        (">", 400, False, True, [1.0, 0.0, None]),
        ("-", 1000, True, False, [500.0, 900.0, None]),
        ("/", 0, False, False, [NAN, NAN, None]),
    ],
)
def test_vector_scalar(op, scalar, scalar_left, return_bool, expected):
    out = vector_scalar_binop(op, VEC, scalar, scalar_left, return_bool)
    assert out.labels == VEC.labels
    got = as_dict(out)['{a="1"}']
    assert all((g is None and e is None) or (g is not None and e is not None and same(g, e))
               for g, e in zip(got, expected)), got


LHS = sm([
    (L(svc="a", stream="out"), [6.0, 2.0]),
    (L(svc="a", stream="err"), [4.0, None]),
    (L(svc="b", stream="out"), [3.0, 3.0]),
])
RHS = sm([(L(svc="a"), [2.0, 1.0]), (L(svc="b"), [3.0, None]), (L(svc="c"), [1.0, 1.0])])


def test_one_to_one_on_keeps_only_the_on_labels():
    out = vector_binop("/", aggregate("sum", LHS, ["svc"]), RHS, VectorMatching(on=True, labels=("svc",)))
    assert as_dict(out) == {'{svc="a"}': [5.0, 2.0], '{svc="b"}': [1.0, None]}


def test_group_left_keeps_the_many_side_labels_and_includes_from_the_one_side():
    rhs = sm([(L(svc="a", team="t1"), [2.0, 1.0]), (L(svc="b", team=""), [3.0, None])])
    out = vector_binop("*", LHS, rhs, VectorMatching(MANY_TO_ONE, on=True, labels=("svc",), include=("team",)))
    assert as_dict(out) == {
        '{stream="out", svc="a", team="t1"}': [12.0, 2.0],
        '{stream="err", svc="a", team="t1"}': [8.0, None],
        '{stream="out", svc="b"}': [9.0, None],  # empty include value: the label is deleted
    }


def test_group_right_swaps_sides_but_keeps_left_minus_right():
    out = vector_binop("-", RHS, LHS, VectorMatching(ONE_TO_MANY, on=True, labels=("svc",)))
    assert as_dict(out)['{stream="out", svc="a"}'] == [-4.0, -1.0]


def test_comparison_between_vectors_filters_and_keeps_the_left_value():
    out = vector_binop(">", aggregate("sum", LHS, ["svc"]), RHS)
    assert as_dict(out) == {'{svc="a"}': [10.0, 2.0], '{svc="b"}': [None, None]}
    out = vector_binop(">", aggregate("sum", LHS, ["svc"]), RHS, return_bool=True)
    assert as_dict(out) == {'{svc="a"}': [1.0, 1.0], '{svc="b"}': [0.0, None]}


@pytest.mark.parametrize(
    "lhs, rhs, matching, message",
    [
        # two right-hand samples share a signature at step 0
        (RHS, LHS, VectorMatching(on=True, labels=("svc",)), DUPLICATE_SERIES.format(side="right")),
        (LHS, RHS, VectorMatching(ONE_TO_MANY, on=True, labels=("svc",)), DUPLICATE_SERIES.format(side="left")),
        # two left-hand samples match one right-hand sample without group_left
        (LHS, RHS, VectorMatching(on=True, labels=("svc",)), MANY_TO_ONE_IMPLICIT),
        # group_left whose result labels collide
        (LHS, RHS, VectorMatching(MANY_TO_ONE, on=True, labels=("svc",), include=()), None),
    ],
)
def test_matching_errors_use_loki_texts(lhs, rhs, matching, message):
    if message is None:
        vector_binop("+", lhs, rhs, matching)  # unique result labels: fine
        return
    with pytest.raises(LogyardError) as err:
        vector_binop("+", lhs, rhs, matching)
    assert str(err.value) == message and err.value.status == 500


def test_grouping_labels_must_make_many_to_one_results_unique():
    # group_left(team) overwrites the only label that told the two left-hand samples apart.
    lhs = sm([(L(svc="a", team="x"), [1.0]), (L(svc="a", team="y"), [1.0])])
    rhs = sm([(L(svc="a", team="z"), [1.0])])
    with pytest.raises(LogyardError) as err:
        vector_binop("+", lhs, rhs, VectorMatching(MANY_TO_ONE, on=True, labels=("svc",), include=("team",)))
    assert str(err.value) == GROUPING_NOT_UNIQUE


def test_duplicates_at_different_steps_are_not_an_error():
    rhs = sm([(L(svc="a", v="1"), [1.0, None]), (L(svc="a", v="2"), [None, 2.0])])
    out = vector_binop("+", aggregate("sum", LHS, ["svc"]), rhs, VectorMatching(on=True, labels=("svc",)))
    assert as_dict(out) == {'{svc="a"}': [11.0, 4.0]}


@pytest.mark.parametrize(
    "op, expected",
    [
        ("and", {'{svc="a"}': [10.0, 2.0], '{svc="b"}': [3.0, None]}),
        ("unless", {'{svc="a"}': [None, None], '{svc="b"}': [None, 3.0]}),
        ("or", {'{svc="a"}': [10.0, 2.0], '{svc="b"}': [3.0, 3.0], '{svc="c"}': [1.0, 1.0]}),
    ],
)
def test_set_operators_match_per_step(op, expected):
    assert as_dict(set_binop(op, aggregate("sum", LHS, ["svc"]), RHS)) == expected


def test_vector_is_one_unlabelled_series_at_every_step():
    out = vector(42, np.array([1, 2], dtype=np.int64))
    assert out.labels == (LabelSet(),) and out.values.tolist() == [[42.0, 42.0]] and out.present.all()


@pytest.mark.parametrize(
    "replacement, regex, src_value, expected",
    [
        ("$1", r"aixcl-ollama-(\d+)", "aixcl-ollama-2", "2"),
        ("${1}x", r"a-(\d+)", "a-7", "7x"),
        ("$1x", r"a-(\d+)", "a-7", None),            # `$1x` names group "1x": empty, so dst is deleted
        ("$n-$$", r"a-(?P<n>\d+)", "a-7", "7-$"),
        ("$", r"a-(\d+)", "a-7", "$"),
        ("v", r"a-\d", "xa-7", "old"),               # anchored: no match, nothing changes
        ("$2", r"(a)|(b)", "a", None),               # a group that did not take part is empty
    ],
)
def test_label_replace_expands_like_go(replacement, regex, src_value, expected):
    m = sm([(L(src=src_value, dst="old"), [1.0])])
    out = label_replace(m, "dst", replacement, "src", regex)
    assert out.labels[0].to_dict().get("dst") == expected


def test_label_replace_on_missing_source_matches_the_empty_string():
    out = label_replace(sm([(L(a="1"), [1.0])]), "dst", "x$1", "nope", "(.*)")
    assert out.labels[0].to_dict() == {"a": "1", "dst": "x"}


# --- Loki's answers on the conformance corpus ------------------------------------------------

AIXCL = {"compose_project": "aixcl"}


def _sum(corpus, case, op, range_s, by=(), **selector):
    labels, ids, ts, nbytes = corpus.select(**selector)
    return aggregate("sum", range_step_matrix(op, labels, ids, ts, nbytes, case_grid(case), range_s * S), list(by))


@pytest.mark.parametrize("case_id, op", [("m-and", "and"), ("m-or", "or"), ("m-unless", "unless")])
def test_set_operators_match_loki(corpus, case_id, op):
    case = load_case(case_id)
    lhs = _sum(corpus, case, "rate", 300, ["compose_service"], compose_service__re="ollama|nginx")
    rhs = _sum(corpus, case, "rate", 300, ["compose_service"], compose_service__re="nginx|grafana")
    assert_same_points(actual_points(vector_binop(op, lhs, rhs)), expected_points(case))


def test_ratio_matches_loki(corpus):
    case = load_case("m-ratio")
    got = vector_binop("/", _sum(corpus, case, "rate", 300, compose_project="aixcl", stream="stderr"),
                       _sum(corpus, case, "rate", 300, **AIXCL))
    assert_same_points(actual_points(got), expected_points(case))


@pytest.mark.parametrize(
    "case_id, op, scalar, return_bool, range_s",
    [("m-cmp-bool", ">", 400, True, 300), ("m-cmp-filter", ">", 400, False, 300), ("m-modulo", "%", 7, False, 600)],
)
def test_vector_scalar_matches_loki(corpus, case_id, op, scalar, return_bool, range_s):
    case = load_case(case_id)
    inner = _sum(corpus, case, "count_over_time", range_s, ["compose_service"], **AIXCL)
    got = vector_scalar_binop(op, inner, scalar, return_bool=return_bool)
    assert_same_points(actual_points(got), expected_points(case))


def test_group_left_matches_loki(corpus):
    case = load_case("m-group-left")
    lhs = _sum(corpus, case, "count_over_time", 600, ["compose_service", "stream"], **AIXCL)
    rhs = _sum(corpus, case, "count_over_time", 600, ["compose_service"], **AIXCL)
    got = vector_binop("/", lhs, rhs, VectorMatching(MANY_TO_ONE, on=False, labels=("stream",)))
    assert_same_points(actual_points(got), expected_points(case))


def test_label_replace_matches_loki(corpus):
    case = load_case("m-label-replace")
    inner = _sum(corpus, case, "rate", 300, ["container"], compose_service="ollama")
    got = label_replace(inner, "replica", "$1", "container", r"aixcl-ollama-(\d+)")
    assert_same_points(actual_points(got), expected_points(case))


def test_or_vector_zero_fills_the_gap_like_loki(corpus):
    case = load_case("m-or-vector0")
    got = vector_binop("or", _sum(corpus, case, "count_over_time", 300, compose_service="promtail"),
                       vector(0, case_grid(case)))
    assert_same_points(actual_points(got), expected_points(case))


def test_vector_const_matches_loki():
    case = load_case("m-vector-const")
    assert_same_points(actual_points(vector(42, case_grid(case))), expected_points(case))


def test_arithmetic_is_left_associative_over_loki_series(loki_series):
    # max - min + count, where nginx/open-webui trace_id metadata make hundreds of stdout series
    case = load_case("m-max-min-count")
    labels, ids, ts, nbytes = loki_series.select(**AIXCL)
    inner = range_step_matrix("count_over_time", labels, ids, ts, nbytes, case_grid(case), 600 * S)
    by = ["stream"]
    got = vector_binop("+", vector_binop("-", aggregate("max", inner, by), aggregate("min", inner, by)),
                       aggregate("count", inner, by))
    assert_same_points(actual_points(got, drop=()), expected_points(case, drop=()))
