"""`| unpack`: undo Promtail's `pack` stage.

A packed line is a JSON object whose `_entry` string is the original line and whose other string
fields are labels. Loki quirks copied: labels are only added when `_entry` is present (an object
without `_entry` leaves the line and labels alone); non-string fields are ignored; a line not
starting with `{` is a JSONParserErr with details `expecting json object(6), but it is not`.
"""

from __future__ import annotations

from .builder import PARSED, LabelsBuilder
from .json import JSON_ERROR
from .jsonscan import MALFORMED_ESCAPE, STRING, JSONScanError, object_each, string_text, unescape
from .logfmt import sanitize_label_key

PACKED_ENTRY_KEY = "_entry"
_NOT_OBJECT = "expecting json object(6), but it is not"


class UnpackParser:
    def process(self, ts: int, line: str, lbs: LabelsBuilder) -> tuple[str, bool]:
        if not line or lbs.no_labels():
            return line, True
        if line[0] != "{":
            lbs.set_error(JSON_ERROR, _NOT_OBJECT)
            return line, True
        entry: list[str] = []
        pending: list[tuple[str, str]] = []

        def member(key: bytes, value: bytes, kind: str) -> None:
            if kind != STRING:
                return
            name = key.decode("utf-8", "replace")
            if name == PACKED_ENTRY_KEY:
                unesc = unescape(value)
                if unesc is None:
                    raise JSONScanError(MALFORMED_ESCAPE)
                entry.append(unesc.decode("utf-8", "replace"))
                return
            name = lbs.extracted_name(name)
            if not lbs.should_extract(name) or name in lbs.extracted:
                return
            pending.append((sanitize_label_key(name), string_text(value)))

        try:
            object_each(line.encode("utf-8", "surrogatepass"), member)
        except JSONScanError as exc:
            lbs.set_error(JSON_ERROR, str(exc))
            return line, True
        if not entry:
            return line, True
        for name, value in pending:
            lbs.set(PARSED, name, value)
        return entry[-1], True
