"""The function map of Loki's templates: Go builtins, Loki's own functions and its sprig subset.

Each entry declares its Go parameter kinds so arguments are checked as Go's template engine checks
them (`wrong type for value; expected int; got string`), then runs with Go semantics: strings
functions from Go's `strings`, numbers through `cast` (sprig's `add` truncates "3.9" to 0 and
3.9 to 3), `addf`… in decimal arithmetic, `date` with Go layouts, `default` on Go's "empty".
Errors raised by a function become `error calling <name>: <err>`.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import time as _time
import urllib.parse
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from logyard.gocompat.fmt import NO_VALUE, go_type, sprint, sprintf, sprintln
from logyard.gocompat.humanize import parse_bytes
from logyard.gocompat.text import GO_SPACE, compile_re2, parse_float
from logyard.gocompat.timevalue import ZERO_TIME_NS, GoTime, parse_time
from logyard.units import parse_go_duration

from .builtins import FuncError, and_, eq, html, index, js, length, lt, or_, slice_, truth


@dataclass(slots=True)
class Context:
    labels: dict[str, str]
    line: str
    ts_ns: int


_TYPE_NAMES = {"s": "string", "i": "int", "t": "time.Time", "f": "float64"}


def _check(name: str, kind: str, v: object) -> object:
    if kind == "a":
        return None if v is NO_VALUE else v
    if v is None or v is NO_VALUE:
        raise FuncError(f"invalid value; expected {_TYPE_NAMES[kind]}")
    ok = {
        "s": isinstance(v, str),
        "i": isinstance(v, int) and not isinstance(v, bool),
        "t": isinstance(v, GoTime),
        "f": isinstance(v, float) or (isinstance(v, int) and not isinstance(v, bool)),
    }[kind]
    if not ok:
        raise FuncError(f"wrong type for value; expected {_TYPE_NAMES[kind]}; got {go_type(v)}")
    if kind == "f":
        return float(v)  # type: ignore[arg-type]
    return v


# --- cast (spf13/cast) as sprig uses it ----------------------------------------------------------


def to_int64(v: object) -> int:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return -(2**63)
        return int(v)
    if isinstance(v, str):
        s = v
        if "." in s:
            head, _, tail = s.partition(".")
            if tail.strip("0") == "":
                s = head
        body = s.lstrip("+-")
        try:
            if len(body) > 1 and body[0] == "0" and body[1].isdigit():
                # strconv.ParseInt(s, 0, 0): a leading 0 means octal
                return int(s[: len(s) - len(body)] + "0o" + body[1:], 0)
            return int(s, 0)
        except ValueError:
            return 0
    return 0


def to_float64(v: object) -> float:
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return parse_float(v)
        except ValueError:
            return 0.0
    return 0.0


def _dec(v: object) -> Decimal:
    return Decimal(repr(to_float64(v)))


def _decimal_op(first: object, rest: list, op) -> float:
    with localcontext() as ctx:
        ctx.prec = 60
        acc = _dec(first)
        for x in rest:
            acc = op(acc, _dec(x))
        return float(acc)


def _divf(a: Decimal, b: Decimal) -> Decimal:
    if b == 0:
        raise FuncError("decimal division by 0")
    # shopspring/decimal divides to 16 fractional digits
    return (a / b).quantize(Decimal(1).scaleb(-16))


def _empty(v: object) -> bool:
    """sprig's notion of empty, used by `default`."""
    if v is None or v is NO_VALUE:
        return True
    if isinstance(v, bool):
        return not v
    if isinstance(v, (int, float)):
        return v == 0
    if isinstance(v, (str, list, dict)):
        return len(v) == 0
    if isinstance(v, GoTime):
        return v.is_zero()
    return False


# --- Go strings ----------------------------------------------------------------------------------


def _go_trim_chars(s: str, cutset: str, left: bool, right: bool) -> str:
    if left:
        s = s.lstrip(cutset) if cutset else s
    if right:
        s = s.rstrip(cutset) if cutset else s
    return s




