"""`| regexp "(?P<name>…)"`: named RE2 groups become parsed labels.

Loki uses Go's regexp (RE2 syntax, leftmost-first): no match adds nothing; a named group that did
not take part in the match is set to "". At least one named group is required.
"""

from __future__ import annotations

from logyard.errors import BadRequestError
from logyard.gocompat.text import compile_re2

from .builder import LabelsBuilder
from .logfmt import sanitize_label_key


class RegexpParser:
    def __init__(self, pattern: str) -> None:
        try:
            self.regex = compile_re2(pattern)
        except ValueError as exc:
            raise BadRequestError(str(exc)) from None
        groups = self.regex.groupindex
        if self.regex.groups == 0 or not groups:
            raise BadRequestError("at least one named capture must be supplied")
        # group number -> sanitized label name, in group order
        self.names = [(idx, sanitize_label_key(name)) for name, idx in sorted(groups.items(), key=lambda kv: kv[1])]

    def process(self, ts: int, line: str, lbs: LabelsBuilder) -> tuple[str, bool]:
        m = self.regex.search(line)
        if m is None:
            return line, True
        for idx, name in self.names:
            if name:
                lbs.set_parsed(name, m.group(idx) or "")
        return line, True
