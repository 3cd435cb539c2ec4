"""What every line a query wants must contain: the hint a query hands storage to skip blocks, and
the exact literal filters storage can run itself.

The query side (logql) derives both from leading line filters; storage turns a `Needle` into the
trigrams a row group must hold, and runs a `LineMatch` on the lines as it stores them. They live
below both, as labels and matchers do.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Needle:
    """A wanted line contains, for at least one of `any_of`, every string of it.

    With `fold` the strings match case-insensitively as a Go regexp's `(?i)` does (Unicode simple
    folding: `k` also matches the Kelvin sign, `s` the long s); without, byte for byte.
    """

    any_of: tuple[tuple[str, ...], ...]
    fold: bool = False


def as_needle(term: "str | Needle") -> Needle:
    """A plain string is a case-sensitive substring."""
    return term if isinstance(term, Needle) else Needle(((term,),))


@dataclass(frozen=True)
class LineMatch:
    """An exact line filter: a kept line contains, for every group of `contains`, at least one of
    its strings, and none of `excludes`; byte for byte, as Loki's `|=` and `!=` compare (`|= "a" or
    "b"` is the group ("a", "b"), `!= "x"` excludes "x"). Strings are never empty."""

    contains: tuple[tuple[str, ...], ...] = ()
    excludes: tuple[str, ...] = ()
