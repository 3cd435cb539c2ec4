"""The value types of metric evaluation: `Series`, `Matrix` and the step-aligned `StepMatrix`.

A `Series` is what a query answers (only the points that exist). Between AST nodes the evaluator
carries a `StepMatrix`: every series aligned on the query's step grid as a 2-D array with a
presence mask, because Loki drops points whose window is empty and never pads a series, while NaN
is a legitimate value (`0/0`, `stddev` of nothing) and so cannot mark "no point".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np

from logyard.labels import LabelSet


@dataclass(frozen=True, slots=True)
class Series:
    """One result series: labels, int64 ns timestamps (ascending), float64 values."""

    labels: LabelSet
    ts: np.ndarray
    values: np.ndarray

    def __post_init__(self) -> None:
        if self.ts.shape != self.values.shape:
            raise AssertionError("BUG: Series timestamps and values differ in length")


Matrix = list[Series]


def series_from_dict(labels: Mapping[str, str], points: Mapping[int, float] | Iterable[tuple[int, float]]) -> Series:
    """A Series from a label dict and (ts_ns, value) pairs, sorted by time."""
    pairs = sorted(points.items() if isinstance(points, Mapping) else points)
    ts = np.array([p[0] for p in pairs], dtype=np.int64)
    values = np.array([p[1] for p in pairs], dtype=np.float64)
    return Series(LabelSet.from_dict(labels), ts, values)


def matrix_from_dict(d: Mapping[LabelSet, Mapping[int, float]] | Iterable[tuple[Mapping[str, str], Mapping[int, float]]]) -> Matrix:
    """A Matrix from {labels: {ts_ns: value}} (labels a LabelSet) or [(label dict, {ts_ns: value})]."""
    items = d.items() if isinstance(d, Mapping) else d
    return [series_from_dict(dict(lbs), pts) for lbs, pts in items]


@dataclass(frozen=True, slots=True)
class StepMatrix:
    """Series aligned on a step grid: `values[i, j]` is series i at `steps[j]` iff `present[i, j]`.

    Rows are not necessarily unique by labels until `merge_duplicates` (Loki merges samples that
    share a label set into one output series).
    """

    labels: tuple[LabelSet, ...]
    steps: np.ndarray      # int64 ns, ascending
    values: np.ndarray     # float64 (n_series, n_steps)
    present: np.ndarray    # bool (n_series, n_steps)

    def __post_init__(self) -> None:
        shape = (len(self.labels), len(self.steps))
        if self.values.shape != shape or self.present.shape != shape:
            raise AssertionError(f"BUG: StepMatrix arrays must be {shape}, got {self.values.shape} and {self.present.shape}")

    @classmethod
    def empty(cls, steps: np.ndarray) -> "StepMatrix":
        n = len(steps)
        return cls((), steps, np.zeros((0, n)), np.zeros((0, n), dtype=bool))

    @classmethod
    def from_matrix(cls, matrix: Matrix, steps: np.ndarray) -> "StepMatrix":
        """Align a Matrix onto `steps`; a point whose timestamp is not a step is an error."""
        steps = np.asarray(steps, dtype=np.int64)
        values = np.full((len(matrix), len(steps)), np.nan)
        present = np.zeros((len(matrix), len(steps)), dtype=bool)
        for i, s in enumerate(matrix):  # per series, not per point
            j = np.searchsorted(steps, s.ts)
            if len(j) and (j.max() >= len(steps) or not np.array_equal(steps[j], s.ts)):
                raise AssertionError("BUG: series point off the step grid")
            values[i, j] = s.values
            present[i, j] = True
        return cls(tuple(s.labels for s in matrix), steps, values, present)

    def __len__(self) -> int:
        return len(self.labels)

    def take_rows(self, rows: np.ndarray | list[int]) -> "StepMatrix":
        rows = np.asarray(rows, dtype=np.int64)
        return StepMatrix(tuple(self.labels[i] for i in rows.tolist()), self.steps, self.values[rows], self.present[rows])

    def with_present(self, present: np.ndarray) -> "StepMatrix":
        return StepMatrix(self.labels, self.steps, self.values, present)

    def merge_duplicates(self) -> "StepMatrix":
        """One row per label set; where two rows share a step, the first row's point wins."""
        first: dict[LabelSet, int] = {}
        owner = np.empty(len(self.labels), dtype=np.int64)
        for i, lbs in enumerate(self.labels):  # per series: label sets are Python objects
            owner[i] = first.setdefault(lbs, len(first))
        if len(first) == len(self.labels):
            return self
        n, m = len(first), len(self.steps)
        values = np.full((n, m), np.nan)
        present = np.zeros((n, m), dtype=bool)
        # Walk rows last to first so that the earliest present row is written last and wins.
        for i in range(len(self.labels) - 1, -1, -1):
            p = self.present[i]
            values[owner[i], p] = self.values[i, p]
            present[owner[i]] |= p
        return StepMatrix(tuple(first), self.steps, values, present)

    def to_matrix(self) -> Matrix:
        """The series with at least one point, sorted by labels as Loki sorts a matrix (`labels.Compare`)."""
        merged = self.merge_duplicates()
        out = []
        for i in np.flatnonzero(merged.present.any(axis=1)).tolist():
            p = merged.present[i]
            out.append(Series(merged.labels[i], merged.steps[p], merged.values[i, p]))
        # LabelSet tuples of sorted (name, value) pairs compare like Prometheus' labels.Compare.
        out.sort(key=lambda s: s.labels)
        return out
