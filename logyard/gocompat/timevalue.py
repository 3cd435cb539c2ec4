"""Go's `time.Time` as Loki's templates use it: the value, `Format` and `Parse` with Go layouts
(`2006-01-02T15:04:05Z07:00`), with Go's texts for parse errors.

The agent's `timestamp` stage parses layouts with `logyard.gocompat.timelayout` instead: one regex
per layout, built once, for many lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo

from logyard.gocompat.text import go_quote

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Go's zero time.Time, 0001-01-01 00:00:00 UTC, in ns since the Unix epoch.
ZERO_TIME_NS = -62135596800 * 1_000_000_000


@dataclass(frozen=True, slots=True)
class GoTime:
    """A Go `time.Time`: ns since the Unix epoch plus a fixed zone (offset seconds, name)."""

    ns: int
    offset: int = 0
    zone: str = "UTC"

    def parts(self) -> datetime:
        """Wall-clock fields in the time's own zone (microsecond precision; ns kept separately)."""
        sec, _ = divmod(self.ns, 1_000_000_000)
        return (_EPOCH + timedelta(seconds=sec + self.offset)).replace(tzinfo=None)

    @property
    def nanosecond(self) -> int:
        return self.ns % 1_000_000_000

    def unix(self) -> int:
        return self.ns // 1_000_000_000

    def is_zero(self) -> bool:
        return self.ns == ZERO_TIME_NS

    def format(self, layout: str) -> str:
        return format_time(self, layout)

    def __str__(self) -> str:
        # time.Time.String(): "2006-01-02 15:04:05.999999999 -0700 MST"
        return format_time(self, "2006-01-02 15:04:05.999999999 -0700 MST")


# --- Go time layouts ---------------------------------------------------------------------------

_STD_TOKENS = [
    "January", "Jan", "Monday", "Mon", "MST",
    "2006", "-07:00:00", "-0700", "-07:00", "-07",
    "Z07:00:00", "Z0700", "Z07:00", "Z07",
    "002", "__2", "_2", "01", "02", "03", "04", "05", "06", "15",
    "1", "2", "3", "4", "5", "PM", "pm",
]
_LONG_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December"]
_LONG_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def layout_tokens(layout: str) -> list[tuple[str, str]]:
    """Split a Go layout into ("lit", text) and ("std", token) chunks, as Go's nextStdChunk does."""
    out: list[tuple[str, str]] = []
    i = 0
    lit = []
    n = len(layout)
    while i < n:
        tok = None
        c = layout[i]
        if c in ".," and i + 1 < n and layout[i + 1] in "09":
            j = i + 1
            while j < n and layout[j] == layout[i + 1]:
                j += 1
            # fractional seconds only when not followed by a digit
            if not (j < n and layout[j].isdigit()):
                tok = layout[i:j]
        if tok is None:
            for cand in _STD_TOKENS:
                if layout.startswith(cand, i):
                    if cand in ("Jan", "Mon") and layout.startswith(("January", "Monday"), i):
                        continue
                    if cand == "Mon" and i + 3 < n and layout[i + 3].islower():
                        # "Month" is not "Mon" + "th" in Go (lowercase after Mon is literal)
                        continue
                    if cand == "Jan" and i + 3 < n and layout[i + 3].islower():
                        continue
                    if cand == "2006" or cand != "2" or not layout.startswith("2006", i):
                        tok = cand
                        break
        if tok is None:
            lit.append(c)
            i += 1
            continue
        if lit:
            out.append(("lit", "".join(lit)))
            lit = []
        out.append(("std", tok))
        i += len(tok)
    if lit:
        out.append(("lit", "".join(lit)))
    return out


def _zone_text(offset: int, tok: str) -> str:
    if tok.startswith("Z") and offset == 0:
        return "Z"
    sign = "-" if offset < 0 else "+"
    off = abs(offset)
    hh, rem = divmod(off, 3600)
    mm, ss = divmod(rem, 60)
    body = tok.lstrip("Z-")
    if body == "07":
        return f"{sign}{hh:02d}"
    if body == "0700":
        return f"{sign}{hh:02d}{mm:02d}"
    if body == "07:00":
        return f"{sign}{hh:02d}:{mm:02d}"
    return f"{sign}{hh:02d}:{mm:02d}:{ss:02d}"


def format_time(t: GoTime, layout: str) -> str:
    d = t.parts()
    ns = t.nanosecond
    out = []
    for kind, tok in layout_tokens(layout):
        if kind == "lit":
            out.append(tok)
            continue
        if tok == "2006":
            out.append(f"{d.year:04d}")
        elif tok == "06":
            out.append(f"{d.year % 100:02d}")
        elif tok == "January":
            out.append(_LONG_MONTHS[d.month - 1])
        elif tok == "Jan":
            out.append(_LONG_MONTHS[d.month - 1][:3])
        elif tok == "01":
            out.append(f"{d.month:02d}")
        elif tok == "1":
            out.append(str(d.month))
        elif tok == "Monday":
            out.append(_LONG_DAYS[d.weekday()])
        elif tok == "Mon":
            out.append(_LONG_DAYS[d.weekday()][:3])
        elif tok == "02":
            out.append(f"{d.day:02d}")
        elif tok == "_2":
            out.append(f"{d.day:2d}")
        elif tok == "2":
            out.append(str(d.day))
        elif tok == "002":
            out.append(f"{d.timetuple().tm_yday:03d}")
        elif tok == "__2":
            out.append(f"{d.timetuple().tm_yday:3d}")
        elif tok == "15":
            out.append(f"{d.hour:02d}")
        elif tok in ("03", "3"):
            h = d.hour % 12 or 12
            out.append(f"{h:02d}" if tok == "03" else str(h))
        elif tok in ("04", "4"):
            out.append(f"{d.minute:02d}" if tok == "04" else str(d.minute))
        elif tok in ("05", "5"):
            out.append(f"{d.second:02d}" if tok == "05" else str(d.second))
        elif tok == "PM":
            out.append("PM" if d.hour >= 12 else "AM")
        elif tok == "pm":
            out.append("pm" if d.hour >= 12 else "am")
        elif tok == "MST":
            out.append(t.zone if t.zone else _zone_text(t.offset, "-0700"))
        elif tok[0] in "-Z":
            out.append(_zone_text(t.offset, tok))
        else:  # fractional seconds
            digits = len(tok) - 1
            frac = f"{ns:09d}"[:digits]
            if tok[1] == "9":
                frac = frac.rstrip("0")
                out.append(tok[0] + frac if frac else "")
            else:
                out.append(tok[0] + frac)
    return "".join(out)


