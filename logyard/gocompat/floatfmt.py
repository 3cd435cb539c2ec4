"""Numbers as Loki prints them in metric answers.

Values are Go's `strconv.FormatFloat(v, 'f', -1, 64)`: the shortest digits that round-trip (the
same digits Python's `repr` picks), never an exponent, `NaN`, `+Inf`, `-Inf`. Timestamps are
Prometheus' `model.Time.String()`: milliseconds / 1000 formatted the same way.
"""

from __future__ import annotations

import math


def format_value(v: float) -> str:
    """`0.1` → "0.1", `8.0` → "8", `1e-7` → "0.0000001", `1e21` → "1000000000000000000000"."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    r = repr(float(v))
    if "e" not in r:
        return r[:-2] if r.endswith(".0") else r
    mantissa, exp_text = r.split("e")
    sign = ""
    if mantissa.startswith("-"):
        sign, mantissa = "-", mantissa[1:]
    int_part, _, frac_part = mantissa.partition(".")
    digits = int_part + frac_part
    point = len(int_part) + int(exp_text)  # position of the decimal point within `digits`
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def format_timestamp_ms(ms: int) -> str:
    """A point's time in seconds with up to millisecond precision: 1767227399999 → "1767227399.999"."""
    return format_value(ms / 1000)


def timestamp_json(ms: int) -> int | float:
    """The JSON number for a point's time: an int for whole seconds, else float seconds.

    orjson prints such floats in the same shortest form as Go for any realistic timestamp.
    """
    return ms // 1000 if ms % 1000 == 0 else ms / 1000
