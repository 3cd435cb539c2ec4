"""The times and durations of the command line: `--from/--to/--now`, `--since`, `--step`.

A time is RFC 3339 (`2026-01-01T10:00:00Z`, fractions to the nanosecond, any offset), or unix
seconds (`1767261600`, `1767261600.5`), or unix nanoseconds (more than 10 digits), as Loki's API takes
them; logcli itself takes RFC 3339 only. Everything is int nanoseconds since the epoch.
"""

from __future__ import annotations

import re
import time

from logyard.gocompat.timelayout import parse_rfc3339
from logyard.units import SECOND, parse_prom_duration, parse_seconds_or_duration

_UNIX = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def parse_time(text: str, flag: str) -> int:
    """ns of a command-line time; ValueError naming the flag and the accepted forms."""
    value = text.strip()
    if _UNIX.fullmatch(value):
        if "." in value:
            whole, frac = value.split(".")
            return int(whole) * SECOND + int(frac[:9].ljust(9, "0"))
        return int(value) * SECOND if len(value) <= 10 else int(value)
    try:
        return parse_rfc3339(value)
    except ValueError:
        raise ValueError(f"{flag} {text!r} is not a time: use RFC 3339 (2026-01-01T10:00:00Z) "
                         f"or unix seconds (1767261600)") from None


def parse_duration(text: str, flag: str) -> int:
    """ns of `--since`, `--delay-for` and the like: 1h, 90m, 1h30m, 2d."""
    try:
        return parse_prom_duration(text)
    except ValueError:
        raise ValueError(f"{flag} {text!r} is not a duration: use e.g. 30s, 5m, 1h, 2d") from None


def parse_step(text: str, flag: str = "--step") -> int:
    """ns of `--step`: a duration (15s, 1m) or seconds (15, 0.5), as Loki's `step` parameter."""
    try:
        return parse_seconds_or_duration(text)
    except ValueError:
        raise ValueError(f"{flag} {text!r} is not a duration: use e.g. 15s, 1m or a number of seconds") from None


def time_range(since: str, start: str | None, end: str | None, now_ns: int | None = None) -> tuple[int, int]:
    """[start, end) of a range command: `--to` (default now) and `--from` (default `--to` minus `--since`),
    logcli's defaults; an end not after the start is refused here rather than by the server."""
    now = time.time_ns() if now_ns is None else now_ns
    end_ns = parse_time(end, "--to") if end else now
    start_ns = parse_time(start, "--from") if start else end_ns - parse_duration(since, "--since")
    if end_ns <= start_ns:
        raise ValueError("--to must be after --from")
    return start_ns, end_ns
