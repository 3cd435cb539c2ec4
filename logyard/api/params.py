"""Request parameters the Loki way: its time formats, defaults, limits and error texts.

Every parameter a route reads is parsed here, each bad one a 400 naming it in Loki's words
(pkg/loghttp/params.go and query.go); routes only say which parse their endpoint takes, in the order
Loki's parse function for that endpoint checks them.
"""

from __future__ import annotations

import math
import re
import time
from datetime import datetime
from typing import NamedTuple
from urllib.parse import parse_qsl

from starlette.requests import Request

from logyard.errors import BadRequestError
from logyard.labels import quote
from logyard.logql.metric.steps import check_step, default_step_ns
from logyard.logql.syntax.parser import parse_matchers
from logyard.units import parse_seconds_or_duration

NS = 1_000_000_000
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
UINT32_MAX = (1 << 32) - 1
# What Go's strconv.ParseInt / ParseFloat take (Python's int() and float() also take `1_000` and spaces).
_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
DEFAULT_SINCE_NS = 3600 * NS  # Loki's query_range default window: the last hour
DEFAULT_LIMIT = 100
END_BEFORE_START = "end timestamp must not be before or equal to start time"
# Ours: Go's time.Sub saturates there, and Loki's own max_query_length (721h) refuses far shorter ranges.
SPAN_TOO_LONG = "the query time range is longer than int64 nanoseconds (292 years)"


def now_ns() -> int:
    return time.time_ns()


async def request_params(request: Request) -> Params:
    """Query-string parameters, plus form fields for POST (Grafana and logcli POST forms)."""
    items = list(request.query_params.multi_items())
    if request.method == "POST":
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("application/x-www-form-urlencoded"):
            body = (await request.body()).decode("utf-8", errors="replace")
            items.extend(parse_qsl(body, keep_blank_values=True))
    return Params(items)


class Params:
    """A request's parameters in their order; `get` takes the first of a repeated one, as Go's
    url.Values.Get does."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._items = items

    def get(self, key: str, default=None):
        for k, v in self._items:
            if k == key:
                return v
        return default

    def getlist(self, key: str) -> list[str]:
        return [v for k, v in self._items if k == key]


def _go_number_error(func: str, value: str, reason: str) -> str:
    return f"strconv.{func}: parsing {quote(value)}: {reason}"


def _go_int(value: str, func: str, name: str) -> int:
    """Go's strconv integer parse (decimal digits, an optional sign, int64), Go's error text."""
    if not _INT.fullmatch(value):
        raise BadRequestError(f"could not parse '{name}' parameter: {_go_number_error(func, value, 'invalid syntax')}")
    n = int(value)
    if not INT64_MIN <= n <= INT64_MAX:
        raise BadRequestError(f"could not parse '{name}' parameter: {_go_number_error(func, value, 'value out of range')}")
    return n


def _checked_ns(ns: int, value: str, name: str) -> int:
    """A timestamp must fit Loki's int64 nanoseconds (about 1677 to 2262)."""
    if not INT64_MIN <= ns <= INT64_MAX:
        raise BadRequestError(
            f"could not parse '{name}' parameter: cannot parse {quote(value)} to a valid timestamp. It overflows int64")
    return ns


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
    """Loki's timestamp parameter: float seconds, unix seconds (<= 10 digits), ns, or RFC 3339.

    Unlike Loki (whose int64 conversion of `1e30` seconds is undefined), a time beyond int64
    nanoseconds is refused, naming the parameter."""
    if value is None or value == "":
        return default_ns
    if "." in value and _FLOAT.fullmatch(value):
        f = float(value)
        if not math.isfinite(f) or not -9.3e9 < f < 9.3e9:
            return _checked_ns(INT64_MAX + 1, value, name)
        # Loki quirk: the fractional part is rounded to milliseconds.
        sec = math.floor(f)
        frac = round((f - sec) * 1000) / 1000
        return _checked_ns(int(sec) * NS + int(round(frac * NS)), value, name)
    if not _INT.fullmatch(value):
        ts = parse_rfc3339(value)
        if ts is not None:
            return _checked_ns(ts, value, name)
    n = _go_int(value, "ParseInt", name)
    digits = value.lstrip("+-")
    if len(digits) <= 10:
        return _checked_ns(n * NS, value, name)
    return n


def parse_duration_or_seconds(value: str, name: str) -> int:
    """`step`/`interval`/`since`: float seconds (`15`, `0.5`) or a Prometheus duration (`1m`); ns."""
    try:
        return parse_seconds_or_duration(value)
    except ValueError as exc:
        raise BadRequestError(f"could not parse '{name}' parameter: {exc}") from None


def parse_limit(value: str | None, max_entries: int | None) -> int:
    """`limit`: Loki's checks in its order (Atoi, positive, uint32), then `max_entries` when given."""
    if value is None or value == "":
        return DEFAULT_LIMIT
    limit = _go_int(value, "Atoi", "limit")
    if limit <= 0:
        raise BadRequestError("limit must be a positive value")
    if limit > UINT32_MAX:
        raise BadRequestError(f"limit value {limit} is out of range [0, {UINT32_MAX}]")
    if max_entries is not None and limit > max_entries:
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
    """start/end of a request (`since` honoured): Loki's `bounds`, parsed in its order."""
    now = now_ns() if now is None else now
    since = params.get("since")
    since_ns = parse_duration_or_seconds(since, "since") if since else DEFAULT_SINCE_NS
    end = parse_time(params.get("end"), now, "end")
    # The default start of an end near the bottom of int64 stays in int64.
    start = parse_time(params.get("start"), max(INT64_MIN, end - since_ns), "start")
    return start, end


