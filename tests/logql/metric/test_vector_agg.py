import math

import numpy as np
import pytest

from logyard.labels import LabelSet
from logyard.logql.metric.range_agg import range_step_matrix
from logyard.logql.metric.series import StepMatrix
from logyard.logql.metric.vector_agg import aggregate, group_labels, sort_order

from .conftest import actual_points, assert_same_points, case_grid, expected_points, load_case

S = 1_000_000_000
NAN = float("nan")


def L(**kv):
    return LabelSet.from_dict(kv)


def sm(rows, n_steps=None):
    """A StepMatrix from [(labels, [value or None per step])]."""
    n = n_steps or len(rows[0][1])
    values = np.array([[NAN if v is None else v for v in r] for _, r in rows], dtype=float).reshape(len(rows), n)
    present = np.array([[v is not None for v in r] for _, r in rows], dtype=bool).reshape(len(rows), n)
    return StepMatrix(tuple(l for l, _ in rows), np.arange(n, dtype=np.int64) * S, values, present)


def as_dict(m: StepMatrix):
    return {str(l): [None if not p else float(v) for v, p in zip(vals, pres)]
            for l, vals, pres in zip(m.labels, m.values, m.present)}


@pytest.mark.parametrize(
    "grouping, without, expected",
    [
        (["a"], False, L(a="1")),
        ([], False, L()),
        (["a", "zz"], False, L(a="1")),
        (["a"], True, L(b="2")),
        (["__name__"], True, L(a="1", b="2")),
    ],
)
def test_by_keeps_only_named_labels_and_without_drops_them_and_name(grouping, without, expected):
    assert group_labels(L(a="1", b="2", __name__="x"), grouping, without) == expected


INPUT = sm([
    (L(g="x", i="1"), [1.0, None, 4.0]),
    (L(g="x", i="2"), [3.0, 5.0, None]),
    (L(g="y", i="3"), [10.0, None, None]),
])


@pytest.mark.parametrize(
    "op, expected",
    [
        ("sum", {'{g="x"}': [4.0, 5.0, 4.0], '{g="y"}': [10.0, None, None]}),
        ("count", {'{g="x"}': [2.0, 1.0, 1.0], '{g="y"}': [1.0, None, None]}),
        ("avg", {'{g="x"}': [2.0, 5.0, 4.0], '{g="y"}': [10.0, None, None]}),
        ("min", {'{g="x"}': [1.0, 5.0, 4.0], '{g="y"}': [10.0, None, None]}),
        ("max", {'{g="x"}': [3.0, 5.0, 4.0], '{g="y"}': [10.0, None, None]}),
        ("stdvar", {'{g="x"}': [1.0, 0.0, 0.0], '{g="y"}': [0.0, None, None]}),
        ("stddev", {'{g="x"}': [1.0, 0.0, 0.0], '{g="y"}': [0.0, None, None]}),
    ],
)
def test_aggregation_per_step_ignores_absent_samples(op, expected):
    assert as_dict(aggregate(op, INPUT, ["g"])) == expected


def test_max_skips_nan_unless_all_are_nan():
    m = sm([(L(i="1"), [NAN, NAN]), (L(i="2"), [2.0, NAN])])
    out = aggregate("max", m)
    assert out.values[0, 0] == 2.0 and math.isnan(out.values[0, 1]) and out.present.all()


def test_aggregating_nothing_gives_nothing():
    assert len(aggregate("sum", StepMatrix.empty(np.arange(3, dtype=np.int64)))) == 0


TOP_INPUT = sm([
    (L(g="x", i="1"), [1.0, NAN]),
    (L(g="x", i="2"), [3.0, 2.0]),
    (L(g="x", i="3"), [2.0, None]),
    (L(g="y", i="4"), [NAN, 7.0]),
])


@pytest.mark.parametrize(
    "op, k, grouping, expected",
    [
        ("topk", 1, [], {'{g="x", i="2"}': [3.0, None], '{g="y", i="4"}': [None, 7.0]}),
        ("topk", 2, ["g"], {'{g="x", i="2"}': [3.0, 2.0], '{g="x", i="3"}': [2.0, None],
                            '{g="x", i="1"}': [None, NAN], '{g="y", i="4"}': [NAN, 7.0]}),
        ("bottomk", 1, ["g"], {'{g="x", i="1"}': [1.0, None], '{g="x", i="2"}': [None, 2.0],
                               '{g="y", i="4"}': [NAN, 7.0]}),
        ("topk", 0, [], {}),
    ],
)
def test_topk_bottomk_keep_sample_labels_and_rank_nan_last(op, k, grouping, expected):
    out = aggregate(op, TOP_INPUT, grouping, param=k)
    got = {l: v for l, v in as_dict(out).items() if any(x is not None for x in v)}
    assert {l: [None if x is None else ("nan" if math.isnan(x) else x) for x in v] for l, v in got.items()} == \
        {l: [None if x is None else ("nan" if math.isnan(x) else x) for x in v] for l, v in expected.items()}


