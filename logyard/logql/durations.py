"""Durations and byte sizes as LogQL and Loki's HTTP API spell them, as integer nanoseconds / bytes.

Three dialects meet here, and Loki uses each in a different place:
- Prometheus durations (`5m`, `1h30m`, `1d`, `1w`, `1y`; integers, units biggest first) for ranges
  `[5m]` and the HTTP `step`;
- Go's `time.ParseDuration` (`1.5h`, `-5m`, `300us`) as Loki's fallback for duration tokens
  (`offset`, label filters `> 50ms`);
- go-humanize byte sizes (`150KB` = 150000, `1KiB` = 1024) for label filters `> 150KB`.
"""

from __future__ import annotations

import math
import re

NS = 1
US = 1_000
MS = 1_000_000
SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
WEEK = 7 * DAY
YEAR = 365 * DAY

_MAX_NS = (1 << 63) - 1

# Prometheus units with their order: each unit must be smaller than the one before it.
_PROM_UNITS = {"y": (1, YEAR), "w": (2, WEEK), "d": (3, DAY), "h": (4, HOUR), "m": (5, MINUTE),
               "s": (6, SECOND), "ms": (7, MS)}

_GO_UNITS = {"ns": NS, "us": US, "µs": US, "μs": US, "ms": MS, "s": SECOND, "m": MINUTE, "h": HOUR}


def parse_prom_duration(text: str) -> int:
    """Parse a Prometheus duration into ns; ValueError carries Prometheus' own wording."""
    if text == "0":  # Prometheus allows a bare 0
        return 0
    if text == "":
        raise ValueError("empty duration string")
    s = text
    total = 0
    last_pos = 0
    while s:
        if not ("0" <= s[0] <= "9"):
            raise ValueError(f"not a valid duration string: {_go_quote(text)}")
        i = 0
        while i < len(s) and "0" <= s[i] <= "9":
            i += 1
        value = int(s[:i])
        if value > 0xFFFF_FFFF_FFFF_FFFF:
            raise ValueError(f"not a valid duration string: {_go_quote(text)}")
        s = s[i:]
        i = 0
        while i < len(s) and not ("0" <= s[i] <= "9"):
            i += 1
        if i == 0:
            raise ValueError(f"not a valid duration string: {_go_quote(text)}")
        unit, s = s[:i], s[i:]
        if unit not in _PROM_UNITS:
            raise ValueError(f"unknown unit {_go_quote(unit)} in duration {_go_quote(text)}")
        pos, mult = _PROM_UNITS[unit]
        if pos <= last_pos:
            raise ValueError(f"not a valid duration string: {_go_quote(text)}")
        last_pos = pos
        if value > (1 << 63) // mult:
            raise ValueError("duration out of range")
        total += value * mult
        if total > _MAX_NS:
            raise ValueError("duration out of range")
    return total


def parse_go_duration(text: str) -> int:
    """Parse a Go `time.ParseDuration` string (signed, fractional, ns..h) into ns."""
    orig = text
    s = text
    neg = False
    if s and s[0] in "+-":
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if s == "":
        raise ValueError(f"time: invalid duration {_go_quote(orig)}")
    exact = 0
    while s:
        m = re.match(r"([0-9]*)(\.([0-9]*))?", s)
        assert m is not None
        int_part, frac_part = m.group(1), m.group(3)
        if not int_part and not frac_part:
            raise ValueError(f"time: invalid duration {_go_quote(orig)}")
        s = s[m.end():]
        j = 0
        while j < len(s) and s[j] != "." and not ("0" <= s[j] <= "9"):
            j += 1
        if j == 0:
            raise ValueError(f"time: missing unit in duration {_go_quote(orig)}")
        unit, s = s[:j], s[j:]
        if unit not in _GO_UNITS:
            raise ValueError(f"time: unknown unit {_go_quote(unit)} in duration {_go_quote(orig)}")
        mult = _GO_UNITS[unit]
        exact += int(int_part or "0") * mult
        if frac_part:
            # Go scales the fraction exactly and truncates toward zero.
            exact += int(frac_part) * mult // (10 ** len(frac_part))
        if exact > _MAX_NS + (1 if neg else 0):
            raise ValueError(f"time: invalid duration {_go_quote(orig)}")
    return -exact if neg else exact


def parse_duration(text: str) -> int:
    """Loki's duration token: Prometheus syntax first, Go's syntax as the fallback."""
    try:
        return parse_prom_duration(text)
    except ValueError:
        return parse_go_duration(text)


def parse_seconds_or_duration(text: str) -> int:
    """The HTTP `step`/`interval` parameter: float seconds (`15`, `0.5`) or a Prometheus duration (`1m`)."""
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if math.isnan(seconds):
            raise ValueError(f'cannot parse "{text}" to a valid duration')
        ns = seconds * SECOND
        if not -_MAX_NS - 1 <= ns <= _MAX_NS:  # Loki's own check and text (loghttp.parseSecondsOrDuration)
            raise ValueError(f'cannot parse "{text}" to a valid duration. It overflows int64')
        return round(ns)
    try:
        return parse_prom_duration(text)
    except ValueError:
        raise ValueError(f'cannot parse "{text}" to a valid duration') from None


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
