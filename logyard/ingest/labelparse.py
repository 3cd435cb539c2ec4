"""Parse a Prometheus-style label string (`{a="b", c="d"}`) the way Loki's push path does.

Loki parses every pushed stream's labels with Prometheus' `ParseMetric` (protobuf pushes carry the
string; JSON pushes are first printed as one, names sorted, values Go-quoted), and a client sees the
parser's first error verbatim, prefixed with `couldn't parse labels: `. This module reproduces that
grammar and the wording and `line:col` positions of its errors for the label-set subset of PromQL;
it is not a PromQL parser.
"""

from __future__ import annotations

import re

from logyard.labels import quote
from logyard.errors import BadRequestError

_IDENT_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_IDENT_CHARS = _IDENT_START | frozenset("0123456789")
_SPACE = frozenset(" \t\n\r")  # the PromQL lexer's isSpace, no more
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}
_PLAIN_LABELS = re.compile(r'\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"nt])*"(?:, ?|(?=\})))*\}')
_UNESCAPE = re.compile(r"\\(.)")


class LabelParseError(BadRequestError):
    """A label string Prometheus' parser rejects; `str()` is Loki's `1:2: parse error: ...` text."""

    def __init__(self, text: str, detail: str, offset: int) -> None:
        super().__init__(text)
        self.detail = detail
        self.offset = offset


go_quote = quote  # Go's strconv.Quote; the one implementation lives in logyard.labels


def labels_string(pairs: dict[str, str]) -> str:
    """Print a JSON push's `stream` map the way Loki's loghttp.LabelSet.String does."""
    return "{" + ", ".join(f"{k}={go_quote(pairs[k])}" for k in sorted(pairs)) + "}"


def _go_char(ch: str) -> str:
    """Go's %q of a rune: 'x', or an escape for the unprintable."""
    if ch == "'":
        return "'\\''"
    if ch == "\\":
        return "'\\\\'"
    q = go_quote(ch)
    return "'" + q[1:-1].replace('\\"', '"') + "'"


def _go_string_q(s: str) -> str:
    """Go's %q of a string."""
    return go_quote(s)


class _Tok:
    __slots__ = ("kind", "val", "pos")

    def __init__(self, kind: str, val: str, pos: int) -> None:
        self.kind = kind  # ident | string | eq | comma | rbrace | lbrace | eof | op
        self.val = val
        self.pos = pos

    def desc(self) -> str:
        # Prometheus' Item.desc(): operators print as their quoted text, the rest as "<type> <%q>".
        if self.kind == "eof":
            return "end of input"
        if self.kind in ("eq", "comma", "rbrace", "lbrace", "op"):
            return _go_string_q(self.val)
        if self.kind == "ident":
            return "identifier " + _go_string_q(self.val)
        # string: the raw token, %q, cut to 10 characters by %.10q
        if len(self.val) > 10:
            return "string " + _go_string_q(self.val[:10]) + "..."
        return "string " + _go_string_q(self.val)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.in_braces = False

    def fail(self, detail: str, offset: int) -> LabelParseError:
        # Prometheus prints line:col with col counted in bytes from the last newline, 1-based.
        before = self.text[:offset]
        line = before.count("\n") + 1
        col = len(before[before.rfind("\n") + 1 :].encode()) + 1
        return LabelParseError(f"{line}:{col}: parse error: {detail}", detail, offset)

    def _skip_space(self) -> None:
        t, i = self.text, self.i
        while i < len(t) and t[i] in _SPACE:
            i += 1
        self.i = i

    def next_token(self) -> _Tok:
        """One lexer item; lexer errors raise at once (the parser reports the first error only)."""
        self._skip_space()
        t, start = self.text, self.i
        if start >= len(t):
            if self.in_braces:
                raise self.fail("unexpected end of input inside braces", start)
            return _Tok("eof", "", start)
        ch = t[start]
        if not self.in_braces:
            if ch == "{":
                self.i += 1
                self.in_braces = True
                return _Tok("lbrace", "{", start)
            if ch not in _IDENT_START and ch != "," and ch not in "\"'`":
                raise self.fail(f"unexpected character: {_go_char(ch)}", start)
        if ch in _IDENT_START:
            j = start
            # Outside the braces (a metric name) `:` is an identifier character too.
            while j < len(t) and (t[j] in _IDENT_CHARS or (t[j] == ":" and not self.in_braces)):
                j += 1
            self.i = j
            return _Tok("ident", t[start:j], start)
        if ch == ",":
            self.i += 1
            return _Tok("comma", ",", start)
        if ch in "\"'`":
            return self._string(ch, start)
        if ch == "=":
            if t.startswith("=~", start):
                self.i += 2
                return _Tok("op", "=~", start)
            self.i += 1
            return _Tok("eq", "=", start)
        if ch == "!":
            nxt = t[start + 1] if start + 1 < len(t) else ""
            if nxt in ("~", "="):
                self.i += 2
                return _Tok("op", "!" + nxt, start)
            shown = _go_char(nxt) if nxt else "%!q(int32=-1)"  # Go prints eof (-1) this way
            raise self.fail(f"unexpected character after '!' inside braces: {shown}", start)
        if ch == "{":
            raise self.fail("unexpected left brace '{'", start)
        if ch == "}":
            self.i += 1
            self.in_braces = False
            return _Tok("rbrace", "}", start)
        raise self.fail(f"unexpected character inside braces: {_go_char(ch)}", start)

    def _string(self, quote: str, start: int) -> _Tok:
        t, j = self.text, start + 1
        while True:
            if j >= len(t):
                raise self.fail("unterminated raw string" if quote == "`" else "unterminated quoted string", start)
            c = t[j]
            if quote != "`":
                if c == "\n":
                    raise self.fail("unterminated quoted string", start)
                if c == "\\":
                    j = self._escape(j + 1, quote, start)
                    continue
            if c == quote:
                self.i = j + 1
                return _Tok("string", t[start : j + 1], start)
            j += 1

    def _escape(self, j: int, quote: str, start: int) -> int:
        t = self.text
        if j >= len(t):
            raise self.fail("escape sequence not terminated", start)
        c = t[j]
        if c in _SIMPLE_ESCAPES or c == quote:
            return j + 1
        if c in "01234567":
            n, base, j0 = 3, 8, j
        elif c in "xuU":
            n, base, j0 = {"x": 2, "u": 4, "U": 8}[c], 16, j + 1
        else:
            raise self.fail(f"unknown escape sequence U+{ord(c):04X} {_go_char(c)}", start)
        legal = "01234567" if base == 8 else "0123456789abcdefABCDEF"
        for k in range(j0, j0 + n):
            if k >= len(t):
                raise self.fail("escape sequence not terminated", start)
            if t[k] not in legal:
                raise self.fail(f"illegal character U+{ord(t[k]):04X} {_go_char(t[k])} in escape sequence", start)
        value = int(t[j0 : j0 + n], base)
        if value > (255 if c in "01234567x" else 0x10FFFF) or 0xD800 <= value < 0xE000:
            raise self.fail("escape sequence is an invalid Unicode code point", start)
        return j0 + n


