import numpy as np
import pytest

from logyard.labels import LabelSet
from logyard.logql.metric.series import Series, StepMatrix, matrix_from_dict, series_from_dict

STEPS = np.array([10, 20, 30], dtype=np.int64)


def test_series_from_dict_sorts_points_by_time():
    s = series_from_dict({"a": "1"}, {20: 2.0, 10: 1.0})
    assert s.labels == LabelSet.from_dict({"a": "1"}) and s.ts.tolist() == [10, 20] and s.values.tolist() == [1.0, 2.0]


def test_step_matrix_round_trips_a_matrix_sorted_by_labels():
    matrix = matrix_from_dict([({"b": "2"}, {30: 3.0}), ({"a": "1"}, {10: 1.0, 30: np.nan})])
    back = StepMatrix.from_matrix(matrix, STEPS).to_matrix()
    assert [s.labels.to_dict() for s in back] == [{"a": "1"}, {"b": "2"}]
    assert back[0].ts.tolist() == [10, 30] and np.isnan(back[0].values[1])


def test_point_off_the_grid_is_a_bug():
    with pytest.raises(AssertionError):
        StepMatrix.from_matrix([series_from_dict({}, {15: 1.0})], STEPS)


def test_rows_with_equal_labels_merge_and_the_first_present_point_wins():
    lbs = LabelSet.from_dict({"a": "1"})
    sm = StepMatrix((lbs, lbs), STEPS, np.array([[1.0, 0, 0], [9.0, 2.0, 0]]),
                    np.array([[True, False, False], [True, True, False]]))
    merged = sm.merge_duplicates()
    assert merged.labels == (lbs,)
    assert merged.values[0, :2].tolist() == [1.0, 2.0] and merged.present.tolist() == [[True, True, False]]


def test_series_without_points_are_left_out():
    sm = StepMatrix((LabelSet(),), STEPS, np.zeros((1, 3)), np.zeros((1, 3), dtype=bool))
    assert sm.to_matrix() == []


def test_series_rejects_mismatched_arrays():
    with pytest.raises(AssertionError):
        Series(LabelSet(), np.zeros(2, dtype=np.int64), np.zeros(3))
