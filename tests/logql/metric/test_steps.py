import numpy as np
import pytest

from logyard.errors import BadRequestError, LimitError
from logyard.logql.metric.steps import (
    TOO_MANY_POINTS,
    ZERO_OR_NEGATIVE_STEP,
    check_step,
    default_step_ns,
    instant_grid,
    range_grid,
)

from .conftest import case_grid, load_case, parse_step_ns, parse_time_ns

S = 1_000_000_000
T0 = 1767225600 * S  # 2026-01-01T00:00:00Z


@pytest.mark.parametrize(
    "start, end, step, first, last",
    [
        (T0 + 307 * S, T0 + 599 * S, 90 * S, T0 + 270 * S, T0 + 630 * S),  # m-align-start-end
        (T0, T0 + 600 * S, 300 * S, T0, T0 + 600 * S),                     # on the grid: kept
        (T0 + 1, T0 + 600 * S - 1, 300 * S, T0, T0 + 600 * S),              # 1 ns off: a step further
        (T0 + 60 * S, T0 + 60 * S, 60 * S, T0 + 60 * S, T0 + 60 * S),       # start == end: one point
    ],
)
def test_grid_rounds_start_down_and_end_up_to_the_step(start, end, step, first, last):
    grid = range_grid(start, end, step)
    assert grid[0] == first and grid[-1] == last
    assert np.all(np.diff(grid) == step)


def test_m_align_start_end_points_are_loki_points():
    grid = case_grid(load_case("m-align-start-end"))
    assert (grid // S).tolist() == [1767225870, 1767225960, 1767226050, 1767226140, 1767226230]


def test_step_is_carried_in_whole_milliseconds():
    grid = range_grid(T0, T0 + 10 * S, 1_234_567_891)
    assert int(grid[1] - grid[0]) == 1_234_000_000


@pytest.mark.parametrize(
    "seconds, step_s",
    [(1800, 7), (7200, 28), (100, 1), (0, 1), (250 * 3 + 249, 3)],
)
def test_default_step_is_range_over_250_in_whole_seconds_at_least_one(seconds, step_s):
    assert default_step_ns(T0, T0 + seconds * S) == step_s * S


def test_m_default_step_case_uses_7s():
    grid = case_grid(load_case("m-default-step"))
    assert int(grid[1] - grid[0]) == 7 * S


@pytest.mark.parametrize("step", [0, -S])
def test_zero_or_negative_step_is_rejected_with_loki_text(step):
    with pytest.raises(BadRequestError) as err:
        check_step(T0, T0 + 60 * S, step)
    assert err.value.status == 400 and str(err.value) == ZERO_OR_NEGATIVE_STEP


def test_more_than_11000_points_is_rejected_with_loki_text():
    case = load_case("e-too-many-points")
    p = case["request"]["params"]
    with pytest.raises(LimitError) as err:
        check_step(parse_time_ns(p["start"]), parse_time_ns(p["end"]), parse_step_ns(p["step"]))
    assert err.value.status == case["response"]["status"] == 400
    assert str(err.value) == TOO_MANY_POINTS == case["response"]["body"].strip()


def test_the_points_limit_is_the_one_given_and_named_in_the_text():
    check_step(T0, T0 + 100 * S, S, max_points=100)
    with pytest.raises(LimitError) as err:
        check_step(T0, T0 + 101 * S, S, max_points=100)
    assert str(err.value) == TOO_MANY_POINTS.replace("11,000", "100")


def test_a_grid_beyond_int64_nanoseconds_is_a_400():
    with pytest.raises(BadRequestError) as err:
        range_grid(-(2**63), 2**63 - 1, 3600 * S)
    assert err.value.status == 400


def test_exactly_11000_intervals_are_accepted():
    check_step(T0, T0 + 11_000 * S, S)
    with pytest.raises(LimitError):
        check_step(T0, T0 + 11_001 * S, S)


def test_instant_query_is_one_point_at_time():
    assert instant_grid(T0 + 123).tolist() == [T0 + 123]
