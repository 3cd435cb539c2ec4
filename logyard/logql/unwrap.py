"""`| unwrap`: a label's value as a sample, with Loki's conversions and its SampleExtractionErr."""

from __future__ import annotations

from logyard.gocompat.humanize import parse_bytes
from logyard.gocompat.text import parse_float
from logyard.units import parse_go_duration

SAMPLE_EXTRACTION_ERROR = "SampleExtractionErr"


def unwrap_value(raw: str, conv: str, lbs) -> float:
    """The sample value of `raw`; a conversion failure flags the row (value 0), as Loki does."""
    text = raw.strip()
    try:
        if conv in ("duration", "duration_seconds"):
            return parse_go_duration(text) / 1e9
        if conv == "bytes":
            return float(parse_bytes(text))
        return parse_float(text)
    except ValueError as exc:
        if not lbs.has_err():
            lbs.set_error(SAMPLE_EXTRACTION_ERROR, str(exc))
        return 0.0
