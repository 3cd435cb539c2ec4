"""The LogQL lexer: turns a query into Loki's tokens, with Loki's token names and error positions.

Loki lexes with Go's text/scanner (Go identifiers, numbers, "strings" and `raw strings`, `//` and
`/* */` comments) and then reclassifies: numbers glued to a unit become DURATION or BYTES, `[...]`
becomes one RANGE token, keywords are case-insensitive, function names are only keywords when a `(`
(or `by`/`without` and a `(`) follows, and anything unknown is an IDENTIFIER. Token kinds here are
the names Loki prints in `syntax error: unexpected X`.

Positions copy a quirk of Loki's scanner: a token it finishes with `Scanner.Next()` (two-character
operators, ranges, durations, byte sizes, flags) reports line 0, keeping its column.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

from logyard.errors import ParseError
from logyard.gocompat.humanize import parse_bytes
from logyard.logql.functions import FUNCTIONS as FUNCTION_TABLE
from logyard.units import parse_go_duration, parse_prom_duration

EOF = "$end"

# Keywords and punctuation: their text (lower-cased) is their token name. Function names are in
# `logyard.logql.functions`.
KEYWORDS = frozenset({
    ",", ".", "{", "}", "=", "!=", "=~", "!~", "!>", "|=", "|~", "|>", "|", "(", ")", "[", "]",
    "unwrap", "by", "without", "bool", "offset", "on", "ignoring", "group_left",
    "group_right", "or", "and", "unless", "+", "-", "*", "/", "%", "^", "==", ">", ">=", "<", "<=",
    "json", "regexp", "logfmt", "unpack", "pattern", "label_format", "line_format", "decolorize",
    "drop", "keep",
})

# Function name -> Loki's token name; a function name is a keyword only when `(` or `by (` /
# `without (` follows it.
FUNCTIONS = {f.name: f.token_name for f in FUNCTION_TABLE}

PARSER_FLAGS = frozenset({"--strict", "--keep-empty"})

_TWO_CHAR = frozenset(k for k in KEYWORDS if len(k) == 2 and not k.isalpha())
_WHITESPACE = "\t\n\r "
_DURATION_RUNES = frozenset("numµshdwy")
_BYTES_RUNES = frozenset("BikKMGTP")


@dataclass(frozen=True)
class Token:
    """One token: `kind` is Loki's name for it; `value` is the unquoted string, the number text,
    or int nanoseconds / bytes for DURATION, RANGE and BYTES."""

    kind: str
    text: str
    value: object
    line: int
    col: int
    start: int
    end: int


class Lexer:
    """Produces tokens on demand, so a lexical error surfaces exactly when Loki's parser would see it."""

    def __init__(self, text: str) -> None:
        self.src = text
        self.pos = 0
        self._newlines = [i for i, ch in enumerate(text) if ch == "\n"] if "\n" in text else []

    # -- positions ------------------------------------------------------------------------------

    def _position(self, start: int) -> tuple[int, int]:
        """1-based line and column (in characters) of `start`, as Go's scanner counts them."""
        if not self.src:
            return 0, 0  # Go's scanner reports no position at all for an empty input
        before = bisect_left(self._newlines, start)
        line_start = self._newlines[before - 1] + 1 if before else 0
        return before + 1, start - line_start + 1

    def _error(self, message: str, start: int, invalidated: bool = False) -> ParseError:
        line, col = self._position(start)
        return ParseError(message, 0 if invalidated else line, col)

    def _peek(self, i: int = 0) -> str:
        j = self.pos + i
        return self.src[j] if j < len(self.src) else ""

    # -- scanning (Go text/scanner, GoTokens mode) ---------------------------------------------

    def _skip_space_and_comments(self) -> None:
        src = self.src
        while self.pos < len(src):
            ch = src[self.pos]
            if ch in _WHITESPACE:
                self.pos += 1
            elif ch == "/" and self._peek(1) == "/":
                end = src.find("\n", self.pos)
                self.pos = len(src) if end < 0 else end
            elif ch == "/" and self._peek(1) == "*":
                end = src.find("*/", self.pos + 2)
                if end < 0:
                    raise self._error("comment not terminated", self.pos)
                self.pos = end + 2
            else:
                return

    def next_token(self) -> Token:
        self._skip_space_and_comments()
        src = self.src
        start = self.pos
        if start >= len(src):
            return self._make(EOF, start, start, None)
        ch = src[start]

        if ch == "#":  # Loki's line comment
            end = src.find("\n", start)
            self.pos = len(src) if end < 0 else end + 1
            return self.next_token()

        if ch.isdigit() and ch.isascii() or (ch == "." and self._peek(1).isdigit() and self._peek(1).isascii()):
            self._scan_number()
            return self._number(start)

        if ch == '"':
            self._scan_string(start)
            return self._make("STRING", start, self.pos, unquote(src[start:self.pos], self._error, start))
        if ch == "`":
            end = src.find("`", start + 1)
            if end < 0:
                raise self._error("literal not terminated", start)
            self.pos = end + 1
            return self._make("STRING", start, self.pos, src[start + 1:end])

        if ch == "-" and self._peek(1) == "-":
            flag = self._try_flag(start)
            if flag is not None:
                return flag
        if ch == "-":
            dur = self._try_unit(start, start + 1, "-", _DURATION_RUNES, parse_duration, "DURATION")
            if dur is not None:
                return dur

        if ch == "[":
            end = src.find("]", start + 1)
            if end < 0:
                raise self._error("missing closing ']' in duration", start, invalidated=True)
            try:
                ns = parse_prom_duration(src[start + 1:end])
            except ValueError as e:
                raise self._error(str(e), start, invalidated=True) from None
            self.pos = end + 1
            return self._make("RANGE", start, self.pos, ns, invalidated=True)

        if ch == "_" or ch.isalpha():
            end = start + 1
            while end < len(src) and (src[end] == "_" or src[end].isalpha() or src[end].isdecimal()):
                end += 1
            self.pos = end
            text = src[start:end]
            lower = text.lower()
            if lower in FUNCTIONS:
                if not self._is_function(end):
                    return self._make("IDENTIFIER", start, end, text)
                return self._make(FUNCTIONS[lower], start, end, text)
            if lower in KEYWORDS:
                return self._make(lower, start, end, text)
            return self._make("IDENTIFIER", start, end, text)

        if ch == "'":
            # A Go char literal; Loki does not know it and calls it an IDENTIFIER.
            if self._scan_string(start, "'") != 1:
                raise self._error("invalid char literal", start)
            return self._make("IDENTIFIER", start, self.pos, src[start:self.pos])

        two = src[start:start + 2]
        if two in _TWO_CHAR:
            self.pos = start + 2
            return self._make(two, start, self.pos, two, invalidated=True)
        self.pos = start + 1
        if ch in KEYWORDS:
            return self._make(ch, start, self.pos, ch)
        return self._make("IDENTIFIER", start, self.pos, ch)

    def _make(self, kind: str, start: int, end: int, value: object, invalidated: bool = False) -> Token:
        line, col = self._position(start)
        return Token(kind, self.src[start:end], value, 0 if invalidated else line, col, start, end)

    def _scan_number(self) -> None:
        """Scan a number as Loki's copy of Go's scanner does, reporting its first error at the
        number's start. Loki's copy only takes `0b` as a binary prefix when a binary digit follows,
        so `0B` is a "decimal literal" without digits (and `size > 0B` fails in Loki)."""
        src, start, n = self.src, self.pos, len(self.src)
        i = start
        base, prefix, digsep, invalid = 10, "", 0, ""
        seen_dot = src[i] == "."
        is_float = False
        if seen_dot:
            i += 1
        else:
            if src[i] == "0":
                i += 1
                c = src[i].lower() if i < n else ""
                if c == "x":
                    i, base, prefix = i + 1, 16, "x"
                elif c == "o":
                    i, base, prefix = i + 1, 8, "o"
                elif c == "b":
                    if i + 1 < n and src[i + 1] in "01":
                        i, base, prefix = i + 1, 2, "b"
                else:
                    base, prefix, digsep = 8, "0", 1
            i, ds, invalid = _digits(src, i, base, invalid)
            digsep |= ds
            if i < n and src[i] == ".":
                i, seen_dot = i + 1, True
        if seen_dot:
            is_float = True
            if prefix in ("o", "b"):
                raise self._error(f"invalid radix point in {_LITNAME[prefix]}", start)
            i, ds, invalid = _digits(src, i, base, invalid)
            digsep |= ds
        if not digsep & 1:
            raise self._error(f"{_LITNAME[prefix]} has no digits", start)
        e = src[i] if i < n else ""
        if e in "eE" and e or (e in "pP" and e and prefix == "x"):
            if e in "eE" and prefix not in ("", "0"):
                raise self._error(f"'{e}' exponent requires decimal mantissa", start)
            i += 1
            is_float = True
            if i < n and src[i] in "+-":
                i += 1
            i, ds, _ = _digits(src, i, 10, "")
            if not ds & 1:
                raise self._error("exponent has no digits", start)
            digsep |= ds
        elif prefix == "x" and is_float:
            raise self._error("hexadecimal mantissa requires a 'p' exponent", start)
        if not is_float and invalid:
            raise self._error(f"invalid digit '{invalid}' in {_LITNAME[prefix]}", start)
        if digsep & 2 and _invalid_separator(src[start:i]):
            raise self._error("'_' must separate successive digits", start)
        self.pos = i

    def _number(self, start: int) -> Token:
        text = self.src[start:self.pos]
        tok = self._try_unit(start, self.pos, text, _DURATION_RUNES, parse_duration, "DURATION")
        if tok is None:
            tok = self._try_unit(start, self.pos, text, _BYTES_RUNES, parse_bytes, "BYTES")
        if tok is None:
            tok = self._make("NUMBER", start, self.pos, text)
        return tok

    def _try_unit(self, start: int, after: int, head: str, runes: frozenset, parse, kind: str) -> Token | None:
        """Loki glues a unit to a number up to the next space; a unit that does not parse is no unit."""
        src = self.src
        i = after
        while i < len(src) and not src[i].isspace():
            c = src[i]
            if not (c.isnumeric() or c in runes or c == "."):
                break
            i += 1
        if i == after:
            return None
        try:
            value = parse(head + src[after:i])
        except ValueError:
            return None
        self.pos = i
        return self._make(kind, start, i, value, invalidated=True)

    def _try_flag(self, start: int) -> Token | None:
        src = self.src
        i = start + 1
        while i < len(src) and (src[i].isalpha() or src[i] == "-"):
            i += 1
        if src[start:i] not in PARSER_FLAGS:
            return None
        self.pos = i
        return self._make("FUNCTION_FLAG", start, i, src[start:i], invalidated=True)

    def _is_function(self, i: int) -> bool:
        """Loki's test of whether a function name is used as a function: `(` or `by (` / `without (` follows."""
        src = self.src
        i = _skip_spaces(src, i)
        if src.startswith("(", i):
            return True
        lower = src[i:i + 7].lower()
        for word in ("by", "without"):
            if lower.startswith(word):
                return src.startswith("(", _skip_spaces(src, i + len(word)))
        return False

    def _scan_string(self, start: int, quote: str = '"') -> int:
        """Scan a quoted literal as Go's scanner does (first error at the literal's start); returns
        the number of characters in it."""
        src = self.src
        i = start + 1
        count = 0
        while True:
            if i >= len(src) or src[i] == "\n":
                raise self._error("literal not terminated", start)
            c = src[i]
            if c == quote:
                self.pos = i + 1
                return count
            i = self._scan_escape(i + 1, start, quote) if c == "\\" else i + 1
            count += 1

    def _scan_escape(self, i: int, start: int, quote: str) -> int:
        src = self.src
        c = src[i] if i < len(src) else ""
        if c and c in "abfnrtv\\" + quote:
            return i + 1
        if c and c in "01234567":
            base, n = 8, 3
        elif c and c in "xuU":
            (base, n), i = {"x": (16, 2), "u": (16, 4), "U": (16, 8)}[c], i + 1
        else:
            raise self._error("invalid char escape", start)
        for _ in range(n):
            d = src[i] if i < len(src) else ""
            if not (d.isascii() and d.isalnum()) or int(d, 36) >= base:
                raise self._error("invalid char escape", start)
            i += 1
        return i