def _replace(s: str, old: str, new: str, n: int) -> str:
    if n < 0:
        n = -1
    if old == "":
        # Go inserts `new` before each rune and at the end
        runes = list(s)
        out = []
        count = 0
        for r in runes:
            if n < 0 or count < n:
                out.append(new)
                count += 1
            out.append(r)
        if n < 0 or count < n:
            out.append(new)
        return "".join(out)
    return s.replace(old, new, n)


def _is_separator(ch: str) -> bool:
    """Go's strings.Title word separator: ASCII other than alphanumerics and `_`, or a space."""
    if ord(ch) <= 0x7F:
        return not (ch.isalnum() or ch == "_")
    if ch.isalpha() or ch.isdigit():
        return False
    return ch.isspace()


def _title(s: str) -> str:
    """strings.Title (sprig's `title`): title-case the letter after each separator."""
    out = []
    prev = " "
    for ch in s:
        out.append(ch.upper() if _is_separator(prev) else ch)
        prev = ch
    return "".join(out)


def _bytes_slice(s: str, start: int, end: int | None) -> str:
    b = s.encode("utf-8")
    return b[start:end].decode("utf-8", "replace")


def _trunc(c: int, s: str) -> str:
    # sprig's trunc counts bytes
    n = len(s.encode("utf-8"))
    if c < 0 and n + c > 0:
        return _bytes_slice(s, n + c, None)
    if c >= 0 and n > c:
        return _bytes_slice(s, 0, c)
    return s


def _substr(start: int, end: int, s: str) -> str:
    # sprig's substr counts bytes; out-of-range slices panic in Go
    n = len(s.encode("utf-8"))
    if start < 0:
        if end > n or end < 0:
            raise FuncError(f"runtime error: slice bounds out of range [:{end}] with length {n}")
        return _bytes_slice(s, 0, end)
    if end < 0 or end > n:
        if start > n:
            raise FuncError(f"runtime error: slice bounds out of range [{start}:{n}]")
        return _bytes_slice(s, start, None)
    if start > end:
        raise FuncError(f"runtime error: slice bounds out of range [{start}:{end}]")
    return _bytes_slice(s, start, end)


def _align(count: int, src: str, left: bool) -> str:
    n = len(src)
    if count < 0 or count == n:
        return src
    pad = count - n
    if pad > 0:
        return src + " " * pad if left else " " * pad + src
    return src[:count] if left else src[n - count :]


def _indent(spaces: int, v: str) -> str:
    pad = " " * spaces
    return pad + v.replace("\n", "\n" + pad)


# --- regexp --------------------------------------------------------------------------------------

_EXPAND = re.compile(r"\$(\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")


def _expand(template: str, m) -> str:
    """Go's Regexp.Expand: `$1`, `${1}`, `$name` (longest name; unknown → ""), `$$` → `$`."""
    def sub(x) -> str:
        if x.group(1) == "$":
            return "$"
        name = x.group(2) or x.group(3)
        try:
            idx = int(name)
            if str(idx) != name and x.group(3):
                raise ValueError
        except ValueError:
            idx = m.re.groupindex.get(name, -1)
        if 0 <= idx <= m.re.groups:
            return m.group(idx) or ""
        return ""

    return _EXPAND.sub(sub, template)


def _regex(pattern: str):
    try:
        return compile_re2(pattern)
    except ValueError as exc:
        raise FuncError(str(exc)) from None


def _regex_replace_all(pattern: str, s: str, repl: str, literal: bool) -> str:
    rx = _regex(pattern)
    out = []
    pos = 0
    last_match_end = -1
    for m in rx.finditer(s):
        # Go skips an empty match right after a previous match
        if m.start() == m.end() and m.start() == last_match_end:
            continue
        out.append(s[pos : m.start()])
        out.append(repl if literal else _expand(repl, m))
        pos = m.end()
        last_match_end = m.end()
    out.append(s[pos:])
    return "".join(out)


def _count(pattern: str, s: str) -> int:
    return sum(1 for _ in _regex(pattern).finditer(s))


# --- time ----------------------------------------------------------------------------------------


def _now() -> GoTime:
    return GoTime(_time.time_ns(), 0, "UTC")


