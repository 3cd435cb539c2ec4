"""The checks Loki's engine makes on metric results, with its error texts (pkg/logqlmodel/error.go).

- A range aggregation whose series still carry `__error__` fails the query ("pipeline error"),
  unless `__preserve_error__="true"`; the evaluator calls `check_pipeline_errors` on each range
  aggregation's output (Loki's RangeVectorEvaluator), before any vector aggregation.
- The final result may hold at most `max_query_series` distinct series (default 500).
"""

from __future__ import annotations

import numpy as np

from logyard.errors import BadRequestError, LimitError
from logyard.logql.metric.series import StepMatrix

ERROR_LABEL = "__error__"
PRESERVE_ERROR_LABEL = "__preserve_error__"
DEFAULT_MAX_SERIES = 500

SERIES_LIMIT = (
    "maximum number of series ({limit}) reached for a single query; consider reducing query cardinality by "
    "adding more specific stream selectors, reducing the time range, or aggregating results with functions "
    "like sum(), count() or topk()"
)
PIPELINE_ERROR = (
    "pipeline error: '{error}' for series: '{series}'.\n"
    "Use a label filter to intentionally skip this error. (e.g | __error__!=\"{error}\").\n"
    "To skip all potential errors you can match empty errors.(e.g __error__=\"\")\n"
    "The label filter can also be specified after unwrap. (e.g | unwrap latency | __error__=\"\" )\n"
)


def check_pipeline_errors(sm: StepMatrix) -> None:
    """Raise Loki's pipeline error (400) for the first errored series present at the earliest step.

    Loki names whichever errored series its map iteration meets first; here it is the first by labels.
    """
    names = [
        i for i, lbs in enumerate(sm.labels)
        if any(k == ERROR_LABEL for k, _ in lbs) and lbs.get(PRESERVE_ERROR_LABEL) != "true"
    ]  # per series: label sets are Python objects
    if not names:
        return
    rows = np.array(names, dtype=np.int64)
    present = sm.present[rows]
    steps = np.flatnonzero(present.any(axis=0))
    if len(steps) == 0:
        return
    at = [names[i] for i in np.flatnonzero(present[:, steps[0]]).tolist()]
    lbs = min((sm.labels[i] for i in at))
    raise BadRequestError(PIPELINE_ERROR.format(error=lbs.get(ERROR_LABEL), series=str(lbs)))


def check_series_limit(sm: StepMatrix, max_series: int = DEFAULT_MAX_SERIES) -> None:
    """Raise Loki's series limit error when the result holds more than `max_series` series."""
    if max_series <= 0:
        return
    distinct = {sm.labels[i] for i in np.flatnonzero(sm.present.any(axis=1)).tolist()}
    if len(distinct) > max_series:
        raise LimitError(SERIES_LIMIT.format(limit=max_series))
