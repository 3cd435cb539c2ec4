"""Loki's pattern language: `<name>` captures, `<_>` skips, everything else literal.

Used twice: by the `| pattern "…"` parser (`PatternParser`) and by the `|> "…"` / `!> "…"` line
filters (`PatternLineFilter`). Matching is Loki's: each literal is found with a leftmost search,
never backtracking, so a pattern is not a regex. The line filter is vectorized with a regex that
accepts every line Loki accepts (and a few more); the exact leftmost test then runs per row only on
the rows that regex kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from logyard.errors import BadRequestError
from logyard.gocompat.text import re2_escape

from .builder import LabelsBuilder

_CAPTURE = re.compile(r"<([A-Za-z_][A-Za-z0-9_]*)>")


@dataclass(frozen=True, slots=True)
class Capture:
    name: str

    @property
    def unnamed(self) -> bool:
        return self.name == "_"


Node = Capture | str


def parse_pattern(text: str) -> list[Node]:
    """Split a pattern into captures and literal runs (adjacent literal characters are one node)."""
    nodes: list[Node] = []
    pos = 0
    for m in _CAPTURE.finditer(text):
        if m.start() > pos:
            nodes.append(text[pos : m.start()])
        nodes.append(Capture(m.group(1)))
        pos = m.end()
    if pos < len(text):
        nodes.append(text[pos:])
    return nodes


def _check_no_consecutive_captures(nodes: list[Node]) -> None:
    for a, b in zip(nodes, nodes[1:]):
        if isinstance(a, Capture) and isinstance(b, Capture):
            raise BadRequestError(f"found consecutive capture '<{a.name}><{b.name}>': invalid expression")


def matcher_shape(nodes: list) -> tuple[bytes, tuple[bytes | None, ...]] | None:
    """A pattern's nodes as _pattern.c matches them: the leading literal (b"" for none) and the
    literal after each capture (None after a final capture); None unless captures and non-empty
    literals alternate."""
    nodes = list(nodes)
    lead = nodes.pop(0) if nodes and isinstance(nodes[0], bytes) else b""
    captures, literals = nodes[0::2], nodes[1::2]
    if not captures or not all(isinstance(c, Capture) for c in captures) or \
            not all(isinstance(lit, bytes) and lit for lit in literals):
        return None
    return lead, tuple(literals) + ((None,) if len(literals) < len(captures) else ())


class PatternParser:
    """`| pattern "<ip> - <_> …"`: named captures become parsed labels."""

    def __init__(self, text: str) -> None:
        nodes = parse_pattern(text)
        names = [n.name for n in nodes if isinstance(n, Capture) and not n.unnamed]
        if not names:
            raise BadRequestError("at least one capture is required")
        _check_no_consecutive_captures(nodes)
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise BadRequestError(f"duplicate capture name ({name}): invalid expression")
            seen.add(name)
        self.nodes = [n.encode() if isinstance(n, str) else n for n in nodes]
        self.names = names

    def matches(self, line: str) -> list[str]:
        """The captured values in order; fewer than `names` when the line ends early (Loki keeps
        the partial captures: a missing literal makes the capture run to the end of the line)."""
        data = line.encode("utf-8", "surrogatepass")
        if not data or not self.nodes:
            return []
        out: list[bytes] = []
        nodes = self.nodes
        first = nodes[0]
        if isinstance(first, bytes):
            if not data.startswith(first):
                return []
            data = data[len(first) :]
            nodes = nodes[1:]
        if not nodes:
            return []
        i = 0
        while i < len(nodes):
            cap = nodes[i]
            assert isinstance(cap, Capture), "BUG: pattern nodes must alternate"
            if i + 1 == len(nodes):
                if not cap.unnamed:
                    out.append(data)
                break
            lit = nodes[i + 1]
            assert isinstance(lit, bytes), "BUG: pattern nodes must alternate"
            i += 2
            j = data.find(lit)
            if j == -1:
                if not cap.unnamed:
                    out.append(data)
                break
            if not cap.unnamed:
                out.append(data[:j])
            data = data[j + len(lit) :]
        return [v.decode("utf-8", "replace") for v in out]

    def process(self, ts: int, line: str, lbs: LabelsBuilder) -> tuple[str, bool]:
        if lbs.no_labels():
            return line, True
        for name, value in zip(self.names, self.matches(line)):
            lbs.set_parsed(name, value)
        return line, True


class PatternLineFilter:
    """`|> "…"` (or the negated `!>`): keep lines the pattern matches whole."""

    def __init__(self, text: str) -> None:
        nodes = parse_pattern(text)
        _check_no_consecutive_captures(nodes)
        for n in nodes:
            if isinstance(n, Capture) and not n.unnamed:
                raise BadRequestError(f"named captures are not allowed: found '<{n.name}>'")
        self.nodes = [n.encode() if isinstance(n, str) else n for n in nodes]
        self.regex = _superset_regex(nodes)

    def test(self, line: str) -> bool:
        """Loki's Matcher.Test: literals found leftmost, no empty capture, nothing left over after a
        final literal, something left for a final capture."""
        data = line.encode("utf-8", "surrogatepass")
        nodes = self.nodes
        if not data or not nodes:
            # Loki quirk: an empty line only matches the empty pattern, and vice versa.
            return not data and not nodes
        off = 0
        for i, n in enumerate(nodes):
            if not isinstance(n, bytes):
                continue
            j = data.find(n, off)
            if j == -1:
                return False
            j -= off
            if i != 0 and j == 0:
                return False
            off += j + len(n)
        requires_rest = isinstance(nodes[-1], Capture)
        return requires_rest == (off != len(data))


def _superset_regex(nodes: list[Node]) -> str | None:
    """A RE2 regex true for every line `PatternLineFilter.test` accepts (None: the empty pattern)."""
    if not nodes:
        return None
    parts = ["(?s)^"]
    for i, n in enumerate(nodes):
        if isinstance(n, Capture):
            parts.append(".+" if i == len(nodes) - 1 else ".+?")
        else:
            # Loki quirk: a leading literal is searched, not anchored, in the line filter.
            if i == 0:
                parts.append(".*?")
            parts.append(re2_escape(n))
    if isinstance(nodes[-1], str):
        parts.append(r"\z")
    return "".join(parts)