def _date(fmt: str, date: object) -> str:
    if isinstance(date, GoTime):
        t = date
    elif isinstance(date, int) and not isinstance(date, bool):
        t = GoTime(date * 1_000_000_000)
    else:
        t = _now()
    return t.format(fmt)


def _to_date(fmt: str, s: str) -> GoTime:
    try:
        return parse_time(fmt, s)
    except ValueError:
        return GoTime(ZERO_TIME_NS)


def _to_date_in_zone(fmt: str, zone: str, s: str) -> GoTime:
    # Loki: an unknown zone falls back to UTC; a value that does not parse is the zero time
    try:
        location = ZoneInfo(zone) if zone not in ("", "UTC", "Local") else None
    except (ZoneInfoNotFoundError, ValueError):
        location = None
    try:
        return parse_time(fmt, s, location)
    except ValueError:
        return GoTime(ZERO_TIME_NS)


def _unix_to_time(epoch: str) -> GoTime:
    try:
        i = int(epoch, 10) if re.fullmatch(r"[+-]?\d+", epoch) else None
    except ValueError:
        i = None
    if i is None:
        raise FuncError(f"unable to parse time '{epoch}': strconv.ParseInt: parsing \"{epoch}\": invalid syntax")
    n = len(epoch)
    mult = {5: 86400 * 10**9, 10: 10**9, 13: 10**6, 16: 10**3, 19: 1}.get(n)
    if mult is None:
        raise FuncError(f"unable to parse time '{epoch}': %!w(<nil>)")
    return GoTime(i * mult)


# --- misc ----------------------------------------------------------------------------------------


