import math
import re

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logyard.labels import LabelSet
from logyard.logql.functions import RANGE, names
from logyard.logql.metric import range_agg
from logyard.logql.metric.range_agg import (
    absent_over_time,
    evaluate_range,
    evaluate_range_batch,
    range_step_matrix,
)
from logyard.logql.metric.vector_agg import aggregate

from .conftest import actual_points, assert_same_points, case_grid, expected_points, load_case

S = 1_000_000_000
RANGE_OPS = names(RANGE)


def reference(op, ts, values, t_end, range_ns, param=None, unwrap=False):
    """Loki's per-window Go loops, transcribed one window at a time (the slow, obvious way)."""
    w = [(t, v) for t, v in zip(ts, values) if t_end - range_ns < t <= t_end]
    if not w:
        return None
    xs = [v for _, v in w]
    sec = range_ns / 1e9
    if op == "count_over_time":
        return float(len(w))
    if op == "rate":
        return (sum(xs) if unwrap else len(w)) / sec
    if op in ("sum_over_time", "bytes_over_time"):
        return sum(xs)
    if op == "bytes_rate":
        return sum(xs) / sec
    if op == "avg_over_time":
        return sum(xs) / len(xs)
    if op in ("max_over_time", "min_over_time"):
        best = xs[0]
        for v in xs:
            if (v > best if op == "max_over_time" else v < best) or math.isnan(best):
                best = v
        return best
    if op in ("stdvar_over_time", "stddev_over_time"):
        count = mean = aux = 0.0
        for v in xs:  # Welford, as Loki
            count += 1
            delta = v - mean
            mean += delta / count
            aux += delta * (v - mean)
        return aux / count if op == "stdvar_over_time" else math.sqrt(aux / count)
    if op == "quantile_over_time":
        s = sorted(xs)
        rank = param * (len(s) - 1)
        lo = max(0, math.floor(rank))
        hi = min(len(s) - 1, lo + 1)
        return s[lo] * (1 - (rank - math.floor(rank))) + s[hi] * (rank - math.floor(rank))
    if op == "first_over_time":
        return xs[0]
    if op == "last_over_time":
        return xs[-1]
    if op == "absent_over_time":
        return 1.0
    if op == "rate_counter":
        if len(w) < 2:
            return 0.0
        result = xs[-1] - xs[0]
        last = 0.0
        for v in xs:
            if v < last:
                result += last
            last = v
        result = np.float64(result)  # Go float division: x/0 is ±Inf or NaN, not an exception
        start = t_end - range_ns
        to_start = (w[0][0] - start) / 1e9
        to_end = (t_end - w[-1][0]) / 1e9
        sampled = np.float64((w[-1][0] - w[0][0]) / 1e9)
        avg = sampled / (len(w) - 1)
        if to_start >= avg * 1.1:
            to_start = avg / 2
        to_zero = sampled * (xs[0] / result) if result > 0 and xs[0] >= 0 else to_start
        to_start = min(to_start, to_zero)
        if to_end >= avg * 1.1:
            to_end = avg / 2
        with np.errstate(all="ignore"):
            return float(result * ((sampled + to_start + to_end) / sampled) / sec)
    raise AssertionError(op)


def close(a, b):
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


# --- window boundaries -------------------------------------------------------------------------

def test_window_excludes_its_start_and_includes_its_end():
    ts = np.array([0, 10, 20, 30], dtype=np.int64) * S
    res = evaluate_range("count_over_time", ts, np.ones(4), np.array([20 * S]), 10 * S)
    assert res.values.tolist() == [1.0]  # only ts=20: ts=10 is the exclusive start


def test_offset_shifts_the_window_back_but_not_the_reported_step():
    ts = np.array([5, 15], dtype=np.int64) * S
    res = evaluate_range("count_over_time", ts, np.ones(2), np.array([20 * S, 30 * S]), 10 * S, offset_ns=10 * S)
    assert res.values.tolist() == [1.0, 1.0] and res.present.all()


def test_empty_window_is_absent_not_zero():
    res = evaluate_range("count_over_time", np.array([100 * S]), np.ones(1), np.array([50 * S, 100 * S]), 10 * S)
    assert res.present.tolist() == [False, True]
    assert math.isnan(res.values[0])


# --- each operation, one table ---------------------------------------------------------------

TS = np.array([1, 2, 3, 4, 6], dtype=np.int64) * S
VALUES = np.array([4.0, 1.0, 9.0, 2.0, 5.0])


