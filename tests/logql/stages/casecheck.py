"""Run a stage chain over the corpus and compare with one of Loki's answers (a pl-* case)."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa

from logyard.logql.stages.line_filter import LineFilter, filters_mask
from logyard.logql.stages.pipeline import run_stages

from . import corpus

END = 1767232800000000000


def check_case(case_id: str, matchers: dict[str, str], stages: list, end: int = END) -> None:
    """Every answer entry is reproduced exactly (line and labels) from its pushed entry, and the
    chain keeps exactly the answer's entries among all pushed entries newer than its oldest."""
    ans = corpus.answer(case_id)
    assert ans, "case has no answer entries"
    for labels, ts, line in ans:
        results = []
        for stream, _, src_line, meta in corpus.select(matchers, ts, ts + 1):
            meta = dict(meta)
            if "detected_level" in labels:
                meta["detected_level"] = labels["detected_level"]
            out = run_stages(stages, ts, src_line, stream, meta)
            if out is not None:
                results.append(out)
        assert (line, labels) in results, f"entry {ts} {line!r} {labels}: got {results}"
    # completeness: nothing kept that Loki did not keep, nothing missed (older boundary excluded)
    oldest = min(ts for _, ts, _ in ans)
    rows = corpus.select(matchers, oldest + 1, end)
    leading = []
    for st in stages:
        if not isinstance(st, LineFilter):
            break
        leading.append(st)
    if leading:
        mask = filters_mask(pa.array([r[2] for r in rows], pa.large_string()), leading)
        rows = [r for r, keep in zip(rows, mask) if keep]
    got: Counter = Counter()
    for stream, ts, line, meta in rows:
        out = run_stages(stages[len(leading):], ts, line, stream, meta)
        if out is not None:
            got[(ts, out[0])] += 1
    expected = Counter((ts, line) for _, ts, line in ans if ts > oldest)
    assert got == expected