def _b64dec(v: str) -> str:
    rem = len(v) % 4
    if rem not in (0, 1):
        v += "=" * (4 - rem)
    try:
        return base64.b64decode(v.encode(), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return _b64_error(v)


def _b64_error(v: str) -> str:
    for i, ch in enumerate(v):
        if not (ch.isalnum() and ch.isascii() or ch in "+/="):
            return f"illegal base64 data at input byte {i}"
    return f"illegal base64 data at input byte {max(len(v) - 1, 0)}"


def _from_json(v: str) -> object:
    try:
        value = orjson.loads(v)
    except orjson.JSONDecodeError:
        return None

    def conv(x: object) -> object:
        if isinstance(x, bool) or x is None or isinstance(x, str):
            return x
        if isinstance(x, (int, float)):
            return float(x)  # encoding/json decodes every number into float64
        if isinstance(x, list):
            return [conv(e) for e in x]
        if isinstance(x, dict):
            return {k: conv(e) for k, e in x.items()}
        return x

    return conv(value)


def _query_escape(s: str) -> str:
    return urllib.parse.quote_plus(s, safe="-_.~")


def _query_unescape(s: str) -> str:
    bad = re.search(r"%(?![0-9A-Fa-f]{2})(.{0,2})", s)
    if bad:
        raise FuncError(f'invalid URL escape "%{bad.group(1)}"')
    return urllib.parse.unquote_plus(s, errors="surrogateescape")


def _convert_bytes(v: str) -> float:
    try:
        return float(parse_bytes(v))
    except ValueError as exc:
        raise FuncError(str(exc)) from None


def _convert_duration(v: str) -> float:
    try:
        return parse_go_duration(v) / 1e9
    except ValueError as exc:
        raise FuncError(str(exc)) from None


def _round(a: object, p: int, *r_opt: object) -> float:
    round_on = to_float64(r_opt[0]) if r_opt else 0.5
    val = to_float64(a)
    pow_ = math.pow(10, p)
    digit = pow_ * val
    frac = math.modf(digit)[0]
    rounded = math.ceil(digit) if frac >= round_on else math.floor(digit)
    return rounded / pow_


def _div(a: object, b: object) -> int:
    x, y = to_int64(a), to_int64(b)
    if y == 0:
        raise FuncError("runtime error: integer divide by zero")
    q = abs(x) // abs(y)
    return q if (x >= 0) == (y >= 0) else -q


def _mod(a: object, b: object) -> int:
    x, y = to_int64(a), to_int64(b)
    if y == 0:
        raise FuncError("runtime error: integer divide by zero")
    return int(math.fmod(x, y))


# name -> (param kinds, variadic kind or None, implementation, needs context)
_F: dict[str, tuple[str, str | None, object]] = {
    # Go builtins
    "and": ("a", "a", and_),
    "or": ("a", "a", or_),
    "not": ("a", None, lambda v: not truth(v)),
    "len": ("a", None, length),
    "index": ("a", "a", index),
    "slice": ("a", "a", slice_),
    "print": ("", "a", lambda *a: sprint(list(a))),
    "printf": ("s", "a", lambda f, *a: sprintf(f, list(a))),
    "println": ("", "a", lambda *a: sprintln(list(a))),
    "eq": ("a", "a", eq),
    "ne": ("aa", None, lambda a, b: not eq(a, b)),
    "lt": ("aa", None, lt),
    "le": ("aa", None, lambda a, b: lt(a, b) or eq(a, b)),
    "gt": ("aa", None, lambda a, b: not (lt(a, b) or eq(a, b))),
    "ge": ("aa", None, lambda a, b: not lt(a, b)),
    "html": ("", "a", html),
    "js": ("", "a", js),
    "urlquery": ("", "a", lambda *a: _query_escape(sprint(list(a)))),
    # Loki's own (strings package names are the deprecated originals)
    "ToLower": ("s", None, str.lower),
    "ToUpper": ("s", None, str.upper),
    "Replace": ("sssi", None, _replace),
    "Trim": ("ss", None, lambda s, c: _go_trim_chars(s, c, True, True)),
    "TrimLeft": ("ss", None, lambda s, c: _go_trim_chars(s, c, True, False)),
    "TrimRight": ("ss", None, lambda s, c: _go_trim_chars(s, c, False, True)),
    "TrimPrefix": ("ss", None, lambda s, p: s[len(p):] if p and s.startswith(p) else s),
    "TrimSuffix": ("ss", None, lambda s, p: s[: len(s) - len(p)] if p and s.endswith(p) else s),
    "TrimSpace": ("s", None, lambda s: s.strip(GO_SPACE)),
    "regexReplaceAll": ("sss", None, lambda r, s, p: _regex_replace_all(r, s, p, False)),
    "regexReplaceAllLiteral": ("sss", None, lambda r, s, p: _regex_replace_all(r, s, p, True)),
    "count": ("ss", None, _count),
    "urldecode": ("s", None, _query_unescape),
    "urlencode": ("s", None, _query_escape),
    "bytes": ("s", None, _convert_bytes),
    "duration": ("s", None, _convert_duration),
    "duration_seconds": ("s", None, _convert_duration),
    "unixEpochMillis": ("t", None, lambda t: str(t.ns // 1_000_000)),
    "unixEpochNanos": ("t", None, lambda t: str(t.ns)),
    "toDateInZone": ("sss", None, _to_date_in_zone),
    "unixToTime": ("s", None, _unix_to_time),
    "alignLeft": ("is", None, lambda c, s: _align(c, s, True)),
    "alignRight": ("is", None, lambda c, s: _align(c, s, False)),
    "b64dec": ("s", None, _b64dec),
    # sprig subset Loki enables
    "b64enc": ("s", None, lambda s: base64.b64encode(s.encode()).decode()),
    "lower": ("s", None, str.lower),
    "upper": ("s", None, str.upper),
    "title": ("s", None, _title),
    "trunc": ("is", None, _trunc),
    "substr": ("iis", None, _substr),
    "contains": ("ss", None, lambda sub, s: sub in s),
    "hasPrefix": ("ss", None, lambda p, s: s.startswith(p)),
    "hasSuffix": ("ss", None, lambda p, s: s.endswith(p)),
    "indent": ("is", None, _indent),
    "nindent": ("is", None, lambda n, s: "\n" + _indent(n, s)),
    "replace": ("sss", None, lambda old, new, s: _replace(s, old, new, -1)),
    "repeat": ("is", None, lambda n, s: s * max(n, 0) if n >= 0 else _neg_repeat()),
    "trim": ("s", None, lambda s: s.strip(GO_SPACE)),
    "trimAll": ("ss", None, lambda c, s: _go_trim_chars(s, c, True, True)),
    "trimSuffix": ("ss", None, lambda p, s: s[: len(s) - len(p)] if p and s.endswith(p) else s),
    "trimPrefix": ("ss", None, lambda p, s: s[len(p):] if p and s.startswith(p) else s),
    "int": ("a", None, lambda v: to_int64(v)),
    "float64": ("a", None, to_float64),
    "add": ("", "a", lambda *a: sum(to_int64(x) for x in a)),
    "sub": ("aa", None, lambda a, b: to_int64(a) - to_int64(b)),
    "mul": ("a", "a", lambda a, *v: math.prod([to_int64(a)] + [to_int64(x) for x in v])),
    "div": ("aa", None, _div),
    "mod": ("aa", None, _mod),
    "addf": ("", "a", lambda *a: _decimal_op(0.0, list(a), lambda x, y: x + y)),
    "subf": ("a", "a", lambda a, *v: _decimal_op(a, list(v), lambda x, y: x - y)),
    "mulf": ("a", "a", lambda a, *v: _decimal_op(a, list(v), lambda x, y: x * y)),
    "divf": ("a", "a", lambda a, *v: _decimal_op(a, list(v), _divf)),
    "max": ("a", "a", lambda a, *v: max([to_int64(a)] + [to_int64(x) for x in v])),
    "min": ("a", "a", lambda a, *v: min([to_int64(a)] + [to_int64(x) for x in v])),
    "maxf": ("a", "a", lambda a, *v: max([to_float64(a)] + [to_float64(x) for x in v])),
    "minf": ("a", "a", lambda a, *v: min([to_float64(a)] + [to_float64(x) for x in v])),
    "ceil": ("a", None, lambda a: float(math.ceil(to_float64(a)))),
    "floor": ("a", None, lambda a: float(math.floor(to_float64(a)))),
    "round": ("ai", "a", _round),
    "fromJson": ("s", None, _from_json),
    "date": ("sa", None, _date),
    "toDate": ("ss", None, _to_date),
    "now": ("", None, _now),
    "unixEpoch": ("t", None, lambda t: str(t.ns // 1_000_000_000)),
    "default": ("a", "a", lambda d, *given: d if not given or _empty(given[0]) else given[0]),
}

_CONTEXT_FUNCS = {"__line__", "__timestamp__"}
FUNCS = frozenset(_F) | _CONTEXT_FUNCS


def _neg_repeat() -> str:
    raise FuncError("strings: negative Repeat count")


def call_function(name: str, args: list, ctx: Context) -> object:
    """Call a template function with Go's argument checks; FuncError carries Go's text."""
    if name == "__line__":
        if args:
            raise FuncError(f"wrong number of args for {name}: want 0 got {len(args)}")
        return ctx.line
    if name == "__timestamp__":
        if args:
            raise FuncError(f"wrong number of args for {name}: want 0 got {len(args)}")
        return GoTime(ctx.ts_ns, 0, "UTC")
    kinds, variadic, fn = _F[name]
    if variadic is None and len(args) != len(kinds):
        raise FuncError(f"wrong number of args for {name}: want {len(kinds)} got {len(args)}")
    if variadic is not None and len(args) < len(kinds):
        raise FuncError(f"wrong number of args for {name}: want at least {len(kinds)} got {len(args)}")
    if name in ("and", "or") and not args:
        raise FuncError(f"wrong number of args for {name}: want at least 1 got 0")
    checked = [_check(name, kinds[i] if i < len(kinds) else variadic, a)  # type: ignore[arg-type]
               for i, a in enumerate(args)]
    try:
        return fn(*checked)  # type: ignore[operator]
    except FuncError as exc:
        raise FuncError(f"error calling {name}: {exc}") from None
    except (ValueError, InvalidOperation, OverflowError, ZeroDivisionError) as exc:
        raise FuncError(f"error calling {name}: {exc}") from None


__all__ = ["FUNCS", "Context", "FuncError", "call_function"]
