"""`| keep a, b="v"`: keep only the named labels (or those whose value matches), drop the rest.

Loki never drops `__error__`, `__error_details__` or `__preserve_error__` with keep. Structured
metadata (such as `detected_level`) is dropped like any other label unless kept.
"""

from __future__ import annotations

from collections.abc import Sequence

from logyard.labels import Matcher

from .builder import ERROR_DETAILS_LABEL, ERROR_LABEL, PRESERVE_ERROR_LABEL, LabelsBuilder

_SPECIAL = {ERROR_LABEL, ERROR_DETAILS_LABEL, PRESERVE_ERROR_LABEL}


class KeepLabels:
    """`items` are label names (str) or `logyard.labels.Matcher`s."""

    def __init__(self, items: Sequence[str | Matcher]) -> None:
        self.items = list(items)

    def _keeps(self, name: str, value: str) -> bool:
        for item in self.items:
            if isinstance(item, Matcher):
                if item.name == name and item.matches(value):
                    return True
            elif item == name:
                return True
        return False

    def process(self, ts: int, line: str, lbs: LabelsBuilder) -> tuple[str, bool]:
        if not self.items:
            return line, True
        for name, value in lbs.labels().items():
            if name in _SPECIAL:
                continue
            if not self._keeps(name, value):
                lbs.delete(name)
        return line, True
