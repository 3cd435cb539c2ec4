import numpy as np
import orjson
import pytest

from logyard.labels import LabelSet
from logyard.logql.metric.binop import scalar_binop, vector
from logyard.logql.metric.range_agg import range_step_matrix
from logyard.logql.metric.result_json import encode_response, matrix_data, scalar_data, vector_data
from logyard.logql.metric.series import StepMatrix
from logyard.logql.metric.vector_agg import aggregate

from .conftest import case_grid, load_case, parse_time_ns

S = 1_000_000_000


def loki_data(case):
    data = dict(case["response"]["body"]["data"])
    data.pop("stats", None)
    return data


def _sum(corpus, case, range_s, by=(), **selector):
    labels, ids, ts, nbytes = corpus.select(**selector)
    inner = range_step_matrix("count_over_time", labels, ids, ts, nbytes, case_grid(case), range_s * S)
    return aggregate("sum", inner, list(by))


def test_matrix_is_loki_body_byte_for_byte(corpus):
    case = load_case("m-align-start-end")
    data = matrix_data(_sum(corpus, case, 120, compose_service="pgadmin"))
    assert data == loki_data(case)
    assert b'"values":[[1767225870,"36"],[1767225960,"28"]' in encode_response(data)


def test_vector_const_matrix_is_loki_body():
    case = load_case("m-vector-const")
    assert matrix_data(vector(42, case_grid(case))) == loki_data(case)


def test_scalar_time_is_in_milliseconds_like_loki():
    case = load_case("m-scalar-pow")
    time_ns = parse_time_ns(case["request"]["params"]["time"])
    assert scalar_data(scalar_binop("^", 2, 3), time_ns) == loki_data(case)


@pytest.mark.parametrize(
    "case_id, outer, k, by, range_s, keep_order",
    [
        ("m-bottomk-instant", "bottomk", 2, ["container"], 600, False),   # sorted by labels
        ("m-sort-desc-instant", "sort_desc", None, ["compose_service"], 3600, True),  # sorted by value
    ],
)
def test_vector_order_is_loki_order(corpus, case_id, outer, k, by, range_s, keep_order):
    case = load_case(case_id)
    got = aggregate(outer, _sum(corpus, case, range_s, by, compose_project="aixcl"), param=k)
    assert vector_data(got, keep_order=keep_order) == loki_data(case)


def test_vector_leaves_out_absent_samples_and_merges_equal_labels():
    sm = StepMatrix((LabelSet.from_dict({"a": "1"}), LabelSet.from_dict({"a": "1"}), LabelSet.from_dict({"b": "2"})),
                    np.array([1767229200_123_000_000]), np.array([[np.nan], [0.25], [3.0]]),
                    np.array([[False], [True], [False]]))
    assert vector_data(sm) == {"resultType": "vector",
                               "result": [{"metric": {"a": "1"}, "value": [1767229200.123, "0.25"]}]}
    assert b'"value":[1767229200.123,"0.25"]' in encode_response(vector_data(sm))


def test_response_wraps_data_with_status_and_stats():
    body = orjson.loads(encode_response(scalar_data(1.0, 5_000_000), {"summary": {}}))
    assert body == {"status": "success", "data": {"resultType": "scalar", "result": [5, "1"], "stats": {"summary": {}}}}