class RangeQuery(NamedTuple):
    start: int
    end: int
    limit: int
    direction: str
    step: int
    interval: int | None


class InstantQuery(NamedTuple):
    time: int
    limit: int
    direction: str


def parse_range_query(params, *, max_entries: int | None, max_points: int, volume: bool = False,
                      now: int | None = None) -> RangeQuery:
    """Loki's ParseRangeQuery (query_range, index/stats, index/volume_range), its checks in its order."""
    start, end = parse_range(params, now=now)
    if end < start:
        raise BadRequestError(END_BEFORE_START)
    limit = _parse_any_limit(params.get("limit"), max_entries, volume)
    direction = parse_direction(params.get("direction"))
    step_s = params.get("step")
    step = parse_duration_or_seconds(step_s, "step") if step_s else default_step_ns(start, end)
    check_step(start, end, step, max_points)
    interval_s = params.get("interval")
    interval = parse_duration_or_seconds(interval_s, "interval") if interval_s else None
    if interval is not None and interval < 0:
        raise BadRequestError("interval must be >= 0")
    return RangeQuery(start, end, limit, direction, step, interval)


def parse_instant_query(params, *, max_entries: int | None, volume: bool = False,
                        now: int | None = None) -> InstantQuery:
    """Loki's ParseInstantQuery (query, index/volume): limit, time, direction."""
    limit = _parse_any_limit(params.get("limit"), max_entries, volume)
    ts = parse_time(params.get("time"), now_ns() if now is None else now, "time")
    return InstantQuery(ts, limit, parse_direction(params.get("direction")))


def parse_volume_query(params, *, now: int | None = None) -> tuple[int, int, int]:
    """index/volume: Loki parses an instant query (limit, time, direction: each checked, only the
    limit used) and then the bounds; returns start, end and the limit (`0` is the default)."""
    q = parse_instant_query(params, max_entries=None, volume=True, now=now)
    start, end = parse_range(params, now=now)
    if end < start:
        raise BadRequestError(END_BEFORE_START)
    return start, end, q.limit


def _parse_any_limit(value: str | None, max_entries: int | None, volume: bool) -> int:
    # index/volume*: `limit=0` means the default, as Loki's volumeLimit has it.
    if volume and value and _INT.fullmatch(value) and int(value) == 0:
        return DEFAULT_LIMIT
    return parse_limit(value, max_entries)


def check_span(start: int, end: int) -> None:
    """Routes that bucket [start, end] (index/volume*) need its length in int64 nanoseconds."""
    if end - start > INT64_MAX:
        raise BadRequestError(SPAN_TOO_LONG)


def parse_aggregate_by(value: str | None) -> str:
    if value is None or value == "":
        return "series"
    if value not in ("series", "labels"):
        # Loki's text, then what it leaves out: which parameter, and what it takes.
        raise BadRequestError(f"invalid aggregation option: aggregateBy is \"series\" or \"labels\", not {quote(value)}")
    return value


def parse_target_labels(value: str | None) -> list[str]:
    """index/volume*: `targetLabels`, comma-separated label names to group by."""
    return [t.strip() for t in (value or "").split(",") if t.strip()]


def parse_matchers_param(text: str | None):
    """An optional selector (`query` of labels and label values, one `match[]` of series): its
    matchers, or None when absent or empty."""
    if not text:
        return None
    return parse_matchers(text)


def parse_selector(text: str | None):
    """A required selector (`query` of index/stats and index/volume*): its matchers; none is Loki's
    parse error at the end of the input."""
    matchers = parse_matchers_param(text)
    if not matchers:
        raise BadRequestError("parse error : syntax error: unexpected $end")
    return matchers


def parse_match_groups(params) -> list:
    """series: Loki's ParseAndValidateSeriesQuery. `match` and `match[]` together, each distinct
    selector once; none at all, or one lone `{}` (spaces aside), selects every series (an empty
    list). Selectors are not validated as queries are (`{a=""}` is fine), but any other selector of
    no matchers is refused."""
    texts = sorted(set(params.getlist("match")) | set(params.getlist("match[]")))
    if len(texts) == 1 and texts[0].replace(" ", "") == "{}":
        return []
    groups = []
    for text in texts:
        matchers = parse_matchers(text, validate_query=False)
        if not matchers:
            raise BadRequestError(f"0 matchers in group: {text}")
        groups.append(matchers)
    return groups


# Loki's pkg/loghttp/tail.go: `delay_for` is whole seconds, at most this many.
MAX_DELAY_FOR_S = 5


class TailQuery(NamedTuple):
    start: int
    limit: int
    delay_for_s: int


def parse_tail_query(params, *, max_entries: int | None, now: int | None = None) -> TailQuery:
    """Loki's ParseTailQuery after the query itself: limit (default 100), the bounds' start (default
    an hour ago), delay_for (default 0, at most 5). Its integer errors are strconv's bare texts."""
    limit = parse_limit(params.get("limit"), max_entries)
    start, _ = parse_range(params, now=now)
    value = params.get("delay_for")
    delay = 0
    if value:
        if not _INT.fullmatch(value):
            raise BadRequestError(_go_number_error("Atoi", value, "invalid syntax"))
        n = int(value)
        if not INT64_MIN <= n <= INT64_MAX:
            raise BadRequestError(_go_number_error("Atoi", value, "value out of range"))
        # Loki quirk: the int becomes a uint32, so -1 is 4294967295 (refused below) and 2^32 is 0.
        delay = n & UINT32_MAX
    if delay > MAX_DELAY_FOR_S:
        raise BadRequestError(f"delay_for can't be greater than {MAX_DELAY_FOR_S}")
    return TailQuery(start, limit, delay)
