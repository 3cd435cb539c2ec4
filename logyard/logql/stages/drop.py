"""`| drop a, b="v", c=~"re"`: remove labels by name or when their value matches.

Loki's special cases: dropping `__error__` clears the pipeline error (not its details), dropping
`__error_details__` clears the details; a matcher on them tests the error / the details. A matcher
on a missing label tests "" (so `drop x=""` is harmless). Labels are removed whatever their
category (stream, structured metadata, parsed).
"""

from __future__ import annotations

from collections.abc import Sequence

from logyard.labels import Matcher

from .builder import ERROR_DETAILS_LABEL, ERROR_LABEL, LabelsBuilder


class DropLabels:
    """`items` are label names (str) or `logyard.labels.Matcher`s, in query order."""

    def __init__(self, items: Sequence[str | Matcher]) -> None:
        self.items = list(items)

    def process(self, ts: int, line: str, lbs: LabelsBuilder) -> tuple[str, bool]:
        for item in self.items:
            if isinstance(item, Matcher):
                name = item.name
                if name == ERROR_LABEL:
                    if item.matches(lbs.err):
                        lbs.err = ""
                elif name == ERROR_DETAILS_LABEL:
                    if item.matches(lbs.err_details):
                        lbs.err_details = ""
                elif item.matches(lbs.value(name)):
                    lbs.delete(name)
                continue
            if item == ERROR_LABEL:
                lbs.err = ""
            elif item == ERROR_DETAILS_LABEL:
                lbs.err_details = ""
            elif lbs.get(item) is not None:
                lbs.delete(item)
        return line, True
