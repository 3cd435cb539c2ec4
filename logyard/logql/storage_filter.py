"""Leading line filters storage can run itself: `|=` and `!=` literals, as a `needles.LineMatch`.

Storage searches such literals in the lines as it stores them (compacted lines keep their own
timestamps cut out: a line need not be put back whole to be tested), so a query whose leading
filters are all literal hands them over and reads only the rows they keep; a metric query then
reads no line at all. Any other leading filter (regexps, patterns, `ip()`) keeps the whole set in
the engine: the filters run in order, and one set is one pass.
"""

from __future__ import annotations

import os
from typing import Sequence

from logyard.needles import LineMatch

# Set to 0, queries run every line filter themselves: for tests and the benchmark to compare
# answers and times with and without storage running the literal ones.
LINE_MATCH_ENV = "LOGYARD_LINE_MATCH"


def storage_match(filters: Sequence) -> LineMatch | None:
    """The `LineMatch` equal to the compiled leading `filters` (stages.LineFilter, ANDed), or None
    when one of them is not a literal storage can run (or none is given)."""
    if not filters or os.environ.get(LINE_MATCH_ENV, "1") == "0":
        return None
    contains: list[tuple[str, ...]] = []
    excludes: list[str] = []
    for f in filters:
        if f.op not in ("|=", "!=") or any(a.kind != "contains" for a in f.alternatives):
            return None
        if any(a.always for a in f.alternatives):
            # Only when every alternative is "" (Loki drops "" from an `or` chain): `|= ""` keeps
            # every line and says nothing; `!= ""` keeps none, left to the engine.
            if f.negated:
                return None
            continue
        values = tuple(dict.fromkeys(a.value for a in f.alternatives))
        if f.negated:
            excludes.extend(values)
        else:
            contains.append(values)
    if not contains and not excludes:
        return None
    return LineMatch(tuple(contains), tuple(dict.fromkeys(excludes)))