@pytest.mark.parametrize(
    "op, param, unwrap, expected",
    [
        ("count_over_time", None, False, 5.0),
        ("rate", None, False, 0.5),                 # lines per second over the 10 s range
        ("rate", None, True, 2.1),                  # with unwrap: the sum per second
        ("bytes_over_time", None, False, 21.0),
        ("bytes_rate", None, False, 2.1),
        ("sum_over_time", None, False, 21.0),
        ("avg_over_time", None, False, 4.2),
        ("min_over_time", None, False, 1.0),
        ("max_over_time", None, False, 9.0),
        ("stdvar_over_time", None, False, 7.76),    # population variance
        ("stddev_over_time", None, False, math.sqrt(7.76)),
        ("quantile_over_time", 0.5, False, 4.0),
        ("quantile_over_time", 0.9, False, 7.4),    # interpolated between 5 and 9
        ("quantile_over_time", -1, False, -math.inf),
        ("quantile_over_time", 2, False, math.inf),
        ("first_over_time", None, False, 4.0),
        ("last_over_time", None, False, 5.0),
        ("absent_over_time", None, False, 1.0),
    ],
)
def test_operation_value_over_one_window(op, param, unwrap, expected):
    res = evaluate_range(op, TS, VALUES, np.array([10 * S]), 10 * S, param=param, unwrap=unwrap)
    assert res.present.tolist() == [True]
    assert close(float(res.values[0]), expected)


@pytest.mark.parametrize(
    "values, expected",
    [
        ([float("nan"), 3.0], 3.0),
        ([3.0, float("nan")], 3.0),
        ([float("nan"), float("nan")], float("nan")),
    ],
)
def test_max_over_time_skips_nan_unless_all_are_nan(values, expected):
    res = evaluate_range("max_over_time", np.array([1, 2]) * S, np.array(values), np.array([5 * S]), 10 * S)
    assert close(float(res.values[0]), expected)


def test_rate_counter_of_a_single_sample_is_zero_not_absent():
    res = evaluate_range("rate_counter", np.array([5 * S]), np.array([7.0]), np.array([10 * S]), 10 * S)
    assert res.present.tolist() == [True] and res.values.tolist() == [0.0]


def test_rate_counter_adds_the_value_before_a_reset():
    ts = np.array([2, 4, 6, 8], dtype=np.int64) * S
    values = np.array([10.0, 20.0, 5.0, 15.0])  # reset after 20: increase is 10 + 5 + 10 = 25
    res = evaluate_range("rate_counter", ts, values, np.array([9 * S]), 10 * S)
    assert close(float(res.values[0]), reference("rate_counter", ts.tolist(), values.tolist(), 9 * S, 10 * S))
    # 25 over the 6 s sampled, extrapolated by 1 s to the start (2 s gap > 1.1 avg? no: 1 < 2.2) and
    # 1 s to the end: 25 * 8 / 6 per 10 s.
    assert close(float(res.values[0]), 25 * 8 / 6 / 10)


def test_quantile_sorts_nan_first_like_loki():
    values = np.array([float("nan"), 1.0, 2.0])
    res = evaluate_range("quantile_over_time", np.array([1, 2, 3]) * S, values, np.array([5 * S]), 10 * S, param=0.0)
    assert math.isnan(res.values[0])


# --- the vectorized paths against the per-window reference ---------------------------------

@st.composite
def batches(draw):
    n_series = draw(st.integers(1, 4))
    ids, ts, values = [], [], []
    for s in range(n_series):
        times = sorted(draw(st.lists(st.integers(0, 120), max_size=25)))
        ids += [s] * len(times)
        ts += [t * S for t in times]
        values += draw(st.lists(st.floats(-1e3, 1e3, allow_nan=False, width=32), min_size=len(times),
                                max_size=len(times)))
    grid = np.arange(draw(st.integers(-20, 20)) * S, 150 * S, draw(st.integers(1, 40)) * S, dtype=np.int64)
    return n_series, np.array(ids, np.int64), np.array(ts, np.int64), np.array(values), grid


@settings(max_examples=60, deadline=None)
@given(batches(), st.sampled_from(sorted(RANGE_OPS)), st.integers(1, 60), st.integers(0, 30), st.booleans())
def test_batch_matches_per_window_reference(batch, op, range_s, offset_s, unwrap):
    n_series, ids, ts, values, grid = batch
    res = evaluate_range_batch(op, ids, ts, values, n_series, grid, range_s * S, offset_s * S, param=0.75,
                               unwrap=unwrap)
    for s in range(n_series):
        mine = ids == s
        for j, t in enumerate(grid.tolist()):
            want = reference(op, ts[mine].tolist(), values[mine].tolist(), t - offset_s * S, range_s * S, 0.75, unwrap)
            assert res.present[s, j] == (want is not None)
            if want is not None:
                assert close(float(res.values[s, j]), want), (op, s, t)


