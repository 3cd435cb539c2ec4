"""Durations and byte sizes as LogQL spells them, as integer nanoseconds / bytes.

Three dialects meet here, and Loki uses each in a different place (the two duration
parsers live in `logyard.units`, shared with the configs and the HTTP API; LogQL's own parts stay here):
- Prometheus durations (`5m`, `1h30m`, `1d`, `1w`, `1y`; integers, units biggest first) for ranges
  `[5m]` and the HTTP `step`;
- Go's `time.ParseDuration` (`1.5h`, `-5m`, `300us`) as Loki's fallback for duration tokens
  (`offset`, label filters `> 50ms`);
- go-humanize byte sizes (`150KB` = 150000, `1KiB` = 1024) for label filters `> 150KB`.
"""

from __future__ import annotations

from logyard.units import (  # noqa: F401 - the Prometheus and Go dialects live in units; LogQL's names stay here
    DAY,
    HOUR,
    MINUTE,
    MS,
    NS,
    SECOND,
    US,
    WEEK,
    YEAR,
    parse_go_duration,
    parse_prom_duration,
    parse_seconds_or_duration,
)


def parse_duration(text: str) -> int:
    """Loki's duration token: Prometheus syntax first, Go's syntax as the fallback."""
    try:
        return parse_prom_duration(text)
    except ValueError:
        return parse_go_duration(text)


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


# go-humanize's suffix table (case-insensitive); the empty suffix means bytes.
_BYTES_TABLE = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "ki": 1024, "kib": 1024,
    "m": 1000**2, "mb": 1000**2, "mi": 1024**2, "mib": 1024**2,
    "g": 1000**3, "gb": 1000**3, "gi": 1024**3, "gib": 1024**3,
    "t": 1000**4, "tb": 1000**4, "ti": 1024**4, "tib": 1024**4,
    "p": 1000**5, "pb": 1000**5, "pi": 1024**5, "pib": 1024**5,
    "e": 1000**6, "eb": 1000**6, "ei": 1024**6, "eib": 1024**6,
}


def parse_bytes(text: str) -> int:
    """Parse a byte size like go-humanize's ParseBytes: `150KB` = 150000, `1.5MiB` = 1572864."""
    n = 0
    for ch in text:
        if not (ch.isdigit() or ch in ".,"):
            break
        n += 1
    number = text[:n].replace(",", "")
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f'strconv.ParseFloat: parsing {_go_quote(number)}: invalid syntax') from None
    suffix = text[n:].strip().lower()
    if suffix not in _BYTES_TABLE:
        raise ValueError(f"unhandled size name: {suffix}")
    value *= _BYTES_TABLE[suffix]
    if value >= 2.0**64:
        raise ValueError(f"too large: {text}")
    return int(value)


def format_bytes(n: int) -> str:
    """A byte count as a token that parses back to exactly n (`150000B`; `0KB`, since Loki's scanner
    fails on `0B`: "decimal literal has no digits")."""
    return f"{n}B" if n else "0KB"


def _go_quote(s: str) -> str:
    from logyard.labels import quote

    return quote(s)
