"""The step grid a metric query is evaluated on, and Loki's checks of the `step` parameter.

Loki's query frontend splits every metric range query and step-aligns it first: start is rounded
down and end rounded up to a multiple of the step (`metricQuerySplitter.alignStartEnd`), so the
points are `floor(start/step)*step, ..., ceil(end/step)*step`; a start or end already on a step stays.
The step itself travels as whole milliseconds (`LokiRequest.Step`), so finer steps are truncated.
"""

from __future__ import annotations

import math

import numpy as np

from logyard.errors import BadRequestError, LimitError

NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000
MAX_POINTS = 11_000

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1

# Ours: Loki's int64 arithmetic would wrap around; times are int64 nanoseconds (1677 to 2262).
GRID_OUT_OF_RANGE = "the query's start and end, aligned to the step, are beyond the years 1677 to 2262"
# Texts of Loki's pkg/loghttp/query.go.
ZERO_OR_NEGATIVE_STEP = "zero or negative query resolution step widths are not accepted. Try a positive integer"
TOO_MANY_POINTS_TEMPLATE = (
    "exceeded maximum resolution of {points:,} points per time series. Try increasing the value of the step parameter"
)
TOO_MANY_POINTS = TOO_MANY_POINTS_TEMPLATE.format(points=MAX_POINTS)


def default_step_ns(start_ns: int, end_ns: int) -> int:
    """The step when the request has none: `max(1, floor((end-start)/250))` whole seconds."""
    return max(1, math.floor((end_ns - start_ns) / NS_PER_S / 250)) * NS_PER_S


def check_step(start_ns: int, end_ns: int, step_ns: int, max_points: int = MAX_POINTS) -> None:
    """Reject a step Loki rejects; the point count is checked on the unaligned range, as Loki does.

    Loki hard-codes 11,000 points; here it is `limits.max_query_points`, and the text names the limit."""
    if step_ns <= 0:
        raise BadRequestError(ZERO_OR_NEGATIVE_STEP)
    # Go's Duration division truncates: exactly 11,000 intervals pass.
    if (end_ns - start_ns) // step_ns > max_points:
        raise LimitError(TOO_MANY_POINTS_TEMPLATE.format(points=max_points))


def grid_bounds(start_ns: int, end_ns: int, step_ns: int) -> tuple[int, int, int]:
    """The first and last evaluation timestamps of a range query and its step, as `range_grid`
    has them (not checked against int64)."""
    # Quirk: the step is carried in milliseconds between the frontend and the querier.
    step = max(step_ns // NS_PER_MS, 1) * NS_PER_MS
    first = start_ns - start_ns % step
    last = end_ns if end_ns % step == 0 else end_ns + step - end_ns % step
    return first, last, step


def range_grid(start_ns: int, end_ns: int, step_ns: int) -> np.ndarray:
    """The evaluation timestamps (int64 ns) of a range query; call `check_step` first."""
    first, last, step = grid_bounds(start_ns, end_ns, step_ns)
    if first < INT64_MIN or last > INT64_MAX:
        raise BadRequestError(GRID_OUT_OF_RANGE)
    return np.arange(first, last + 1, step, dtype=np.int64)


def instant_grid(time_ns: int) -> np.ndarray:
    """An instant query is evaluated at exactly one point, `time`."""
    return np.array([time_ns], dtype=np.int64)
