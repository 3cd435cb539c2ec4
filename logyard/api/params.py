"""Request parameters the Loki way: its time formats, defaults, limits and error texts."""

from __future__ import annotations

import math
import time
from datetime import datetime

from logyard.errors import BadRequestError

NS = 1_000_000_000
DEFAULT_SINCE_NS = 3600 * NS  # Loki's query_range default window: the last hour
DEFAULT_LIMIT = 100


def now_ns() -> int:
    return time.time_ns()


def _go_parse_int_error(value: str) -> str:
    return f'strconv.ParseInt: parsing "{value}": invalid syntax'


def parse_rfc3339(value: str) -> int | None:
    """RFC 3339 with optional fraction (up to ns) and zone; returns ns or None."""
    v = value.strip()
    if len(v) < 20 or v[4] != "-" or v[10] not in "Tt":
        return None
    frac_ns = 0
    main = v
    zone = ""
    # split zone
    if v.endswith(("Z", "z")):
        main, zone = v[:-1], "+00:00"
    elif len(v) > 6 and v[-6] in "+-" and v[-3] == ":":
        main, zone = v[:-6], v[-6:]
    else:
        return None
    if "." in main:
        main, frac = main.split(".", 1)
        if not frac.isdigit() or len(frac) > 9:
            return None
        frac_ns = int(frac.ljust(9, "0"))
    try:
        dt = datetime.fromisoformat(main + zone)
    except ValueError:
        return None
    return int(dt.timestamp()) * NS + frac_ns


def parse_time(value: str | None, default_ns: int, name: str) -> int:
    """Loki's timestamp parameter: float seconds, unix seconds (<= 10 digits), ns, or RFC 3339."""
    if value is None or value == "":
        return default_ns
    if "." in value:
        try:
            f = float(value)
        except ValueError:
            f = None
        if f is not None and math.isfinite(f):
            # Loki quirk: the fractional part is rounded to milliseconds.
            sec = math.floor(f)
            frac = round((f - sec) * 1000) / 1000
            return int(sec) * NS + int(round(frac * NS))
    try:
        n = int(value, 10)
    except ValueError:
        ts = parse_rfc3339(value)
        if ts is not None:
            return ts
        raise BadRequestError(f"could not parse '{name}' parameter: {_go_parse_int_error(value)}") from None
    digits = value.lstrip("+-")
    if len(digits) <= 10:
        return n * NS
    return n


def parse_duration_or_seconds(value: str, name: str) -> int:
    """`step`/`interval`/`since`: float seconds (`15`, `0.5`) or a Prometheus duration (`1m`); ns."""
    from logyard.units import parse_seconds_or_duration  # the HTTP dialect: float seconds or Prometheus

    try:
        return parse_seconds_or_duration(value)
    except ValueError as exc:
        raise BadRequestError(f"could not parse '{name}' parameter: {exc}") from None


def parse_limit(value: str | None, max_entries: int) -> int:
    if value is None or value == "":
        return DEFAULT_LIMIT
    try:
        limit = int(value)
    except ValueError:
        raise BadRequestError(
            f"could not parse 'limit' parameter: {_go_parse_int_error(value)}"
        ) from None
    if limit <= 0:
        raise BadRequestError("limit must be a positive value")
    if limit > max_entries:
        raise BadRequestError(
            f"max entries limit per query exceeded, limit > max_entries_limit_per_query ({limit} > {max_entries})"
        )
    return limit


def parse_direction(value: str | None) -> str:
    if value is None or value == "":
        return "backward"
    v = value.lower()
    if v not in ("forward", "backward"):
        raise BadRequestError(f"invalid direction '{value}'")
    return v


def parse_range(params, *, now: int | None = None) -> tuple[int, int]:
    """start/end of a range request (`since` honoured), with Loki's ordering check."""
    now = now_ns() if now is None else now
    end = parse_time(params.get("end"), now, "end")
    since = params.get("since")
    default_start = end - (parse_duration_or_seconds(since, "since") if since else DEFAULT_SINCE_NS)
    start = parse_time(params.get("start"), default_start, "start")
    return start, end