def test_topk_ties_are_broken_by_label_order():
    m = sm([(L(i="b"), [1.0]), (L(i="a"), [1.0]), (L(i="c"), [1.0])])
    out = aggregate("topk", m, param=2)
    assert [str(l) for l, p in zip(out.labels, out.present[:, 0]) if p] == ['{i="b"}', '{i="a"}']


@pytest.mark.parametrize(
    "descending, expected",
    [(False, ["b", "c", "a", "d", "e"]), (True, ["c", "b", "a", "d", "e"])],
)
def test_sort_orders_by_value_with_nan_then_absent_last(descending, expected):
    labels = [L(i=x) for x in "abcde"]
    order = sort_order(labels, np.array([NAN, 1.0, 2.0, NAN, 0.0]), np.array([True, True, True, True, False]), descending)
    assert [labels[i].get("i") for i in order] == expected


# --- Loki's answers on the conformance corpus ------------------------------------------------

AIXCL = {"compose_project": "aixcl"}


def _range(corpus, case, op, range_s, **selector):
    labels, ids, ts, nbytes = corpus.select(**selector)
    return range_step_matrix(op, labels, ids, ts, nbytes, case_grid(case), range_s * S)


@pytest.mark.parametrize(
    "case_id, outer, inner, inner_by, op, range_s, selector",
    [
        ("m-sum-by-count", None, "sum", ["compose_service"], "count_over_time", 300, AIXCL),
        ("m-align-start-end", None, "sum", [], "count_over_time", 120, {"compose_service": "pgadmin"}),
        ("m-default-step", None, "sum", [], "count_over_time", 300, {"compose_service": "pgadmin"}),
        ("m-step-duration", None, "sum", [], "count_over_time", 300, {"compose_service": "nginx"}),
        ("m-bytes-rate", None, "sum", [], "bytes_rate", 300, {"compose_service": "open-webui"}),
        ("m-instant-nanos", None, "sum", ["stream"], "rate", 300, {"compose_service": "ollama"}),
        ("m-stdvar", ("stdvar", [], None), "sum", ["compose_service"], "count_over_time", 600, AIXCL),
        ("m-topk-range", ("topk", [], 3), "sum", ["compose_service"], "rate", 300, AIXCL),
        ("m-topk-by", ("topk", ["compose_service"], 1), "sum", ["compose_service", "stream"], "count_over_time",
         3600, AIXCL),
        ("m-bottomk-instant", ("bottomk", [], 2), "sum", ["container"], "count_over_time", 600, AIXCL),
    ],
)
def test_vector_aggregation_matches_loki(corpus, case_id, outer, inner, inner_by, op, range_s, selector):
    case = load_case(case_id)
    got = aggregate(inner, _range(corpus, case, op, range_s, **selector), inner_by)
    if outer:
        got = aggregate(outer[0], got, outer[1], param=outer[2])
    assert_same_points(actual_points(got), expected_points(case))


def test_sum_without_matches_loki(corpus):
    case = load_case("m-sum-without")
    inner = _range(corpus, case, "rate", 300, compose_project="aixcl", stream="stderr")
    got = aggregate("sum", inner, ["container", "stream", "service_name", "detected_level"], without=True)
    assert_same_points(actual_points(got), expected_points(case))


@pytest.mark.parametrize(
    "case_id, op, by, range_op, selector",
    [
        ("m-sort-instant", "sort", ["filename"], "bytes_over_time", {"job": "varlogs"}),
        ("m-sort-desc-instant", "sort_desc", ["compose_service"], "count_over_time", AIXCL),
    ],
)
def test_sort_instant_matches_loki_in_order(corpus, case_id, op, by, range_op, selector):
    case = load_case(case_id)
    got = aggregate(op, aggregate("sum", _range(corpus, case, range_op, 3600, **selector), by))
    want = [(r["metric"], float(r["value"][1])) for r in case["response"]["body"]["data"]["result"]]
    rows = [(l.to_dict(), float(v)) for l, v, p in zip(got.labels, got.values[:, 0], got.present[:, 0]) if p]
    assert rows == want


@pytest.mark.parametrize(
    "case_id, op, by, range_s, selector",
    [
        ("m-stddev-by", "stddev", ["compose_service"], 600, {"compose_project": "aixcl", "stream": "stderr"}),
        ("m-by-detected-level", "sum", ["detected_level"], 600, AIXCL),
    ],
)
def test_aggregation_over_loki_series_matches_loki(loki_series, case_id, op, by, range_s, selector):
    case = load_case(case_id)
    got = aggregate(op, _range(loki_series, case, "count_over_time", range_s, **selector), by)
    assert_same_points(actual_points(got, drop=()), expected_points(case, drop=()))
