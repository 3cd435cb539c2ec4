"""`| logfmt` (with `--strict`, `--keep-empty` and `name="key"` parameters), as Loki decodes logfmt.

The decoder is a byte-level port of the grammar of Loki's logfmt decoder (itself go-logfmt):
keys are runs of bytes above space other than `=` and `"`; a value is bare or double-quoted with
JSON escapes. Errors carry Loki's text (`logfmt syntax error at pos 79 : unexpected '"'`), with a
1-based byte position. Per-row work by nature: it only runs on rows that survived line filters.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from logyard.errors import BadRequestError
from logyard.gocompat.text import GO_SPACE
from logyard.labels import is_valid_label_name

from .builder import METADATA, PARSED, LabelsBuilder

LOGFMT_ERROR = "LogfmtParserErr"


class LogfmtSyntaxError(Exception):
    def __init__(self, msg: str, pos: int) -> None:
        super().__init__(f"logfmt syntax error at pos {pos} : {msg}")


def _unexpected(c: int) -> str:
    ch = chr(c)
    if ch == "'":
        return "unexpected '\\''"
    return f"unexpected '{ch}'"


def _unquote(raw: bytes) -> bytes | None:
    """Decode a quoted value with escapes (the JSON string rules, plus `\\'`); None if invalid."""
    body = raw[1:-1]
    out = bytearray()
    i = 0
    n = len(body)
    while i < n:
        c = body[i]
        if c == 0x5C:  # backslash
            i += 1
            if i >= n:
                return None
            e = body[i]
            simple = {0x22: b'"', 0x5C: b"\\", 0x2F: b"/", 0x27: b"'", 0x62: b"\b", 0x66: b"\f",
                      0x6E: b"\n", 0x72: b"\r", 0x74: b"\t"}
            if e in simple:
                out += simple[e]
                i += 1
            elif e == 0x75:  # \uXXXX, with surrogate pairs
                try:
                    r = int(body[i + 1 : i + 5], 16) if len(body[i + 1 : i + 5]) == 4 else -1
                except ValueError:
                    r = -1
                if r < 0:
                    return None
                i += 5
                if 0xD800 <= r < 0xE000:
                    r2 = -1
                    if body[i : i + 2] == b"\\u" and len(body[i + 2 : i + 6]) == 4:
                        try:
                            r2 = int(body[i + 2 : i + 6], 16)
                        except ValueError:
                            r2 = -1
                    if 0xD800 <= r < 0xDC00 and 0xDC00 <= r2 < 0xE000:
                        out += chr(0x10000 + ((r - 0xD800) << 10) + (r2 - 0xDC00)).encode()
                        i += 6
                        continue
                    r = 0xFFFD
                out += chr(r).encode("utf-8")
            else:
                return None
        elif c == 0x22:
            return None
        else:
            out.append(c)
            i += 1
    return bytes(out)


def decode(line: bytes) -> Iterator[tuple[bytes | None, bytes | None, LogfmtSyntaxError | None]]:
    """Yield (key, value, error) per scanned pair, as Loki's decoder's ScanKeyval steps.

    A step that fails yields (None, None, error) for a syntax error, or (None, None, None) when
    only trailing blanks were left; a bare key yields value None.
    """
    pos = 0
    n = len(line)
    while pos < n:
        # garbage: skip blanks and control bytes
        while pos < n and line[pos] <= 0x20:
            pos += 1
        if pos >= n:
            yield None, None, None
            return
        start = pos
        multibyte = False
        err: LogfmtSyntaxError | None = None
        key: bytes | None = None
        state = "bare"
        while pos < n:
            c = line[pos]
            if c == 0x3D:  # '='
                if pos > start:
                    key = line[start:pos]
                    if multibyte and _has_rune_error(key):
                        err = LogfmtSyntaxError("invalid key", pos + 1)
                        state = "skip"
                        break
                if key is None:
                    err = LogfmtSyntaxError(_unexpected(c), pos + 1)
                    state = "skip"
                    break
                state = "equal"
                break
            if c == 0x22:
                err = LogfmtSyntaxError(_unexpected(c), pos + 1)
                state = "skip"
                break
            if c <= 0x20:
                break
            if c >= 0x80:
                multibyte = True
            pos += 1
        if state == "bare":
            key = line[start:pos] if pos > start else None
            if key is not None and multibyte and _has_rune_error(key):
                yield None, None, LogfmtSyntaxError("invalid key", pos + 1)
                continue
            yield key, None, None
            continue
        if state == "skip":
            while pos < n and line[pos] > 0x20:
                pos += 1
            yield None, None, err
            continue
        # equal
        pos += 1
        if pos >= n:
            yield key, None, None
            return
        c = line[pos]
        if c <= 0x20:
            yield key, None, None
            continue
        if c == 0x22:
            # quoted value
            qstart = pos
            esc = has_esc = False
            p = pos + 1
            closed = False
            while p < n:
                ch = line[p]
                if esc:
                    esc = False
                elif ch == 0x5C:
                    has_esc = esc = True
                elif ch == 0x22:
                    pos = p + 1
                    closed = True
                    break
                p += 1
            if not closed:
                pos = n
                yield None, None, LogfmtSyntaxError("unterminated quoted value", pos + 1)
                return
            raw = line[qstart:pos]
            if has_esc:
                value = _unquote(raw)
                if value is None:
                    yield None, None, LogfmtSyntaxError("invalid quoted value", pos + 1)
                    continue
            else:
                value = raw[1:-1] if len(raw) > 2 else None
            yield key, value, None
            continue
        vstart = pos
        bad = False
        while pos < n:
            ch = line[pos]
            if ch == 0x3D or ch == 0x22:
                err = LogfmtSyntaxError(_unexpected(ch), pos + 1)
                bad = True
                break
            if ch <= 0x20:
                break
            pos += 1
        if bad:
            while pos < n and line[pos] > 0x20:
                pos += 1
            yield None, None, err
            continue
        yield key, (line[vstart:pos] if pos > vstart else None), None


# A line with no syntax error at all, tokenized without backtracking (possessive quantifiers), so
# the common case skips the byte-level decoder; anything else (errors, U+FFFD) takes the decoder.
_KEY = r'[^\x00-\x20="]++'
_QUOTED = r'"(?:[^"\\]++|\\[\s\S])*+"'
_BARE = r'[^\x00-\x20="]*+'
_WELL_FORMED = re.compile(rf"(?:[\x00-\x20]*+{_KEY}(?:=(?:{_QUOTED}|{_BARE}))?+)*+[\x00-\x20]*+")
_PAIR = re.compile(rf"[\x00-\x20]*+({_KEY})(?:=({_QUOTED}|{_BARE}))?+")


def _fast_pairs(line: str) -> list[tuple[str, str | None]] | None:
    """(key, value) pairs of a well-formed line (value None for a bare key or an empty value),
    or None when the line needs the exact decoder."""
    if "\ufffd" in line or _WELL_FORMED.fullmatch(line) is None:
        return None
    out: list[tuple[str, str | None]] = []
    for m in _PAIR.finditer(line):
        key, value = m.group(1), m.group(2)
        if value is not None and value[:1] == '"':
            if "\\" in value:
                raw = _unquote(value.encode("utf-8", "surrogatepass"))
                if raw is None:
                    return None
                value = raw.decode("utf-8", "replace")
            else:
                value = value[1:-1]
        out.append((key, value or None))
    return out


def _has_rune_error(b: bytes) -> bool:
    try:
        b.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return "\ufffd" in b.decode("utf-8")


def _value_text(v: bytes) -> str:
    # Loki replaces invalid UTF-8 (the rune error) by a space.
    return v.decode("utf-8", "replace").replace("\ufffd", " ")


_NOT_LABEL_CHAR = re.compile(r"[^a-zA-Z0-9_]")


def sanitize_label_key(key: str, is_prefix: bool = True) -> str:
    """Loki's sanitizeLabelKey: trim, prefix a leading digit with `_`, map other runes to `_`."""
    key = key.strip(GO_SPACE)
    if not key:
        return key
    if is_prefix and "0" <= key[0] <= "9":
        key = "_" + key
    return _NOT_LABEL_CHAR.sub("_", key)


