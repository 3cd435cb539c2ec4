"""Go text/template's built-in functions: and, or, not, len, index, slice, eq/ne/lt/le/gt/ge,
html, js (and the truthiness they share), with Go's error texts."""

from __future__ import annotations

from logyard.gocompat.fmt import NO_VALUE, go_type, sprint
from logyard.gocompat.timevalue import GoTime


class FuncError(Exception):
    """An error a template function reports; the executor adds Go's location prefix."""


def _basic_kind(v: object) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    return "other"


def eq(arg1: object, *rest: object) -> bool:
    if not rest:
        raise FuncError("missing argument for comparison")
    k1 = _basic_kind(arg1)
    for a in rest:
        k2 = _basic_kind(a)
        if arg1 is None or a is None:
            if arg1 is None and a is None:
                return True
            continue
        if k1 == "other" or k2 == "other":
            if isinstance(arg1, GoTime) and isinstance(a, GoTime):
                if arg1 == a:
                    return True
                continue
            raise FuncError("incompatible types for comparison")
        if k1 != k2:
            raise FuncError("incompatible types for comparison")
        if arg1 == a:
            return True
    return False


def lt(a: object, b: object) -> bool:
    ka, kb = _basic_kind(a), _basic_kind(b)
    if ka in ("bool", "other") or kb in ("bool", "other"):
        raise FuncError("invalid type for comparison")
    if ka != kb:
        raise FuncError("incompatible types for comparison")
    return a < b  # type: ignore[operator]


def length(v: object) -> int:
    if isinstance(v, str):
        return len(v.encode("utf-8"))
    if isinstance(v, (list, dict)):
        return len(v)
    raise FuncError(f"len of type {go_type(v)}")


def index(item: object, *indexes: object) -> object:
    for ix in indexes:
        if isinstance(item, dict):
            if not isinstance(ix, str):
                raise FuncError(f"value has type {go_type(ix)}; should be string")
            item = item.get(ix, NO_VALUE)
        elif isinstance(item, (list, str)):
            if not isinstance(ix, int) or isinstance(ix, bool):
                raise FuncError(f"cannot index slice/array with type {go_type(ix)}")
            seq = item.encode("utf-8") if isinstance(item, str) else item
            if ix < 0 or ix >= len(seq):
                raise FuncError(f"index out of range: {ix}")
            item = seq[ix]
        elif item is None or item is NO_VALUE:
            raise FuncError("index of untyped nil")
        else:
            raise FuncError(f"can't index item of type {go_type(item)}")
    return item


def html(*args: object) -> str:
    s = sprint(list(args))
    return (s.replace("&", "&amp;").replace("'", "&#39;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&#34;").replace("\x00", "\ufffd"))


def js(*args: object) -> str:
    s = sprint(list(args))
    out = []
    for ch in s:
        if ch in "\\'\"":
            out.append("\\" + ch)
        elif ch == "<":
            out.append("\\u003C")
        elif ch == ">":
            out.append("\\u003E")
        elif ch == "&":
            out.append("\\u0026")
        elif ch == "=":
            out.append("\\u003D")
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return "".join(out)


def and_(*args: object) -> object:
    for a in args:
        if not truth(a):
            return a
    return args[-1]


def or_(*args: object) -> object:
    for a in args:
        if truth(a):
            return a
    return args[-1]


def truth(v: object) -> bool:
    if v is None or v is NO_VALUE:
        return False
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return v != 0
    if isinstance(v, (str, list, dict)):
        return len(v) > 0
    return True


def slice_(item: object, *idx: object) -> object:
    if not isinstance(item, (str, list)):
        raise FuncError(f"can't slice item of type {go_type(item)}")
    ints = [i for i in idx if isinstance(i, int) and not isinstance(i, bool)]
    if len(ints) != len(idx) or len(idx) > 2:
        raise FuncError("invalid slice index")
    start = ints[0] if ints else 0
    end = ints[1] if len(ints) > 1 else len(item)
    if not 0 <= start <= end <= len(item):
        raise FuncError(f"index out of range: {end}")
    return item[start:end]
