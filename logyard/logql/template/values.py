"""Go values as Loki's templates see them: printing (`fmt.Sprint`, `printf` verbs) and `time.Time`.

Template values are Python `str`, `int`, `float`, `bool`, `None` (Go nil), `list`, `dict` and
`GoTime`. This module prints them the way Go's fmt package does, so `line_format` output matches
Loki byte for byte: floats in shortest form (`%v` is `%g`: exponent form from 1e6 and below 1e-4), `%5s`
padding by runes, `%!d(string=x)` for a verb that does not fit its operand, Go's time layouts.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from decimal import Decimal

from logyard.gocompat.text import go_quote

NO_VALUE = object()  # a missing key of a map that is not the label map: prints "<no value>"

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


# --- printing ----------------------------------------------------------------------------------


def go_type(v: object) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, GoTime):
        return "time.Time"
    if isinstance(v, list):
        return "[]interface {}"
    if isinstance(v, dict):
        return "map[string]interface {}"
    return "<nil>"


def format_float(f: float, fmt: str = "g", prec: int = -1) -> str:
    """Go's float formatting: %v / %g (shortest digits, exponent form at >= 1e6 or < 1e-4, as
    strconv's 'g' with precision -1: `1e+06`, `123456.5`), %e, %f."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if fmt == "f":
        return f"{f:.{6 if prec < 0 else prec}f}"
    if fmt == "e":
        s = f"{f:.{6 if prec < 0 else prec}e}"
        return _go_exp(s)
    # 'g': shortest digits; exponent form below 1e-4 or from 1e6 (Go: eprec = 6 when shortest)
    if prec < 0:
        if f == 0:
            return "-0" if math.copysign(1, f) < 0 else "0"
        dec = Decimal(repr(f))
        exp = dec.adjusted()
        sig = "".join(ch for ch in format(dec.normalize(), "e").split("e")[0] if ch.isdigit()).rstrip("0") or "0"
        if exp < -4 or exp >= 6:
            mant = sig[0] + ("." + sig[1:] if len(sig) > 1 else "")
            sign = "-" if f < 0 else ""
            return f"{sign}{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
        return format(dec.normalize(), "f")
    s = f"{f:.{max(prec, 1)}g}"
    return _go_exp(s) if "e" in s else s


def _go_exp(s: str) -> str:
    mant, _, exp = s.partition("e")
    sign = exp[0] if exp[0] in "+-" else "+"
    digits = exp.lstrip("+-").lstrip("0") or "0"
    return f"{mant}e{sign}{digits.rjust(2, '0')}"


def sprint_value(v: object) -> str:
    """fmt.Sprint of one value (also how a template prints an action's result)."""
    if v is NO_VALUE:
        return "<no value>"
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return format_float(v)
    if isinstance(v, GoTime):
        return str(v)
    if isinstance(v, list):
        return "[" + " ".join(sprint_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{sprint_value(k)}:{sprint_value(v[k])}" for k in sorted(v)) + "]"
    return str(v)


def sprint(args: list) -> str:
    """fmt.Sprint: a space between two operands when neither is a string."""
    out = []
    for i, a in enumerate(args):
        if i > 0 and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(sprint_value(a))
    return "".join(out)


def sprintln(args: list) -> str:
    return " ".join(sprint_value(a) for a in args) + "\n"


_VERB = re.compile(r"%([-+# 0]*)(\*|\d+)?(?:\.(\*|\d*))?([a-zA-Z%])")


def _bad(verb: str, v: object) -> str:
    if v is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({go_type(v)}={sprint_value(v)})"


def _pad(s: str, width: int | None, flags: str, zero_ok: bool) -> str:
    if width is None or len(s) >= width:
        return s
    if "-" in flags:
        return s + " " * (width - len(s))
    if "0" in flags and zero_ok:
        sign = s[0] if s[:1] in "+-" else ""
        body = s[len(sign):]
        return sign + "0" * (width - len(s)) + body
    return " " * (width - len(s)) + s


def _fmt_int(v: int, verb: str, flags: str, prec: int | None) -> str:
    sign = "-" if v < 0 else ("+" if "+" in flags else (" " if " " in flags else ""))
    a = abs(v)
    if verb == "d":
        body = str(a)
    elif verb == "x":
        body = format(a, "x")
        if "#" in flags:
            body = "0x" + body
    elif verb == "X":
        body = format(a, "X")
        if "#" in flags:
            body = "0X" + body
    elif verb == "o":
        body = format(a, "o")
        if "#" in flags:
            body = "0" + body
    elif verb == "O":
        body = "0o" + format(a, "o")
    else:  # b
        body = format(a, "b")
    if prec is not None and len(body) < prec:
        body = "0" * (prec - len(body)) + body
    return sign + body


