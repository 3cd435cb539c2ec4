"""The block-pruning hint of a log query: what every line its leading line filters keep contains.

Storage skips row groups whose trigram maps rule the hint out (`LogSource.read(line_contains=)`),
so it must hold for every kept line: `|= "a"` needs "a", `|= "a" or "b"` one of them, and
`|~ "re"` the literal runs every match of the regexp has (`regex_needle`). Anything this reader
is unsure of gives no hint, never a wrong one.
"""

from __future__ import annotations

import re

from logyard.logql.syntax import ast
from logyard.needles import Needle

_FLAGS = re.compile(r"\(\?([imsU]+)\)")
_REPEAT = re.compile(r"\{\d+(,\d*)?\}")
_FLAG_GROUP = re.compile(r"\(\?[a-zA-Z-]*\)")
_SIMPLE_ESCAPES = set("dDsSwWbBAzCaftnrv")


def line_hint(log: ast.LogQuery) -> list[Needle]:
    """One needle per leading positive line filter that says anything."""
    out = []
    for f in log.line_filters():
        if f.op not in ("|=", "|~") or f.is_ip or any(f.or_is_ip):
            continue
        values = [f.value, *f.or_values]
        if f.op == "|=":
            if all(values):  # an empty alternative keeps every line
                out.append(Needle(tuple((v,) for v in values)))
            continue
        needles = [regex_needle(v) for v in values]
        if all(n is not None for n in needles):
            out.append(Needle(tuple(a for n in needles for a in n.any_of), any(n.fold for n in needles)))
    return out


def regex_needle(pattern: str) -> Needle | None:
    """The literal runs each match of a Go (RE2) regexp contains, per top-level alternative; None
    when the pattern uses syntax this reader leaves alone (`\\Q`, flags set mid-pattern, ...)."""
    fold = False
    while m := _FLAGS.match(pattern):  # leading flags hold for the whole pattern
        fold |= "i" in m.group(1)
        pattern = pattern[m.end():]
    if "\\Q" in pattern:
        return None
    alts: list[list[str]] = [[]]
    run: list[str] = []

    def end_run() -> None:
        if run:
            alts[-1].append("".join(run))
            run.clear()

    i, n = 0, len(pattern)
    while i < n:  # one step per character or atom of the pattern
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n:
                return None
            d = pattern[i + 1]
            if d.isascii() and not d.isalnum():  # escaped punctuation: that character
                run.append(d)
                i += 2
                continue
            end_run()
            i = _skip_escape(pattern, i)
            if i < 0:
                return None
        elif c == "[":
            end_run()
            i = _skip_class(pattern, i)
            if i < 0:
                return None
        elif c == "(":
            end_run()
            if _FLAG_GROUP.match(pattern, i):
                return None  # flags changed mid-pattern: what follows may fold case
            i = _skip_group(pattern, i)
            if i < 0:
                return None
        elif c == ")":
            return None
        elif c == "|":
            end_run()
            alts.append([])
            i += 1
        elif c in "*?{":
            if c == "{" and not (m := _REPEAT.match(pattern, i)):
                run.append(c)  # not a repetition: a literal brace, as in Go
                i += 1
                continue
            if run:
                run.pop()  # the repeated character may occur zero times
            end_run()
            i = m.end() if c == "{" else i + 1
        elif c == "+":
            end_run()  # the character stays: it occurs at least once
            i += 1
        elif c in ".^$":
            end_run()
            i += 1
        else:
            run.append(c)
            i += 1
    end_run()
    return Needle(tuple(tuple(a) for a in alts), fold)


def _skip_escape(p: str, i: int) -> int:
    """The index after the escape at `i` (a backslash and a letter or digit), -1 if unknown."""
    d = p[i + 1]
    if d in "pPx" and i + 2 < len(p) and p[i + 2] == "{":
        end = p.find("}", i + 2)
        return -1 if end < 0 else end + 1
    if d in "pP":
        return i + 3
    if d == "x":
        return i + 4
    if d in "01234567":
        j = i + 2
        while j < len(p) and j < i + 4 and p[j] in "01234567":
            j += 1
        return j
    return i + 2 if d in _SIMPLE_ESCAPES else -1


def _skip_class(p: str, i: int) -> int:
    """The index after the character class opening at `i`, -1 if it does not close."""
    j = i + 1
    if j < len(p) and p[j] == "^":
        j += 1
    if j < len(p) and p[j] == "]":  # a leading ] is a member
        j += 1
    while j < len(p):
        if p[j] == "\\":
            j += 2
        elif p.startswith("[:", j):
            end = p.find(":]", j + 2)
            if end < 0:
                return -1
            j = end + 2
        elif p[j] == "]":
            return j + 1
        else:
            j += 1
    return -1


def _skip_group(p: str, i: int) -> int:
    """The index after the group opening at `i`, -1 if it does not close."""
    depth, j = 0, i
    while j < len(p):
        c = p[j]
        if c == "\\":
            j += 2
            continue
        if c == "[":
            j = _skip_class(p, j)
            if j < 0:
                return -1
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    return -1
