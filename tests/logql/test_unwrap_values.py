"""`unwrap_values` converts many texts at once (plain decimals and one-unit durations over whole
columns) exactly as `unwrap_value` converts them one by one: the same value to the bit, and the
same verdict on whether each converts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logyard.logql.stages import LabelsBuilder
from logyard.logql.unwrap import unwrap_value, unwrap_values

PIECES = ["0", "1", "7", "9", "12", "999999", "1234567", ".", "-", "+", "e", "E5", "ns", "us", "µs", "μs",
          "ms", "s", "m", "h", "d", " ", "x", "inf", "0x1", "_"]


def one_by_one(texts: list[str], conv: str) -> tuple[list[float], list[bool]]:
    values, ok = [], []
    for text in texts:
        probe = LabelsBuilder({})
        values.append(unwrap_value(text, conv, probe))
        ok.append(not probe.has_err())
    return values, ok


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(["", "duration", "duration_seconds", "bytes"]),
       st.lists(st.lists(st.sampled_from(PIECES), min_size=1, max_size=5).map("".join), min_size=1, max_size=30))
def test_a_column_converts_as_each_text_does(conv, texts):
    values, ok = unwrap_values(texts, conv)
    want_values, want_ok = one_by_one(texts, conv)
    assert ok.tolist() == want_ok, texts
    assert values.view(np.int64).tolist() == np.array(want_values).view(np.int64).tolist(), texts


@pytest.mark.parametrize("conv, texts", [
    ("duration", ["42.624ms", "1.5s", ".5h", "1.s", "1.5ns", "2.999ns", ".9999us", "250µs", "7μs", "999999.999999h",
                  "1234567s", "ms", "-1s"]),
    ("", ["122.59", "-3", "007", "1.000000000000001", "123456789012345.123456789012345", "1e5", "0x10", "--1"]),
])
def test_the_common_forms_and_their_edges(conv, texts):
    values, ok = unwrap_values(texts, conv)
    want_values, want_ok = one_by_one(texts, conv)
    assert ok.tolist() == want_ok
    assert values.tolist() == want_values
