import re

import numpy as np
import pytest

from logyard.errors import BadRequestError, LimitError
from logyard.labels import LabelSet
from logyard.logql.metric.limits import check_pipeline_errors, check_series_limit
from logyard.logql.metric.range_agg import range_step_matrix
from logyard.logql.metric.series import StepMatrix

from .conftest import case_grid, load_case

S = 1_000_000_000


def L(**kv):
    return LabelSet.from_dict(kv)


def rows(*pairs):
    """StepMatrix over 2 steps from (labels, [present per step])."""
    present = np.array([p for _, p in pairs], dtype=bool).reshape(len(pairs), 2)
    return StepMatrix(tuple(l for l, _ in pairs), np.array([1, 2], dtype=np.int64), np.ones(present.shape), present)


def test_errored_series_fail_with_loki_text_naming_the_error():
    sm = rows((L(a="1"), [True, True]), (L(a="2", __error__="LogfmtParserErr"), [False, True]))
    with pytest.raises(BadRequestError) as err:
        check_pipeline_errors(sm)
    text = str(err.value)
    assert err.value.status == 400
    assert text.startswith("pipeline error: 'LogfmtParserErr' for series: '{__error__=\"LogfmtParserErr\", a=\"2\"}'.\n")
    assert text.endswith('(e.g | unwrap latency | __error__="" )\n')


@pytest.mark.parametrize(
    "sm",
    [
        rows((L(a="1"), [True, True])),
        rows((L(__error__="X"), [False, False])),                           # never present
        rows((L(__error__="X", __preserve_error__="true"), [True, True])),  # asked for
    ],
)
def test_no_pipeline_error_without_a_present_unpreserved_error(sm):
    check_pipeline_errors(sm)


def test_pipeline_error_text_matches_loki_up_to_the_series(corpus):
    case = load_case("m-json-no-agg-error")
    sm = rows((L(__error__="JSONParserErr", container="c"), [True, True]))
    with pytest.raises(BadRequestError) as err:
        check_pipeline_errors(sm)
    assert str(err.value).split(" for series:")[0] == case["response"]["body"].split(" for series:")[0]
    assert err.value.status == case["response"]["status"]


def test_series_limit_counts_distinct_series_with_points():
    sm = rows((L(a="1"), [True, False]), (L(a="1"), [False, True]), (L(a="2"), [True, True]), (L(a="3"), [False, False]))
    check_series_limit(sm, 2)
    with pytest.raises(LimitError):
        check_series_limit(sm, 1)


def test_series_limit_matches_loki_on_logfmt_labels(corpus):
    # `| logfmt` gives each grafana line its own series (a unique `t`): far above 500.
    case = load_case("e-max-series")
    pairs = re.compile(r'(\w+)=("[^"]*"|\S*)')

    def per_line(labels, line):
        return labels.with_labels((k, v.strip('"')) for k, v in pairs.findall(line)), 1.0

    labels, ids, ts, values = corpus.extract(per_line, compose_service="grafana", stream="stdout")
    sm = range_step_matrix("count_over_time", labels, ids, ts, values, case_grid(case), 600 * S)
    with pytest.raises(LimitError) as err:
        check_series_limit(sm)
    assert str(err.value) == case["response"]["body"] and err.value.status == case["response"]["status"]