def _fmt_one(verb: str, flags: str, width: int | None, prec: int | None, v: object) -> str:
    zero_ok = True
    if verb in ("v", "s") and isinstance(v, list):
        s = "[" + " ".join(_fmt_one(verb, flags, None, prec, x) for x in v) + "]"
        return _pad(s, width, flags, False)
    if verb == "v":
        if isinstance(v, float):
            s = format_float(v)
            if "+" in flags and not s.startswith("-") and not s.startswith("+"):
                s = "+" + s
        elif isinstance(v, int) and not isinstance(v, bool):
            s = _fmt_int(v, "d", flags, prec)
        elif isinstance(v, str) and prec is not None:
            s = v[:prec]
        else:
            s = sprint_value(v)
    elif verb == "s":
        if isinstance(v, str):
            s = v if prec is None else v[:prec]
        elif isinstance(v, GoTime):
            s = str(v)
        else:
            return _bad(verb, v)
    elif verb == "q":
        if isinstance(v, str):
            s = go_quote(v)
        elif isinstance(v, int) and not isinstance(v, bool):
            s = "'" + go_quote(chr(v))[1:-1].replace("'", "\\'").replace('\\"', '"') + "'"
        else:
            return _bad(verb, v)
    elif verb in "dboxXO":
        if isinstance(v, int) and not isinstance(v, bool):
            s = _fmt_int(v, verb, flags, prec)
        elif verb in "xX" and isinstance(v, str):
            s = v.encode().hex()
            s = s.upper() if verb == "X" else s
        else:
            return _bad(verb, v)
    elif verb in "feEgGF":
        if isinstance(v, float):
            fv = v
        else:
            return _bad(verb, v)
        if verb in "fF":
            s = format_float(fv, "f", 6 if prec is None else prec)
        elif verb in "eE":
            s = format_float(fv, "e", 6 if prec is None else prec)
            s = s.upper() if verb == "E" else s
        else:
            s = format_float(fv, "g", -1 if prec is None else prec)
            s = s.upper() if verb == "G" else s
        if "+" in flags and not s.startswith(("-", "+")):
            s = "+" + s
        elif " " in flags and not s.startswith(("-", "+")):
            s = " " + s
    elif verb == "t":
        if isinstance(v, bool):
            s = "true" if v else "false"
        else:
            return _bad(verb, v)
    elif verb == "c":
        if isinstance(v, int) and not isinstance(v, bool):
            s = chr(v)
        else:
            return _bad(verb, v)
    elif verb == "U":
        if isinstance(v, int) and not isinstance(v, bool):
            s = f"U+{v:04X}"
        else:
            return _bad(verb, v)
    else:
        return _bad(verb, v)
    # Go pads with zeros for every verb (strings too), except that a precision cancels it for
    # integers and that Inf/NaN are never zero-padded.
    if isinstance(v, int) and not isinstance(v, bool) and prec is not None:
        zero_ok = False
    if isinstance(v, float) and (math.isinf(v) or math.isnan(v)):
        zero_ok = False
    return _pad(s, width, flags, zero_ok)


def sprintf(fmt: str, args: list) -> str:
    """Go's fmt.Sprintf for the verbs templates use (%s %d %v %q %f %x %e %g %t %c %o %b)."""
    out = []
    pos = 0
    argi = 0
    for m in _VERB.finditer(fmt):
        out.append(fmt[pos : m.start()])
        pos = m.end()
        flags, width_s, prec_s, verb = m.group(1), m.group(2), m.group(3), m.group(4)
        if verb == "%" and not flags and width_s is None and prec_s is None:
            out.append("%")
            continue
        width: int | None = None
        prec: int | None = None
        if width_s == "*":
            if argi < len(args) and isinstance(args[argi], int):
                width = args[argi]
                if width < 0:
                    flags += "-"
                    width = -width
            argi += 1
        elif width_s:
            width = int(width_s)
        if prec_s is not None:
            if prec_s == "*":
                prec = args[argi] if argi < len(args) and isinstance(args[argi], int) else 0
                argi += 1
            else:
                prec = int(prec_s or "0")
        if verb == "%":
            out.append("%")
            continue
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        out.append(_fmt_one(verb, flags, width, prec, args[argi]))
        argi += 1
    out.append(fmt[pos:])
    if argi < len(args):
        extra = ", ".join("<nil>" if a is None else f"{go_type(a)}={sprint_value(a)}" for a in args[argi:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)
