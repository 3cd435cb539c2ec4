"""Go's fmt as Loki's templates print values: `fmt.Sprint`, `Sprintln`, `Sprintf` verbs, `%v` of floats.

Values are Python `str`, `int`, `float`, `bool`, `None` (Go nil), `list`, `dict` and `GoTime`
(`logyard.gocompat.timevalue`), printed the way Go's fmt package prints their Go counterparts, so
`line_format` output matches Loki byte for byte: floats in shortest form (`%v` is `%g`: exponent
form from 1e6 and below 1e-4), `%5s` padding by runes, `%!d(string=x)` for a verb that does not fit
its operand.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

from logyard.gocompat.text import go_quote
from logyard.gocompat.timevalue import GoTime

# text/template's missing value (a missing key of a map that is not the label map): prints
# "<no value>".
NO_VALUE = object()


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
