"""`needles.LineMatch` for the engine's fake sources: the rows of a table whose line it keeps, by
Python's `in` on each line (the plainest statement of what storage's line scan must return)."""

from __future__ import annotations

import pyarrow as pa

from logyard.needles import LineMatch


def kept(table: pa.Table, lines: list[str], match: LineMatch | None) -> pa.Table:
    """The rows of `table` (one per entry of `lines`) whose line `match` keeps; all without one."""
    if match is None:
        return table
    keep = [all(any(s in line for s in group) for group in match.contains)
            and not any(s in line for s in match.excludes) for line in lines]
    return table.filter(pa.array(keep, pa.bool_()))