def test_series_too_far_apart_for_one_key_space_are_chunked():
    # A span of 2^61 ns lets only two series share the int64 key space.
    ts = np.array([0, 1 << 61, 5, (1 << 61) - 1, 7], dtype=np.int64)
    ids = np.array([0, 0, 1, 1, 2], dtype=np.int64)
    grid = np.array([10, 1 << 61], dtype=np.int64)
    res = evaluate_range_batch("count_over_time", ids, ts, np.ones(5), 3, grid, 100)
    assert res.present.tolist() == [[True, True], [True, True], [True, False]]


def test_gathering_in_small_chunks_gives_the_same_quantiles(monkeypatch):
    rng = np.random.default_rng(7)
    ts = np.sort(rng.integers(0, 1000, 400)) * S
    values = rng.normal(100, 20, 400)
    grid = np.arange(0, 1000, 7, dtype=np.int64) * S
    whole = evaluate_range("quantile_over_time", ts, values, grid, 60 * S, param=0.9)
    monkeypatch.setattr(range_agg, "_GATHER_CHUNK", 50)
    chunked = evaluate_range("quantile_over_time", ts, values, grid, 60 * S, param=0.9)
    np.testing.assert_array_equal(whole.values, chunked.values)


def test_absent_over_time_is_one_where_no_series_has_samples():
    inner = range_step_matrix("absent_over_time", [LabelSet.from_dict({"a": "1"})], np.zeros(1, np.int64),
                              np.array([10 * S]), np.ones(1), np.array([10 * S, 30 * S]), 5 * S)
    out = absent_over_time(inner, LabelSet.from_dict({"job": "x"}))
    assert out.labels == (LabelSet.from_dict({"job": "x"}),)
    assert out.present.tolist() == [[False, True]] and out.values[0, 1] == 1.0


# --- Loki's answers on the conformance corpus ------------------------------------------------

def _range(corpus, case, op, range_s, offset_s=0, **selector):
    labels, ids, ts, nbytes = corpus.select(**selector)
    return range_step_matrix(op, labels, ids, ts, nbytes, case_grid(case), range_s * S, offset_s * S)


@pytest.mark.parametrize(
    "case_id, op, range_s, offset_s, selector",
    [
        ("m-count", "count_over_time", 300, 0, {"compose_service": "ollama"}),
        ("m-rate-15s", "rate", 60, 0, {"compose_service": "postgres", "stream": "stdout"}),
        ("m-offset", "count_over_time", 600, 600, {"compose_service": "watchtower"}),
        ("m-bytes-over-time", "bytes_over_time", 600, 0, {"job": "varlogs"}),
    ],
)
def test_range_aggregation_of_a_selector_matches_loki(corpus, case_id, op, range_s, offset_s, selector):
    case = load_case(case_id)
    # detected_level splits Loki's series; compare with it summed away.
    got = _range(corpus, case, op, range_s, offset_s, **selector)
    assert_same_points(actual_points(got), expected_points(case))


def test_absent_over_time_across_the_promtail_gap_matches_loki(corpus):
    case = load_case("m-absent-gap")
    inner = _range(corpus, case, "absent_over_time", 300, compose_service="promtail")
    got = absent_over_time(inner, LabelSet.from_dict({"compose_service": "promtail"}))
    assert_same_points(actual_points(got), expected_points(case))


_LOGFMT = re.compile(r'(\w+)=("[^"]*"|\S*)')


def logfmt_unwrap(field, contains, by):
    """A test stand-in for `|= contains | logfmt | unwrap field`, grouped `by` (stream or parsed labels)."""
    def extract(labels, line):
        if contains not in line:
            return None
        d = labels.to_dict()
        d.update((k, v.strip('"')) for k, v in _LOGFMT.findall(line))
        return (LabelSet((k, d[k]) for k in by if k in d), float(d[field])) if field in d else None
    return extract


def json_unwrap(field, by):
    """A test stand-in for `| json | unwrap field | __error__=""`, grouped `by` parsed labels."""
    def extract(labels, line):
        try:
            d = orjson.loads(line)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(d, dict) or field not in d:
            return None
        return LabelSet((k, d[k]) for k in by if isinstance(d.get(k), str)), float(d[field])
    return extract


GRAFANA = {"compose_service": "grafana", "stream": "stdout"}
PROMETHEUS = {"compose_service": "prometheus", "stream": "stdout"}
WEBUI = {"compose_service": "open-webui", "stream": "stdout"}


