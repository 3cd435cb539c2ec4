"""A byte-level port of the lenient JSON scanner Loki's `json` and `unpack` stages use.

Loki does not validate JSON: it walks the object with grafana/jsonparser, which finds the end of
strings and nested blocks by counting, takes numbers as their source text, and stops with one of
its own error texts ("Value looks like object, but can't find closing '}' symbol"). Those texts
end up in `__error_details__`, so the walk and its errors are reproduced here exactly.
"""

from __future__ import annotations

from collections.abc import Callable

MALFORMED_JSON = "Malformed JSON error"
MALFORMED_STRING = "Value is string, but can't find closing '\"' symbol"
MALFORMED_ARRAY = "Value is array, but can't find closing ']' symbol"
MALFORMED_OBJECT = "Value looks like object, but can't find closing '}' symbol"
MALFORMED_VALUE = "Value looks like Number/Boolean/None, but can't find its end: ',' or '}' symbol"
MALFORMED_ESCAPE = "Encountered an invalid escape sequence in a string"
UNKNOWN_VALUE_TYPE = "Unknown value type"

STRING, NUMBER, OBJECT, ARRAY, BOOLEAN, NULL = "string", "number", "object", "array", "boolean", "null"

_WS = frozenset(b" \n\r\t")
_TOKEN_END = frozenset(b" \n\r\t,}]")


class JSONScanError(Exception):
    """One of jsonparser's errors; `str()` is its exact text."""


class StopScan(Exception):
    """Raised by a callback to end a walk early without an error."""


def next_token(data: bytes, i: int) -> int:
    n = len(data)
    while i < n:
        if data[i] not in _WS:
            return i
        i += 1
    return -1


def string_end(data: bytes, i: int) -> tuple[int, bool]:
    """Index just past the closing quote of a string whose body starts at i (-1 if none)."""
    escaped = False
    n = len(data)
    while i < n:
        c = data[i]
        if c == 0x22:
            if not escaped:
                return i + 1, False
            j = i - 1
            while True:
                if j < 0 or data[j] != 0x5C:
                    return i + 1, True
                j -= 1
                if j < 0 or data[j] != 0x5C:
                    break
                j -= 1
        elif c == 0x5C:
            escaped = True
        i += 1
    return -1, escaped


def block_end(data: bytes, i: int, open_sym: int, close_sym: int) -> int:
    """Index just past the block starting at i (-1 if unterminated); strings are skipped."""
    level = 0
    n = len(data)
    while i < n:
        c = data[i]
        if c == 0x22:
            se, _ = string_end(data, i + 1)
            if se == -1:
                return -1
            i = se - 1
        elif c == open_sym:
            level += 1
        elif c == close_sym:
            level -= 1
            if level == 0:
                return i + 1
        i += 1
    return -1


def get_value(data: bytes, i: int) -> tuple[bytes, str, int]:
    """The value at the next token from i: (raw bytes, type, end index). Strings lose their quotes."""
    i = next_token(data, i)
    if i == -1:
        raise JSONScanError(MALFORMED_JSON)
    c = data[i]
    if c == 0x22:
        end, _ = string_end(data, i + 1)
        if end == -1:
            raise JSONScanError(MALFORMED_STRING)
        return data[i + 1 : end - 1], STRING, end
    if c == 0x5B:
        end = block_end(data, i, 0x5B, 0x5D)
        if end == -1:
            raise JSONScanError(MALFORMED_ARRAY)
        return data[i:end], ARRAY, end
    if c == 0x7B:
        end = block_end(data, i, 0x7B, 0x7D)
        if end == -1:
            raise JSONScanError(MALFORMED_OBJECT)
        return data[i:end], OBJECT, end
    end = i
    n = len(data)
    while end < n and data[end] not in _TOKEN_END:
        end += 1
    value = data[i:end]
    if c in b"tf":
        if value in (b"true", b"false"):
            return value, BOOLEAN, end
        raise JSONScanError(UNKNOWN_VALUE_TYPE)
    if c in b"un":
        if value == b"null":
            return value, NULL, end
        raise JSONScanError(UNKNOWN_VALUE_TYPE)
    if c in b"0123456789-":
        return value, NUMBER, end
    raise JSONScanError(UNKNOWN_VALUE_TYPE)


