"""Durations printed as Go and Prometheus print them, so Loki's texts come out byte for byte.

- Go's `time.Duration.String()` (`1h30m0s`, `50ms`, `0s`): how Loki prints `offset` and duration
  label filters in a query, and durations in its error texts;
- Prometheus' `model.Duration.String()` (`5m`, `1h30m`, `1d`): how Loki prints ranges `[5m]`.

Parsing both dialects lives in `logyard.units`, shared with the configs and the HTTP API.
"""

from __future__ import annotations

from logyard.units import DAY, HOUR, MINUTE, MS, NS, SECOND, US, WEEK, YEAR


def format_duration(ns: int) -> str:
    """Print ns the way Go's `time.Duration.String()` does (`1h30m0s`, `50ms`, `0s`), as Loki prints it."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    u = abs(ns)
    if u < SECOND:
        for unit, size in (("ms", MS), ("µs", US), ("ns", NS)):
            if u >= size:
                return sign + _frac(u, size) + unit
    hours, rest = divmod(u, HOUR)
    minutes, rest = divmod(rest, MINUTE)
    out = _frac(rest, SECOND) + "s"
    if hours or minutes:
        out = f"{minutes}m" + out
    if hours:
        out = f"{hours}h" + out
    return sign + out


def format_prom_duration(ns: int) -> str:
    """Print ns the way Prometheus' `model.Duration.String()` does (`5m`, `1h30m`, `1d`, `0s`)."""
    if ns == 0:
        return "0s"
    out = []
    ms = ns // MS
    for unit, size in (("y", YEAR), ("w", WEEK), ("d", DAY), ("h", HOUR), ("m", MINUTE), ("s", SECOND),
                       ("ms", MS)):
        if unit in ("y", "w") and ms % (size // MS):
            continue  # years and weeks only when they divide what is left: 30d1h, not 4w2d1h
        n, ms = divmod(ms, size // MS)
        if n:
            out.append(f"{n}{unit}")
    return "".join(out)


def _frac(value: int, size: int) -> str:
    whole, rest = divmod(value, size)
    if not rest:
        return str(whole)
    digits = str(rest).rjust(len(str(size)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"
