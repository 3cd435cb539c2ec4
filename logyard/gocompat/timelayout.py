"""Timestamps in Go's notations: RFC3339 with nanoseconds, named layouts and reference layouts.

Promtail's `timestamp` stage takes Go layouts (`2006-01-02 15:04:05.000`) or names (`RFC3339Nano`,
`Unix`, `UnixMs`, ...). A layout is translated once into a regex with named fields; parsing a value is
then one match plus integer arithmetic, keeping nanoseconds that `datetime` would truncate.
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timezone
from typing import Callable
from zoneinfo import ZoneInfo

from logyard.errors import ConfigError

NAMED = {
    "ANSIC": "Mon Jan _2 15:04:05 2006",
    "UnixDate": "Mon Jan _2 15:04:05 MST 2006",
    "RubyDate": "Mon Jan 02 15:04:05 -0700 2006",
    "RFC822": "02 Jan 06 15:04 MST",
    "RFC822Z": "02 Jan 06 15:04 -0700",
    "RFC850": "Monday, 02-Jan-06 15:04:05 MST",
    "RFC1123": "Mon, 02 Jan 2006 15:04:05 MST",
    "RFC1123Z": "Mon, 02 Jan 2006 15:04:05 -0700",
    "RFC3339": "2006-01-02T15:04:05Z07:00",
    "RFC3339Nano": "2006-01-02T15:04:05.999999999Z07:00",
    "Kitchen": "3:04PM",
    "Stamp": "Jan _2 15:04:05",
    "StampMilli": "Jan _2 15:04:05.000",
    "StampMicro": "Jan _2 15:04:05.000000",
    "StampNano": "Jan _2 15:04:05.000000000",
}
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_LONG_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_TOKENS = [
    ("January", rf"(?P<monthname>{_LONG_MONTHS})"),
    ("Monday", r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"),
    ("2006", r"(?P<year>\d{4})"),
    ("Jan", r"(?P<monthabbr>[A-Za-z]{3})"),
    ("Mon", r"(?:[A-Za-z]{3})"),
    ("MST", r"(?P<tzname>[A-Z]{3,5}|[+-]\d{2,4})"),
    ("Z07:00", r"(?P<tz>Z|[+-]\d{2}:\d{2})"),
    ("-07:00", r"(?P<tz>[+-]\d{2}:\d{2})"),
    ("Z0700", r"(?P<tz>Z|[+-]\d{4})"),
    ("-0700", r"(?P<tz>[+-]\d{4})"),
    ("Z07", r"(?P<tz>Z|[+-]\d{2})"),
    ("-07", r"(?P<tz>[+-]\d{2})"),
    ("01", r"(?P<month>\d{2})"),
    ("02", r"(?P<day>\d{2})"),
    ("_2", r"\s?(?P<day>\d{1,2})"),
    ("06", r"(?P<year2>\d{2})"),
    ("15", r"(?P<hour>\d{2})"),
    ("03", r"(?P<hour12>\d{2})"),
    ("04", r"(?P<minute>\d{2})"),
    ("05", r"(?P<second>\d{2})"),
    ("PM", r"(?P<ampm>AM|PM)"),
    ("pm", r"(?P<ampm>am|pm)"),
    ("1", r"(?P<month>\d{1,2})"),
    ("2", r"(?P<day>\d{1,2})"),
    ("3", r"(?P<hour12>\d{1,2})"),
    ("4", r"(?P<minute>\d{1,2})"),
    ("5", r"(?P<second>\d{1,2})"),
]
_FRACTION = re.compile(r"[.,](0+|9+)")


def layout_regex(layout: str) -> re.Pattern:
    out, i = [], 0
    while i < len(layout):
        m = _FRACTION.match(layout, i)
        if m and layout[i - 1 : i].isdigit() if i else False:
            digits = len(m.group(1))
            if m.group(1)[0] == "9":  # optional, any length
                out.append(rf"(?:[.,](?P<frac>\d{{1,{max(digits, 9)}}}))?")
            else:
                out.append(rf"[.,](?P<frac>\d{{{digits}}})")
            i = m.end()
            continue
        for tok, rx in _TOKENS:
            if layout.startswith(tok, i):
                out.append(rx)
                i += len(tok)
                break
        else:
            out.append(re.escape(layout[i]))
            i += 1
    return re.compile("^" + "".join(out) + "$")


def make_parser(fmt: str, location: str | None = None) -> Callable[[str], int]:
    """A function from text to nanoseconds since the epoch; raises ValueError on a mismatch."""
    if fmt in ("Unix", "UnixMs", "UnixUs", "UnixNs"):
        scale = {"Unix": 10**9, "UnixMs": 10**6, "UnixUs": 10**3, "UnixNs": 1}[fmt]

        def unix(text: str) -> int:
            text = text.strip()
            if "." in text:
                whole, frac = text.split(".", 1)
                return int(whole) * scale + int((frac + "0" * 9)[:9]) * scale // 10**9
            return int(text) * scale

        return unix
    if fmt == "RFC3339Nano" or fmt == "RFC3339":
        return parse_rfc3339
    try:
        tz_default = ZoneInfo(location) if location else timezone.utc
    except Exception as exc:
        raise ConfigError(f"unknown location {location!r}") from exc
    rx = layout_regex(NAMED.get(fmt, fmt))

    def parse(text: str) -> int:
        m = rx.match(text.strip())
        if m is None:
            raise ValueError(f"{text!r} does not match the layout {fmt!r}")
        g = m.groupdict()
        now = datetime.now(tz_default)
        year = int(g["year"]) if g.get("year") else (2000 + int(g["year2"]) if g.get("year2") else now.year)
        if g.get("month"):
            month = int(g["month"])
        elif g.get("monthabbr"):
            month = _MONTHS.index(g["monthabbr"].lower()) + 1
        elif g.get("monthname"):
            month = _MONTHS.index(g["monthname"][:3].lower()) + 1
        else:
            month = 1
        day = int(g.get("day") or 1)
        hour = int(g["hour"]) if g.get("hour") else int(g.get("hour12") or 0) % 12
        if g.get("ampm") and g["ampm"].lower() == "pm":
            hour += 12
        frac = int(((g.get("frac") or "") + "000000000")[:9])
        tz = g.get("tz")
        dt = datetime(year, month, day, hour, int(g.get("minute") or 0), int(g.get("second") or 0))
        if tz:
            offset = 0 if tz == "Z" else _offset_seconds(tz)
            secs = calendar.timegm(dt.timetuple()) - offset
        else:
            secs = int(dt.replace(tzinfo=tz_default).timestamp())
        return secs * 1_000_000_000 + frac

    return parse


def _offset_seconds(tz: str) -> int:
    sign = -1 if tz[0] == "-" else 1
    digits = tz[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    return sign * (hours * 3600 + minutes * 60)


_RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})")


_SECONDS_CACHE: dict[str, int] = {}


def parse_rfc3339(text: str) -> int:
    """RFC3339 with up to nanosecond precision (Docker's and CRI's timestamps)."""
    # fast path for the UTC form Docker writes: the seconds part repeats from line to line
    if len(text) >= 20 and text[-1] == "Z" and text[10] == "T" and (len(text) == 20 or text[19] == "."):
        secs = _SECONDS_CACHE.get(text[:19])
        if secs is not None:
            frac = text[20:-1]
            if frac.isdigit() and len(frac) <= 9 or not frac:
                return secs * 1_000_000_000 + (int((frac + "00000000")[:9]) if frac else 0)
    m = _RFC3339.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not an RFC3339 timestamp")
    y, mo, d, h, mi, s, frac, tz = m.groups()
    secs = calendar.timegm((int(y), int(mo), int(d), int(h), int(mi), int(s), 0, 0, 0))
    if tz not in ("Z", "z"):
        secs -= _offset_seconds(tz)
    elif m.end() == len(text) and text[10] == "T":
        if len(_SECONDS_CACHE) > 4096:
            _SECONDS_CACHE.clear()
        _SECONDS_CACHE[text[:19]] = secs
    return secs * 1_000_000_000 + (int((frac + "00000000")[:9]) if frac else 0)
