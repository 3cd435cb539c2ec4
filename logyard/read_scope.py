"""What one query or call can read of the writers' heads (target read, docs/scaling.md): the streams of
any of its selectors' matcher groups, the rows in [start, end). logql computes it from a query
(logql/head_scope.py), storage answers it (`Store.head_rows`). A reader hands it to every writer
with its head request (api/writer_heads.py), and the writer answers only those rows, so a query's
head fetch grows with what it selects, not with the writers' heads.

A scope may be wider than what its query reads, never narrower: the read path filters the rows it is
given again, so answers stay the same. `covers` says whether a snapshot fetched for one scope also
serves a call made inside it (a query's stream lookups).
"""

from __future__ import annotations

from dataclasses import dataclass

from logyard.labels import LabelSet, Matcher

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class ReadScope:
    groups: tuple[tuple[Matcher, ...], ...] | None = None  # None: every stream
    start_ns: int = INT64_MIN
    end_ns: int = INT64_MAX  # exclusive

    @classmethod
    def of(cls, groups, start_ns: int = INT64_MIN, end_ns: int = INT64_MAX) -> "ReadScope":
        """A scope of matcher groups (None, none or an empty group: every stream) and [start, end)."""
        groups = tuple(tuple(g) for g in groups or ())
        return cls(None if not groups or any(not g for g in groups) else groups, start_ns, end_ns)

    def matches(self, labels: LabelSet) -> bool:
        if self.groups is None:
            return True
        return any(all(m.matches(labels.get(m.name)) for m in g) for g in self.groups)

    def covers(self, other: "ReadScope") -> bool:
        """Every row `other` selects is in this scope: its time range is inside, and each of its groups
        is at least as narrow as one of ours (holds all of that group's matchers)."""
        if not (self.start_ns <= other.start_ns and other.end_ns <= self.end_ns):
            return False
        if self.groups is None:
            return True
        if other.groups is None:
            return False
        return all(any(set(mine) <= set(theirs) for mine in self.groups) for theirs in other.groups)


EVERYTHING = ReadScope()