class LogfmtParser:
    """`| logfmt [--strict] [--keep-empty]`: every key=value pair becomes a parsed label."""

    def __init__(self, strict: bool = False, keep_empty: bool = False) -> None:
        self.strict = strict
        self.keep_empty = keep_empty
        self._keys: dict[str, str] = {}

    def process(self, ts: int, line: str, lbs: LabelsBuilder) -> tuple[str, bool]:
        if lbs.no_labels():
            return line, True
        # per-row by nature: runs on the rows left after line filters
        fast = _fast_pairs(line)
        if fast is not None:
            for key, value in fast:
                if self._pair(self._name(key), value, lbs):
                    break
            return line, True
        error: str | None = None
        for bkey, bvalue, err in decode(line.encode("utf-8", "surrogatepass")):
            if bkey is None:
                if err is not None:
                    error = str(err)
                if self.strict:
                    break
                continue
            name = self._name(bkey.decode("utf-8", "replace"))
            if self._pair(name, None if bvalue is None else _value_text(bvalue), lbs):
                break
        if self.strict and error is not None:
            lbs.set_error(LOGFMT_ERROR, error)
        return line, True

    def _pair(self, name: str, text: str | None, lbs: LabelsBuilder) -> bool:
        """Record one pair as Loki does; True when the hints say parsing can stop."""
        if not name:
            return False
        name = lbs.extracted_name(name)
        if not lbs.should_extract(name) or name in lbs.extracted:
            return False
        if not text and not self.keep_empty:
            return False
        lbs.set(PARSED, name, text or "")
        return lbs.all_required_extracted()

    def _name(self, key: str) -> str:
        name = self._keys.get(key)
        if name is None:
            name = sanitize_label_key(key)
            if len(self._keys) < 4096:  # keys repeat from line to line
                self._keys[key] = name
        return name