_PARSE_PATTERNS = {
    "2006": r"(?P<year>\d{4})", "06": r"(?P<yy>\d{2})", "January": r"(?P<monthname>[A-Za-z]+)",
    "Jan": r"(?P<mon>[A-Za-z]{3})", "01": r"(?P<month>\d{2})", "1": r"(?P<month>\d{1,2})",
    "Monday": r"[A-Za-z]+", "Mon": r"[A-Za-z]{3}", "02": r"(?P<day>\d{2})", "_2": r" ?(?P<day>\d{1,2})",
    "2": r"(?P<day>\d{1,2})", "002": r"(?P<yday>\d{3})", "__2": r" {0,2}(?P<yday>\d{1,3})",
    "15": r"(?P<hour>\d{1,2})", "03": r"(?P<hour12>\d{2})", "3": r"(?P<hour12>\d{1,2})",
    "04": r"(?P<minute>\d{2})", "4": r"(?P<minute>\d{1,2})", "05": r"(?P<second>\d{2})",
    "5": r"(?P<second>\d{1,2})", "PM": r"(?P<ampm>AM|PM)", "pm": r"(?P<ampm>am|pm)",
    "MST": r"(?P<zonename>[A-Z]{3,5}|[+-]\d{2,4})",
}


def parse_time(layout: str, value: str, location: tzinfo | None = None) -> GoTime:
    """Go's time.ParseInLocation for the common layout tokens; ValueError when it does not fit.
    Without a zone in the value, the wall time is read in `location` (UTC when None)."""
    parts = []
    for kind, tok in layout_tokens(layout):
        if kind == "lit":
            parts.append(re.escape(tok))
        elif tok in _PARSE_PATTERNS:
            pat = _PARSE_PATTERNS[tok]
            # one named group per field
            if any(f"?P<{g}>" in "".join(parts) for g in re.findall(r"\?P<(\w+)>", pat)):
                pat = re.sub(r"\?P<\w+>", "?:", pat)
            parts.append(pat)
        elif tok[0] in "-Z":
            parts.append(r"(?P<tz>Z|[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?)")
        else:
            parts.append(r"(?:[.,](?P<frac>\d+))" + ("?" if tok[1] == "9" else ""))
    m = re.fullmatch("".join(parts), value)
    if m is None:
        raise ValueError(f"parsing time {go_quote(value)} as {go_quote(layout)}: cannot parse")
    g = m.groupdict()
    year = int(g["year"]) if g.get("year") else (
        (int(g["yy"]) + (1900 if int(g["yy"]) >= 69 else 2000)) if g.get("yy") else 0)
    if g.get("monthname"):
        month = [x.lower() for x in _LONG_MONTHS].index(g["monthname"].lower()) + 1
    elif g.get("mon"):
        month = [x[:3].lower() for x in _LONG_MONTHS].index(g["mon"].lower()) + 1
    else:
        month = int(g.get("month") or 1)
    day = int(g.get("day") or 1)
    hour = int(g.get("hour") or 0)
    if g.get("hour12"):
        hour = int(g["hour12"]) % 12
        if (g.get("ampm") or "").lower() == "pm":
            hour += 12
    minute, second = int(g.get("minute") or 0), int(g.get("second") or 0)
    frac = g.get("frac") or ""
    ns_frac = int((frac + "000000000")[:9]) if frac else 0
    offset, zone = 0, "UTC"
    tz = g.get("tz")
    if tz:
        if tz == "Z":
            offset, zone = 0, "UTC"
        else:
            sign = -1 if tz[0] == "-" else 1
            digits = tz[1:].replace(":", "")
            hh, mm, ss = int(digits[:2]), int(digits[2:4] or 0), int(digits[4:6] or 0)
            offset, zone = sign * (hh * 3600 + mm * 60 + ss), ""
    try:
        wall = datetime(max(year, 1), month, day, hour, minute, second, tzinfo=timezone.utc)
    except ValueError:
        raise ValueError(f"parsing time {go_quote(value)}: day out of range") from None
    if not tz and location is not None:
        local = wall.replace(tzinfo=location)
        utcoff = local.utcoffset()
        offset = int(utcoff.total_seconds()) if utcoff else 0
        zone = local.tzname() or "UTC"
    secs = int((wall - _EPOCH).total_seconds()) - offset
    if year == 0:
        secs -= 365 * 86400  # Go's year 0 is one (non-leap-counted here) year before year 1
    return GoTime(secs * 1_000_000_000 + ns_frac, offset, zone)
