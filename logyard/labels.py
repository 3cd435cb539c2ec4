"""Label sets and label matchers: the one canonical representation used by every package.

A `LabelSet` is a tuple of (name, value) pairs sorted by name, so that equal sets are equal tuples,
hash alike and print alike. Matchers follow Prometheus semantics: regexes are fully anchored RE2.
"""

from __future__ import annotations

import hashlib
import re as _stdre
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import re2

LABEL_NAME_RE = _stdre.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class LabelSet(tuple):
    """An immutable, name-sorted tuple of (name, value) pairs."""

    __slots__ = ()

    def __new__(cls, pairs: Iterable[tuple[str, str]] = ()) -> "LabelSet":
        return super().__new__(cls, tuple(sorted(pairs)))

    @classmethod
    def from_dict(cls, d: Mapping[str, str]) -> "LabelSet":
        return cls(d.items())

    def to_dict(self) -> dict[str, str]:
        return dict(self)

    def get(self, name: str, default: str = "") -> str:
        for k, v in self:
            if k == name:
                return v
        return default

    def names(self) -> list[str]:
        return [k for k, _ in self]

    def with_labels(self, extra: Mapping[str, str] | Iterable[tuple[str, str]]) -> "LabelSet":
        d = dict(self)
        d.update(extra)
        return LabelSet(d.items())

    def without(self, names: Iterable[str]) -> "LabelSet":
        drop = set(names)
        return LabelSet((k, v) for k, v in self if k not in drop)

    def keep(self, names: Iterable[str]) -> "LabelSet":
        keep = set(names)
        return LabelSet((k, v) for k, v in self if k in keep)

    def fingerprint(self) -> int:
        """A stable 63-bit id of the set (the same across processes and restarts)."""
        h = hashlib.blake2b(digest_size=8)
        for k, v in self:
            h.update(k.encode())
            h.update(b"\xff")
            h.update(v.encode())
            h.update(b"\xfe")
        return int.from_bytes(h.digest(), "little") & 0x7FFF_FFFF_FFFF_FFFF

    def __str__(self) -> str:
        # Prometheus text form, the way Loki prints a stream: {a="b", c="d"}
        return "{" + ", ".join(f"{k}={quote(v)}" for k, v in self) + "}"

    def __repr__(self) -> str:
        return f"LabelSet({str(self)})"


_GO_ESCAPES = {'"': '\\"', "\\": "\\\\", "\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n",
               "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def quote(value: str) -> str:
    """Go's strconv.Quote, the one quoting of the project: Loki prints label sets, LogQL strings and
    error texts with it, and the LogQL lexer reads its output back to the same string."""
    if value.isprintable() and '"' not in value and "\\" not in value:
        return '"' + value + '"'
    out = ['"']
    for ch in value:
        o = ord(ch)
        esc = _GO_ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif 0xDC80 <= o <= 0xDCFF:  # a byte that was not UTF-8 (kept as a surrogate escape): Go's \xNN
            out.append(f"\\x{o - 0xDC00:02x}")
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif o < 0x80:
            out.append(f"\\x{o:02x}")
        elif o <= 0xFFFF:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    out.append('"')
    return "".join(out)


MATCH_OPS = ("=", "!=", "=~", "!~")


@dataclass(frozen=True)
class Matcher:
    """One label matcher of a stream selector: name, operator (=, !=, =~, !~) and value."""

    name: str
    op: str
    value: str
    _regex: object = field(default=None, compare=False, repr=False, hash=False)

    def __post_init__(self) -> None:
        if self.op not in MATCH_OPS:
            raise AssertionError(f"BUG: unknown matcher operator {self.op!r}")
        if self.op in ("=~", "!~") and self._regex is None:
            object.__setattr__(self, "_regex", compile_anchored(self.value))

    def matches(self, value: str) -> bool:
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        hit = self._regex.fullmatch(value) is not None  # type: ignore[union-attr]
        return hit if self.op == "=~" else not hit

    def matches_empty(self) -> bool:
        return self.matches("")

    def __str__(self) -> str:
        return f"{self.name}{self.op}{quote(self.value)}"


def compile_anchored(pattern: str):
    """Compile a label-matcher regex the way Prometheus does: anchored at both ends, `.` matching
    newlines too (`^(?s:re)$`), RE2 syntax."""
    options = re2.Options()
    options.log_errors = False
    return re2.compile(f"^(?s:{pattern})$", options)


def matches_all(labels: LabelSet, matchers: Iterable[Matcher]) -> bool:
    d = dict(labels)
    return all(m.matches(d.get(m.name, "")) for m in matchers)


def is_valid_label_name(name: str) -> bool:
    return LABEL_NAME_RE.match(name) is not None