@pytest.mark.parametrize(
    "case_id, op, param, range_s, extract, selector, outer_sum",
    [
        # Every line is its own series (logfmt adds a unique `t`), so sum(rate) = sum of sizes / 300.
        ("m-rate-unwrap", "rate", None, 300, logfmt_unwrap("size", "Request Completed", ()), GRAFANA, True),
        ("m-first-unwrap", "first_over_time", None, 600,
         logfmt_unwrap("to_segment", "Creating checkpoint", ("container",)), PROMETHEUS, False),
        ("m-last-unwrap", "last_over_time", None, 600,
         logfmt_unwrap("from_segment", "Creating checkpoint", ("compose_service",)), PROMETHEUS, False),
        ("m-stdvar-unwrap", "stdvar_over_time", None, 900,
         logfmt_unwrap("time_ms", "Request Completed", ("method",)), GRAFANA, False),
        ("m-quantile-unwrap", "quantile_over_time", 0.95, 600, json_unwrap("latency_ms", ("model",)), WEBUI, False),
        ("m-stddev-unwrap", "stddev_over_time", None, 600, json_unwrap("latency_ms", ("user",)), WEBUI, False),
        ("m-min-unwrap", "min_over_time", None, 300, json_unwrap("latency_ms", ("model",)), WEBUI, False),
    ],
)
def test_unwrapped_range_aggregation_matches_loki(corpus, case_id, op, param, range_s, extract, selector, outer_sum):
    case = load_case(case_id)
    labels, ids, ts, values = corpus.extract(extract, **selector)
    got = range_step_matrix(op, labels, ids, ts, values, case_grid(case), range_s * S, param=param, unwrap=True)
    if outer_sum:
        got = aggregate("sum", got)
    assert_same_points(actual_points(got), expected_points(case))


def test_rate_counter_of_one_sample_series_is_zero_as_loki_answers(corpus):
    # logfmt gives each checkpoint line a unique `ts` label: one sample per series, so rate_counter
    # is 0 at every step and so is the sum (m-rate-counter).
    case = load_case("m-rate-counter")

    def per_line(labels, line):
        m = re.search(r"to_segment=(\d+)", line)
        if "Creating checkpoint" not in line or not m:
            return None
        return LabelSet.from_dict({"compose_service": labels.get("compose_service"), "line": line}), float(m.group(1))

    labels, ids, ts, values = corpus.extract(per_line, **PROMETHEUS)
    got = range_step_matrix("rate_counter", labels, ids, ts, values, case_grid(case), 600 * S)
    got = aggregate("sum", got, ["compose_service"])
    assert_same_points(actual_points(got), expected_points(case))


@pytest.mark.parametrize(
    "case_id, range_s, selector",
    [
        ("m-count", 300, {"compose_service": "ollama"}),
        # `| session="s-007"` filters on structured metadata, which split the series
        ("m-sm-series", 600, {"compose_service": "open-webui", "stream": "stdout", "session": "s-007"}),
    ],
)
def test_series_carry_detected_level_and_structured_metadata_like_loki(loki_series, case_id, range_s, selector):
    case = load_case(case_id)
    got = _range(loki_series, case, "count_over_time", range_s, **selector)
    assert_same_points(actual_points(got, drop=()), expected_points(case, drop=()))


@pytest.mark.parametrize(
    "matchers, expected",
    [
        ([("compose_service", "=", "promtail")], {"compose_service": "promtail"}),
        ([("a", "=", "1"), ("b", "=~", "x.*")], {"a": "1"}),
        ([("a", "=", "1"), ("a", "=", "2")], {}),        # a name matched twice is left out
        ([("a", "=", "1"), ("a", "!=", "2")], {}),
        ([("__name__", "=", "x"), ("a", "=", "1")], {"a": "1"}),
    ],
)
def test_absent_labels_are_the_unambiguous_equality_matchers(matchers, expected):
    from logyard.labels import Matcher
    from logyard.logql.metric.range_agg import absent_labels

    assert absent_labels([Matcher(*m) for m in matchers]) == LabelSet.from_dict(expected)


@pytest.mark.parametrize("op", sorted(RANGE_OPS))
@pytest.mark.parametrize("n_series", [0, 2])
def test_no_samples_give_no_points(op, n_series):
    empty = np.zeros(0, dtype=np.int64)
    res = evaluate_range_batch(op, empty, empty, np.zeros(0), n_series, np.array([S, 2 * S]), S, param=0.5)
    assert res.present.shape == (n_series, 2) and not res.present.any()


def test_sort_samples_orders_by_series_then_time_keeping_ties_in_input_order():
    from logyard.logql.metric.range_agg import sort_samples

    ids, ts, values = sort_samples(np.array([1, 0, 1, 1]), np.array([5, 9, 3, 5]), np.array([1.0, 2.0, 3.0, 4.0]))
    assert ids.tolist() == [0, 1, 1, 1] and ts.tolist() == [9, 3, 5, 5] and values.tolist() == [2.0, 3.0, 1.0, 4.0]