def _unquote(token: str) -> str:
    """Go's strconv.Unquote of a token the lexer already validated."""
    q, body = token[0], token[1:-1]
    if q == "`":
        return body
    if "\\" not in body:
        return body
    out: list[str] = []
    i = 0
    pending = bytearray()  # \x and octal escapes are bytes; runs of them form UTF-8

    def flush() -> None:
        if pending:
            out.append(pending.decode("utf-8", errors="replace"))
            pending.clear()

    while i < len(body):
        c = body[i]
        if c != "\\":
            flush()
            out.append(c)
            i += 1
            continue
        e = body[i + 1]
        if e in _SIMPLE_ESCAPES:
            flush()
            out.append(_SIMPLE_ESCAPES[e])
            i += 2
        elif e in "\"'":
            flush()
            out.append(e)
            i += 2
        elif e == "x":
            pending.append(int(body[i + 2 : i + 4], 16))
            i += 4
        elif e in "01234567":
            pending.append(int(body[i + 1 : i + 4], 8))
            i += 4
        else:
            n = 4 if e == "u" else 8
            flush()
            out.append(chr(int(body[i + 2 : i + 2 + n], 16)))
            i += 2 + n
    flush()
    return "".join(out)


def parse_labels(text: str) -> list[tuple[str, str]]:
    """Parse `{a="b", ...}` into (name, value) pairs in written order, empty values dropped.

    Raises LabelParseError with Prometheus' message; duplicates are kept for the caller to reject
    (Loki reports them later, in validation, with its own text).
    """
    m = _PLAIN_LABELS.fullmatch(text)
    if m is not None:
        # Fast path for what clients actually send: no spaces inside, simple escapes only.
        out = []
        for item in re.finditer(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"nt])*)"', text):
            v = item.group(2)
            if "\\" in v:
                v = _UNESCAPE.sub(lambda e: {"n": "\n", "t": "\t"}.get(e.group(1), e.group(1)), v)
            if v:
                out.append((item.group(1), v))
        return out
    return _parse_slow(text)


def _parse_slow(text: str) -> list[tuple[str, str]]:
    p = _Parser(text)
    pairs: list[tuple[str, str]] = []
    tok = p.next_token()
    if tok.kind == "ident":
        # `metric{...}`: ParseMetric turns the metric name into __name__.
        pairs.append(("__name__", tok.val))
        tok = p.next_token()
    if tok.kind == "eof":
        return [(k, v) for k, v in pairs if v]
    if tok.kind != "lbrace":
        raise p.fail(f"unexpected {tok.desc()}", tok.pos)
    tok = p.next_token()
    expect_item = True
    while True:
        if tok.kind == "rbrace":
            break
        if not expect_item:
            raise p.fail(f'unexpected {tok.desc()} in label set, expected "," or "}}"', tok.pos)
        if tok.kind == "ident" or tok.kind == "string":
            name_tok = tok
            name = tok.val if tok.kind == "ident" else _unquote(tok.val)
            tok = p.next_token()
            if tok.kind == "eq":
                tok = p.next_token()
                if tok.kind != "string":
                    raise p.fail(f"unexpected {tok.desc()} in label set, expected string", tok.pos)
                pairs.append((name, _unquote(tok.val)))
                tok = p.next_token()
            elif name_tok.kind == "string":
                pairs.append(("__name__", name))  # a bare quoted name is the metric name
            else:
                raise p.fail(f'unexpected {tok.desc()} in label set, expected "="', tok.pos)
        else:
            raise p.fail(f'unexpected {tok.desc()} in label set, expected identifier or "}}"', tok.pos)
        if tok.kind == "comma":
            tok = p.next_token()
            expect_item = True
        else:
            expect_item = False
    tok = p.next_token()
    if tok.kind != "eof":
        raise p.fail(f"unexpected {tok.desc()}", tok.pos)
    return [(k, v) for k, v in pairs if v]