class LogfmtExpressionParser:
    """`| logfmt lvl="level", d="duration"`: only the named keys, under the given label names.

    Loki quirks: every requested label exists afterwards (empty when the key is absent) unless a
    stream label or metadata of that name exists; the requested name gets `_extracted` when it
    collides; invalid UTF-8 in a value gives an empty value.
    """

    def __init__(self, expressions: Mapping[str, str], strict: bool = False) -> None:
        if not expressions:
            raise BadRequestError("no logfmt expression provided")
        self.expressions: dict[str, str] = {}
        for ident, expr in expressions.items():
            if not is_valid_label_name(ident):
                raise BadRequestError(f"invalid extracted label name '{ident}'")
            self.expressions[ident] = _parse_logfmt_expr(expr)
        self.strict = strict

    def process(self, ts: int, line: str, lbs: LabelsBuilder) -> tuple[str, bool]:
        if lbs.no_labels():
            return line, True
        for ident in self.expressions:
            if not lbs.base_has(ident) and not lbs.has_in_category(ident, METADATA):
                lbs.set(PARSED, ident, "")
        by_key = {key: ident for ident, key in self.expressions.items()}
        error: str | None = None
        for key, value, err in decode(line.encode("utf-8", "surrogatepass")):
            if key is None:
                if err is not None:
                    error = str(err)
                if self.strict:
                    break
                continue
            name = sanitize_label_key(key.decode("utf-8", "replace"))
            if not name:
                continue
            if name not in self.expressions and not lbs.should_extract(name):
                continue
            if name not in self.expressions and name in lbs.extracted:
                continue
            ident = by_key.get(name)
            if ident is None:
                if name not in self.expressions:
                    continue
                ident = name
            text = ""
            if value is not None:
                try:
                    text = value.decode("utf-8")
                except UnicodeDecodeError:
                    text = ""
            target = lbs.extracted_name(ident)
            if target != ident and (target in lbs.extracted or not lbs.should_extract(target)):
                break  # Loki stops the whole line here, not just this key
            lbs.set(PARSED, target, text)
            if lbs.all_required_extracted():
                break
        if self.strict and error is not None:
            lbs.set_error(LOGFMT_ERROR, error)
        return line, True


def _parse_logfmt_expr(expr: str) -> str:
    """A logfmt parameter as Loki's logfmt-expression scanner reads it: an identifier or a quoted
    string, then quoted strings; the key matched is Loki's `fmt.Sprintf("%v", parts...)`."""
    parts: list[str] = []
    i, n = 0, len(expr)
    while i < n:
        c = expr[i]
        if c in " \t\n":
            i += 1
        elif (c == "_" or c.isascii() and c.isalpha()) and not parts:
            j = i
            while j < n and (expr[j] == "_" or expr[j].isascii() and expr[j].isalnum()):
                j += 1
            parts.append(expr[i:j])
            i = j
        elif c == '"':
            j = i + 1
            while j < n and expr[j] not in '"]':
                j += 1
            parts.append(expr[i + 1 : j])
            i = j + 1
        elif c == "_" or c.isascii() and c.isalpha():
            raise BadRequestError(f"cannot parse expression [{expr}]: syntax error: unexpected KEY")
        else:
            raise BadRequestError(f"cannot parse expression [{expr}]: unexpected char {c}")
    if not parts:
        raise BadRequestError(f"cannot parse expression [{expr}]: syntax error: unexpected $end")
    key = parts[0]
    if len(parts) > 1:
        key += "%!(EXTRA " + ", ".join(f"string={p}" for p in parts[1:]) + ")"
    return key
