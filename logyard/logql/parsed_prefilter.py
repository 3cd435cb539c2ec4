"""The rows a parser and the label filters after it drop (`{…} | logfmt | level=~"fatal|critical"`,
`| json | status >= 500`), found from a column scan before the per-row walk.

A log query's row stages run one entry at a time (pipeline.py), ~35 us a row: when the filter keeps
few rows, a day of a busy project runs past the query timeout parsing lines it then drops. A label
filter's verdict reads only the labels it names, and what a plain `| logfmt`, `| json`, `| regexp`
or `| pattern` gives a name is the same whether the parser extracts every name (a log query) or only
the hinted ones (a metric query): its first value in the line. So parsed_columns.py's combinations
over just those names (and what a drop or rename before the filters touches), with the leading
parsers, label filters, drops and renames replayed on each, tell which rows the filters certainly
drop. The rows left (and those the scan declines or leaves with an
error) go through every stage as before, so no answer changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from logyard.labels import LabelSet
from logyard.logql.parsed_columns import ParsedGroups, is_parser, replayable, touched_names
from logyard.logql.rows import Rows
from logyard.logql.stages.builder import ParserHints
from logyard.logql.stages.label_filter import is_label_filter


# The scan and combinations cost about a millisecond whatever the rows (bench day, nginx's 5xx after
# the pattern prefilter: 15-73 rows a window, 1.2-1.35 ms each, a third of the query); the per-row
# walk ~35 us a row. Fewer rows than this go to the walk as they are.
MIN_ROWS = 128


@dataclass(frozen=True)
class ParsedPrefilter:
    groups: ParsedGroups  # the leading replayable stages, over the names they touch

    @classmethod
    def of(cls, row_stages: list) -> ParsedPrefilter | None:
        """For row stages opening with replayable ones (parsed_columns.replayable), a filter among them."""
        k = 0
        while k < len(row_stages) and replayable(row_stages[k]):
            k += 1
        if not any(is_label_filter(s) for s in row_stages[:k]):
            return None
        # What the filters read, and what a rename before them reads to make it.
        names = frozenset(n for s in row_stages[:k] if not is_parser(s) for n in touched_names(s))
        groups = ParsedGroups.of(row_stages[:k], names)
        return None if groups is None else cls(groups)

    def keep(self, rows: Rows, stream_labels: dict[int, LabelSet], hints: ParserHints,
             check=lambda: None) -> np.ndarray | None:
        """A mask of the rows that may pass the stages; None when there are too few rows to pay for
        the scan."""
        if len(rows) < MIN_ROWS:
            return None
        g = self.groups.group(rows, stream_labels, hints, check)
        passed = np.array([lbs is not None for lbs in g.builders], dtype=bool)
        return g.declined | ((g.codes >= 0) & passed[np.maximum(g.codes, 0)])
