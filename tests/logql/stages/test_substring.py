"""The buffer-scanning substring filter answers exactly as Arrow's per-string match_substring."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logyard.logql.stages.substring import contains_mask


@pytest.mark.parametrize("typ", [pa.string(), pa.large_string()])
@pytest.mark.parametrize("needle", ["ab", "b", "abc", "é", "x" * 3])
def test_matches_arrow_on_sliced_arrays_with_nulls(typ, needle):
    arr = pa.array(["xab", None, "a", "bab", "", "abab", "é", "xxx", "a", "bc"], typ).slice(1)
    want = np.asarray(pc.fill_null(pc.match_substring(arr, needle), False))
    assert contains_mask(arr, needle).tolist() == want.tolist()


def test_an_occurrence_across_two_rows_matches_neither():
    arr = pa.array(["xa", "by"])
    assert contains_mask(arr, "ab").tolist() == [False, False]


def test_a_needle_in_most_rows_still_answers_right():
    arr = pa.array(["a" * 5] * 1000 + ["b"])
    m = contains_mask(arr, "a")
    assert m.sum() == 1000 and not m[-1]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="abc\n", max_size=8), max_size=30), st.text(alphabet="abc", min_size=1, max_size=3))
def test_random_columns_agree_with_arrow(lines, needle):
    arr = pa.array(lines, pa.string())
    want = np.asarray(pc.fill_null(pc.match_substring(arr, needle), False), dtype=bool)
    assert contains_mask(arr, needle).tolist() == want.tolist()


@pytest.mark.parametrize("needle", ["error", "a.b", "(x)", "é\\", "[*]"])
def test_large_columns_answer_as_arrow_through_the_re2_kernel(needle, monkeypatch):
    import logyard.logql.stages.substring as sub

    monkeypatch.setattr(sub, "RE2_MIN_BYTES", 16)  # the large-column path on a small column
    arr = pa.array(["an error", "a.b", "aXb", "(x)", "x", "é\\", "é", "[*]", "*", None, "errorerror"], pa.large_string())
    want = np.asarray(pc.fill_null(pc.match_substring(arr, needle), False), dtype=bool)
    assert contains_mask(arr, needle).tolist() == want.tolist()
    assert contains_mask(arr.slice(2), needle).tolist() == want[2:].tolist()
