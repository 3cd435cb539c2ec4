"""The rows `| logfmt | name="value"` (or json, regexp, pattern, unpack) drops, found by one
substring search over the line column.

A parser's label values are cut from the line: a value is the line's own bytes unless the parser
unescaped it (logfmt's and JSON's quoted strings), and unescaping needs a backslash in the line. So
when the row stages open with a parser and, right after it, `name="value"` (a non-empty value), a
line holding neither the value nor a backslash cannot give the label that value, and its row is
dropped before the per-row walk. The label could still come from elsewhere: rows whose stream
labels or structured metadata hold a label of that name (the parsed one is then renamed
`<name>_extracted`) always go on. The rows left run through every stage as before, so answers do
not change; `{…} | logfmt | level="error"` over a day parses the few lines that mention "error"
instead of all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from logyard.labels import LabelSet
from logyard.logql import stages as st
from logyard.logql.rows import Rows, may_carry
from logyard.logql.stages.substring import contains_mask

_PARSERS = (st.JSONParser, st.JSONExpressionParser, st.LogfmtParser, st.LogfmtExpressionParser, st.RegexpParser,
            st.PatternParser, st.UnpackParser)


@dataclass(frozen=True)
class ValuePrefilter:
    name: str
    value: str

    @classmethod
    def of(cls, row_stages: list) -> ValuePrefilter | None:
        """For row stages opening with a parser and `name="value"` right after it."""
        if len(row_stages) < 2 or not isinstance(row_stages[0], _PARSERS):
            return None
        flt = row_stages[1]
        if type(flt) is not st.StringLabelFilter or flt.op != "=" or not flt.value or flt.name.startswith("__"):
            return None
        return cls(flt.name, flt.value)

    def keep(self, rows: Rows, stream_labels: dict[int, LabelSet], hints: st.ParserHints) -> np.ndarray | None:
        """A mask of the rows that may pass the two stages; None when it cannot tell any apart."""
        if not len(rows):
            return None
        line = rows.line.combine_chunks() if isinstance(rows.line, pa.ChunkedArray) else rows.line
        return contains_mask(line, self.value) | contains_mask(line, "\\") | may_carry(rows, stream_labels, self.name)
