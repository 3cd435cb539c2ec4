"""Go's text handling as Loki's texts show it: `%q`, `strconv.ParseFloat`, `unicode.IsSpace`, RE2
escaping, and Go's wording of regexp errors.

Loki's error details and label values are produced by Go's standard library; these helpers spell
them the same way so `__error_details__` and formatted values match Loki byte for byte.
"""

from __future__ import annotations

import math
import re

from logyard.labels import quote

_GO_FLOAT = re.compile(
    r"[+-]?(?:(?:[0-9](?:_?[0-9])*)?\.?[0-9]*(?:[eE][+-]?[0-9]+)?"
    r"|0[xX][0-9a-fA-F]*\.?[0-9a-fA-F]*[pP][+-]?[0-9]+|inf|infinity|nan)",
    re.IGNORECASE,
)


# unicode.IsSpace: what Go's strings.TrimSpace / bytes.TrimSpace remove.
GO_SPACE = " \t\n\v\f\r\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


go_quote = quote  # Go's strconv.Quote / %q; the one implementation lives in logyard.labels


def parse_float(s: str) -> float:
    """Go's `strconv.ParseFloat(s, 64)`; ValueError carries Go's message."""
    if not s or _GO_FLOAT.fullmatch(s) is None or s in ("+", "-", ".", "+.", "-.") or "_" in s:
        raise ValueError(f"strconv.ParseFloat: parsing {go_quote(s)}: invalid syntax")
    body = s.lstrip("+-")
    if body[:1] in ("e", "E") or body.lower().startswith((".e",)) or body == ".":
        raise ValueError(f"strconv.ParseFloat: parsing {go_quote(s)}: invalid syntax")
    try:
        if body[:2].lower() == "0x":
            value = float.fromhex(s)
        else:
            value = float(s)
    except (ValueError, OverflowError):
        raise ValueError(f"strconv.ParseFloat: parsing {go_quote(s)}: invalid syntax") from None
    if math.isinf(value) and "inf" not in s.lower():
        raise ValueError(f"strconv.ParseFloat: parsing {go_quote(s)}: value out of range")
    return value


def re2_escape(text: str) -> str:
    """Escape a literal for a RE2 pattern (RE2 accepts `\\` before ASCII punctuation only)."""
    out = []
    for ch in text:
        if ch.isalnum() or ord(ch) >= 0x80 or ch == "_":
            out.append(ch)
        elif 0x21 <= ord(ch) <= 0x7E or ch == " ":
            out.append(ch if ch == " " else "\\" + ch)
        else:
            out.append(f"\\x{{{ord(ch):x}}}")
    return "".join(out)


# RE2's error wording mapped onto Go's regexp/syntax wording (Loki reports Go's text).
_RE2_TO_GO = {
    "missing )": "missing closing )",
    "missing ]": "missing closing ]",
    "unexpected )": "unexpected )",
    "bad repetition operator": "invalid nested repetition operator",
    "no argument for repetition operator": "missing argument to repetition operator",
    "bad repetition argument": "invalid repeat count",
    "invalid escape sequence": "invalid escape sequence",
    "invalid character class range": "invalid character class range",
    "invalid character class": "invalid character class",
    "invalid named capture group": "invalid named capture",
    "duplicate capture group name": "duplicate capture group name",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "invalid UTF-8": "invalid UTF-8",
}


def compile_re2(pattern: str):
    """Compile with RE2 (Go regexp syntax); a bad pattern raises ValueError worded as Go's
    `error parsing regexp: <code>: `<expr>``."""
    import re2

    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        raw = exc.args[0] if exc.args else ""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        code, _, expr = text.partition(": ")
        raise ValueError(f"error parsing regexp: {_RE2_TO_GO.get(code, code)}: `{expr}`") from None