_LITNAME = {"": "decimal literal", "x": "hexadecimal literal", "o": "octal literal", "0": "octal literal",
            "b": "binary literal"}
_HEX = frozenset("0123456789abcdefABCDEF")


def parse_duration(text: str) -> int:
    """Loki's duration token: Prometheus syntax first, Go's syntax as the fallback."""
    try:
        return parse_prom_duration(text)
    except ValueError:
        return parse_go_duration(text)


def _digits(src: str, i: int, base: int, invalid: str) -> tuple[int, int, str]:
    """Go's scanner `digits`: (end, bit 1 = a digit seen | bit 2 = a `_` seen, first invalid digit)."""
    digsep = 0
    while i < len(src):
        c = src[i]
        if c == "_":
            digsep |= 2
        elif base <= 10 and "0" <= c <= "9":
            digsep |= 1
            if ord(c) >= ord("0") + base and not invalid:
                invalid = c
        elif base > 10 and c in _HEX:
            digsep |= 1
        else:
            break
        i += 1
    return i, digsep, invalid


def _invalid_separator(text: str) -> bool:
    """Go's rule: each `_` must sit between digits (or right after a base prefix)."""
    x1 = " "
    d = "."
    i = 0
    if len(text) >= 2 and text[0] == "0" and text[1].lower() in "xob":
        x1, d, i = text[1].lower(), "0", 2
    for c in text[i:]:
        p = d
        if c == "_":
            if p != "0":
                return True
            d = "_"
        elif c.isdigit() and c.isascii() or (x1 == "x" and c in _HEX):
            d = "0"
        else:
            if p == "_":
                return True
            d = "."
    return d == "_"


