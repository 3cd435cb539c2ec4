"""What every line a query wants must contain: the hint a query hands storage to skip blocks.

The query side (logql) derives it from leading line filters, storage turns it into the trigrams a
row group must hold. It lives below both, as labels and matchers do.
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