def object_each(data: bytes, callback: Callable[[bytes, bytes, str], None]) -> None:
    """Call `callback(key, value, type)` for each member of the object in `data` (jsonparser's
    ObjectEach, error for error). Keys are unescaped; values are raw."""
    n = len(data)
    off = next_token(data, 0)
    if off == -1 or data[off] != 0x7B:
        raise JSONScanError(MALFORMED_OBJECT)
    off += 1
    o = next_token(data, off)
    if o == -1:
        raise JSONScanError(MALFORMED_JSON)
    off = o
    if data[off] == 0x7D:
        return
    while off < n:
        c = data[off]
        if c == 0x22:
            off += 1
        elif c == 0x7D:
            return
        else:
            raise JSONScanError(MALFORMED_OBJECT)
        end, escaped = string_end(data, off)
        if end == -1:
            raise JSONScanError(MALFORMED_JSON)
        key = data[off : end - 1]
        off = end
        if escaped:
            unesc = unescape(key)
            if unesc is None:
                raise JSONScanError(MALFORMED_ESCAPE)
            key = unesc
        o = next_token(data, off)
        if o == -1 or data[o] != 0x3A:
            raise JSONScanError(MALFORMED_JSON)
        off = o + 1
        value, kind, end = get_value(data, off)
        callback(key, value, kind)
        off = end
        o = next_token(data, off)
        if o == -1:
            raise JSONScanError(MALFORMED_ARRAY)
        off = o
        if data[off] == 0x7D:
            return
        if data[off] != 0x2C:
            raise JSONScanError(MALFORMED_OBJECT)
        off += 1
        o = next_token(data, off)
        if o == -1:
            raise JSONScanError(MALFORMED_ARRAY)
        off = o
    raise JSONScanError(MALFORMED_OBJECT)


def array_items(data: bytes) -> list[tuple[bytes, str]]:
    """The elements of the array in `data` (raw bytes and type)."""
    out: list[tuple[bytes, str]] = []
    off = next_token(data, 0)
    if off == -1 or data[off] != 0x5B:
        raise JSONScanError(MALFORMED_ARRAY)
    off += 1
    o = next_token(data, off)
    if o == -1:
        raise JSONScanError(MALFORMED_JSON)
    if data[o] == 0x5D:
        return out
    while True:
        value, kind, end = get_value(data, off)
        out.append((value, kind))
        o = next_token(data, end)
        if o == -1:
            raise JSONScanError(MALFORMED_ARRAY)
        if data[o] == 0x5D:
            return out
        if data[o] != 0x2C:
            raise JSONScanError(MALFORMED_ARRAY)
        off = o + 1


_SIMPLE_ESCAPES = {0x22: 0x22, 0x5C: 0x5C, 0x2F: 0x2F, 0x62: 0x08, 0x66: 0x0C, 0x6E: 0x0A, 0x72: 0x0D, 0x74: 0x09}


def _hex4(b: bytes) -> int:
    if len(b) != 4:
        return -1
    try:
        return int(b, 16)
    except ValueError:
        return -1


def unescape(raw: bytes) -> bytes | None:
    """jsonparser.Unescape: JSON escapes (with surrogate pairs); None on an invalid escape."""
    if 0x5C not in raw:
        return raw
    out = bytearray()
    i = 0
    n = len(raw)
    while i < n:
        c = raw[i]
        if c != 0x5C:
            out.append(c)
            i += 1
            continue
        if i + 1 >= n:
            return None
        e = raw[i + 1]
        if e in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[e])
            i += 2
            continue
        if e != 0x75:
            return None
        r = _hex4(raw[i + 2 : i + 6])
        if r < 0:
            return None
        i += 6
        if 0xD800 <= r < 0xDC00:
            if raw[i : i + 2] == b"\\u":
                r2 = _hex4(raw[i + 2 : i + 6])
                if 0xDC00 <= r2 < 0xE000:
                    out += chr(0x10000 + ((r - 0xD800) << 10) + (r2 - 0xDC00)).encode()
                    i += 6
                    continue
            r = 0xFFFD
        elif 0xDC00 <= r < 0xE000:
            r = 0xFFFD
        out += chr(r).encode("utf-8")
    return bytes(out)


def string_text(raw: bytes) -> str:
    """A JSON string value as Loki stores it: unescaped ("" if the escape is invalid), invalid
    UTF-8 and replacement characters turned into spaces."""
    unesc = unescape(raw)
    if unesc is None:
        return ""
    text = unesc.decode("utf-8", "replace")
    if "\ufffd" in text:
        text = text.replace("\ufffd", " ")
    return text


def value_text(raw: bytes, kind: str) -> str:
    """Loki's readValue: strings unescaped, numbers as written, booleans, null as ""."""
    if kind == STRING:
        return string_text(raw)
    if kind == NUMBER:
        return raw.decode("utf-8", "replace")
    if kind == BOOLEAN:
        return "true" if raw == b"true" else "false"
    return ""
