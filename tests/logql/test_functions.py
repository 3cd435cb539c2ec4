"""The function table: every entry lexes as its token, parses by its rules and has its kernel."""

import numpy as np
import pytest

from logyard.errors import ParseError
from logyard.labels import LabelSet
from logyard.logql import functions as fn
from logyard.logql.metric import additive, range_agg, vector_agg
from logyard.logql.metric.series import StepMatrix
from logyard.logql.syntax.lexer import tokenize
from logyard.logql.syntax.parser import parse

S = 1_000_000_000
RANGE_FUNCTIONS = [f for f in fn.FUNCTIONS if f.kind == fn.RANGE]
VECTOR_FUNCTIONS = [f for f in fn.FUNCTIONS if f.kind == fn.VECTOR_AGG]


def test_names_and_tokens_are_unique():
    assert len(fn.FUNCTION_BY_NAME) == len(fn.FUNCTIONS)
    assert len(fn.FUNCTION_BY_TOKEN) == len(fn.FUNCTIONS)


@pytest.mark.parametrize("f", fn.FUNCTIONS, ids=lambda f: f.name)
def test_a_name_is_its_token_only_when_called(f):
    assert [t.kind for t in tokenize(f"{f.name}(")][:2] == [f.token_name, "("]
    assert tokenize(f"{f.name} ")[0].kind == "IDENTIFIER"


def _range_query(f, unwrap: bool, grouping: str = "") -> str:
    param = "0.5, " if f.param == fn.PHI else ""
    stage = " | unwrap x" if unwrap else ""
    return f'{f.name}({param}{{a="b"}}{stage} [5m]){grouping}'


@pytest.mark.parametrize("f", RANGE_FUNCTIONS, ids=lambda f: f.name)
def test_range_function_rules(f):
    for unwrap, allowed in ((True, f.unwrap != fn.FORBIDDEN), (False, f.unwrap != fn.REQUIRED)):
        if allowed:
            assert str(parse(_range_query(f, unwrap))) == _range_query(f, unwrap)
        else:
            with pytest.raises(ParseError, match=f"invalid aggregation {f.name} with{'' if unwrap else 'out'} unwrap"):
                parse(_range_query(f, unwrap))
    grouped = _range_query(f, f.unwrap == fn.REQUIRED, " by (a)")
    if f.grouping == fn.NEVER:
        with pytest.raises(ParseError, match=f"grouping not allowed for {f.name} aggregation"):
            parse(grouped)
    else:
        assert str(parse(grouped)) == grouped


@pytest.mark.parametrize("f", RANGE_FUNCTIONS, ids=lambda f: f.name)
def test_every_range_function_has_its_kernel(f):
    ids = np.zeros(3, dtype=np.int64)
    ts = np.array([1, 2, 3], dtype=np.int64) * S
    values = np.array([1.0, 4.0, 2.0])
    grid = np.array([3, 4], dtype=np.int64) * S
    param = 0.5 if f.param == fn.PHI else None
    out = range_agg.evaluate_range_batch(f.name, ids, ts, values, 1, grid, 5 * S, param=param)
    assert out.present.all()
    if f.additive:
        sm = additive.additive_step_matrix(f.name, [LabelSet([("a", "b")])], ids, ts, values, grid, 5 * S)
        np.testing.assert_allclose(sm.values, out.values)


@pytest.mark.parametrize("f", VECTOR_FUNCTIONS, ids=lambda f: f.name)
def test_every_evaluated_vector_function_has_its_kernel(f):
    sm = StepMatrix((LabelSet([("a", "1")]), LabelSet([("a", "2")])), np.array([0, 1], dtype=np.int64),
                    np.array([[1.0, 2.0], [3.0, 4.0]]), np.ones((2, 2), dtype=bool))
    param = 1 if f.param == fn.K else None
    if f.evaluated:
        assert vector_agg.aggregate(f.name, sm, param=param).present.any()
    else:
        with pytest.raises(AssertionError, match="BUG: unknown vector aggregation"):
            vector_agg.aggregate(f.name, sm, param=param)


@pytest.mark.parametrize("f", [f for f in fn.FUNCTIONS if f.kind == fn.CONVERSION], ids=lambda f: f.name)
def test_every_conversion_has_its_kernel(f):
    assert f.convert is not None
    assert parse(f'sum_over_time({{a="b"}} | unwrap {f.name}(x) [5m])').unwrap.conv == f.name
