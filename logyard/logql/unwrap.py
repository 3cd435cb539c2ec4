"""`| unwrap`: a label's value as a sample, with Loki's conversions and its SampleExtractionErr."""

from __future__ import annotations

from logyard.gocompat.text import parse_float
from logyard.logql.functions import CONVERSION, FUNCTIONS

# conversion name -> its kernel; no conversion: Go's ParseFloat
_CONVERT = {f.name: f.convert for f in FUNCTIONS if f.kind == CONVERSION}

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
