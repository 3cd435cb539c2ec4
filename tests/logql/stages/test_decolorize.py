"""The decolorize stage, by row and by column."""

from __future__ import annotations

import pyarrow as pa

from logyard.logql.stages.decolorize import decolorize, decolorize_column


def test_decolorize_row_and_column_agree():
    lines = ["\x1b[33mINFO\x1b[0m:     x", "plain", "\x1b]0;title\x07after", "\x1b[1;31mred\x1b[K"]
    expected = ["INFO:     x", "plain", "after", "red"]
    assert [decolorize(x) for x in lines] == expected
    assert decolorize_column(pa.array(lines)).to_pylist() == expected
