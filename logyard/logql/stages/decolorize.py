"""`| decolorize`: strip ANSI escape sequences (colours, cursor moves) from lines.

Loki's expression (from acarl005/stripansi) in RE2 form; the column version is one Arrow kernel.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from logyard.gocompat.text import compile_re2

from .builder import LabelsBuilder
from .line_filter import as_string_array

ANSI_PATTERN = (
    r"[\x{1b}\x{9b}][[\]()#;?]*(?:(?:(?:[a-zA-Z\d]*(?:;[a-zA-Z\d]*)*)?\x{07})"
    r"|(?:(?:\d{1,4}(?:;\d{0,4})*)?[\dA-PRZcf-ntqry=><~]))"
)
_ANSI = compile_re2(ANSI_PATTERN)


def decolorize_column(lines: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Every line without its ANSI sequences."""
    return pc.replace_substring_regex(as_string_array(lines), ANSI_PATTERN, "")


def decolorize(line: str) -> str:
    return _ANSI.sub("", line)


class Decolorizer:
    def process(self, ts: int, line: str, lbs: LabelsBuilder) -> tuple[str, bool]:
        return decolorize(line), True