def _skip_spaces(src: str, i: int) -> int:
    while i < len(src) and src[i].isspace():
        i += 1
    return i


def tokenize(text: str) -> list[Token]:
    """All tokens of a query, ending with `$end` (for tests and tools)."""
    lexer = Lexer(text)
    out = []
    while True:
        tok = lexer.next_token()
        out.append(tok)
        if tok.kind == EOF:
            return out


_SIMPLE_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34}


def unquote(literal: str, error=None, start: int = 0) -> str:
    """Unquote a Go "double-quoted" literal. `\\x` and octal escapes are bytes, as in Go: they join
    with their neighbours into UTF-8 (bytes that are not UTF-8 stay as surrogate escapes)."""
    body = literal[1:-1]
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode("utf-8", "surrogatepass")
            i += 1
            continue
        e = body[i + 1]
        if e in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[e])
            i += 2
        elif e == "x":
            out.append(int(body[i + 2:i + 4], 16))
            i += 4
        elif e in "01234567":
            value = int(body[i + 1:i + 4], 8)
            if value > 255:
                if error is None:
                    raise ValueError("invalid syntax")
                raise error("invalid syntax", start)
            out.append(value)
            i += 4
        else:
            n = 4 if e == "u" else 8
            cp = int(body[i + 2:i + 2 + n], 16)
            if cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
                if error is None:
                    raise ValueError("invalid syntax")
                raise error("invalid syntax", start)
            out += chr(cp).encode("utf-8")
            i += 2 + n
    return out.decode("utf-8", "surrogateescape")
