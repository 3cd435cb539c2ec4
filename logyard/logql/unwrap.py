"""`| unwrap`: a label's value as a sample, with Loki's conversions and its SampleExtractionErr."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logyard.gocompat.text import parse_float
from logyard.logql.functions import CONVERSION, FUNCTIONS
from logyard.logql.stages.builder import LabelsBuilder

# conversion name -> its kernel; no conversion: Go's ParseFloat
_CONVERT = {f.name: f.convert for f in FUNCTIONS if f.kind == CONVERSION}
FUNCTION_SECONDS = _CONVERT["duration"]  # duration and duration_seconds

SAMPLE_EXTRACTION_ERROR = "SampleExtractionErr"


def unwrap_value(raw: str, conv: str, lbs) -> float:
    """The sample value of `raw`; a conversion failure flags the row (value 0), as Loki does.

    Loki's extractor sets the error itself, not through a parser: it replaces any earlier error
    and its details, and never marks the error preserved (only parsers do)."""
    text = raw.strip()
    try:
        return _CONVERT.get(conv, parse_float)(text)
    except ValueError as exc:
        lbs.err, lbs.err_details = SAMPLE_EXTRACTION_ERROR, str(exc)
        return 0.0


# The forms most values take, converted for a whole column at once exactly as one by one. A plain
# decimal: Go's ParseFloat and Arrow's cast are both correctly rounded. A duration of one unit with
# at most 6 digits on each side of the point: its nanoseconds fit int64 arithmetic, computed as
# units.parse_go_duration does (the fraction scaled exactly, truncated), then / 1e9.
_PLAIN_NUMBER = r"^-?[0-9]{1,15}(\.[0-9]{1,15})?$"
_ONE_UNIT = r"^(?:(?P<i>[0-9]{1,6})(?:\.(?P<f>[0-9]{0,6}))?|\.(?P<g>[0-9]{1,6}))(?P<u>ns|us|µs|μs|ms|s|m|h)$"
_UNIT_NS = {"ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9,
            "h": 3600 * 10**9}


def unwrap_values(texts: list[str], conv: str) -> tuple[np.ndarray, np.ndarray]:
    """`unwrap_value` of many non-empty texts: each one's value, and whether it converted."""
    n = len(texts)
    values, ok, done = np.zeros(n), np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    if n:
        column = pa.array(texts, pa.large_string())
        if not conv:
            done = pc.match_substring_regex(column, _PLAIN_NUMBER).to_numpy(zero_copy_only=False)
            values[done] = pc.cast(column.filter(pa.array(done)), pa.float64()).to_numpy()
        elif _CONVERT.get(conv) is FUNCTION_SECONDS:
            done, values[:] = _durations(column)
        ok |= done
    for i in np.flatnonzero(~done).tolist():  # the other forms, one by one
        probe = LabelsBuilder({})
        values[i] = unwrap_value(texts[i], conv, probe)
        ok[i] = not probe.has_err()
    return values, ok


def _durations(column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    parts = pc.extract_regex(column, pattern=_ONE_UNIT)
    done = parts.is_valid().to_numpy(zero_copy_only=False)
    seconds = np.zeros(len(column))
    if done.any():
        parts = parts.filter(pa.array(done))
        whole = pc.cast(pc.replace_substring_regex(parts.field("i"), "^$", "0"), pa.int64()).to_numpy()
        frac = pc.if_else(pc.equal(parts.field("i"), ""), parts.field("g"), parts.field("f"))
        digits = pc.utf8_length(frac).to_numpy(zero_copy_only=False).astype(np.int64)
        frac = pc.cast(pc.replace_substring_regex(frac, "^$", "0"), pa.int64()).to_numpy()
        units = pc.dictionary_encode(parts.field("u"))  # a handful of distinct units
        per_unit = np.array([_UNIT_NS[u] for u in units.dictionary.to_pylist()], dtype=np.int64)
        unit = per_unit[units.indices.to_numpy(zero_copy_only=False)]
        ns = whole * unit + frac * unit // 10 ** digits
        seconds[done] = ns / 1e9
    return done, seconds
