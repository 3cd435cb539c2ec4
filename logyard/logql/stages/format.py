"""`| line_format "…"` and `| label_format a=b, c="{{…}}"`.

Loki's rules, copied:
* line_format renders the template over all current labels (with `__error__`/`__error_details__`
  when set); `__line__` and `__timestamp__` are the entry's line and time. A template that is just
  `{{.name}}` copies that label's value directly (Loki's shortcut): "" when it is missing.
* A template execution error keeps the original line (or label) and sets
  `__error__=TemplateFormatErr` with Go's error text as `__error_details__`.
* label_format `dst=src` renames: dst gets src's value and src is REMOVED (also when dst == src,
  which therefore deletes the label); nothing happens when src is missing.
* label_format `dst="{{…}}"` sets a parsed label. Quirk: all templates of one label_format see
  the labels as they were when its first template ran (Loki fills the map once per entry).
* `__error__` cannot be formatted, and a label may appear only once per label_format.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from logyard.errors import BadRequestError
from logyard.logql.template.execute import Template, TemplateError, parse_template

from .builder import ERROR_LABEL, PARSED, LabelsBuilder

TEMPLATE_ERROR = "TemplateFormatErr"


class LineFormatter:
    def __init__(self, template: str) -> None:
        try:
            self.template: Template = parse_template(template, "line")
        except BadRequestError as exc:
            raise BadRequestError(f"invalid line template: {exc}") from None
        self.simple_key = self.template.simple_field

    def required_label_names(self) -> list[str]:
        return self.template.fields()

    def process(self, ts: int, line: str, lbs: LabelsBuilder) -> tuple[str, bool]:
        if self.simple_key is not None:
            value = lbs.get(self.simple_key)
            return ("" if value is None else value), True
        try:
            return self.template.render(lbs.labels(), line, ts), True
        except TemplateError as exc:
            lbs.err, lbs.err_details = TEMPLATE_ERROR, str(exc)
            return line, True


class LabelFmt(NamedTuple):
    """One `label_format` item: `name=source` (rename) or `name="template"`."""

    name: str
    value: str
    rename: bool


class LabelsFormatter:
    def __init__(self, formats: Sequence[LabelFmt]) -> None:
        seen: set[str] = set()
        for f in formats:
            if f.name == ERROR_LABEL:
                raise BadRequestError(f"{f.name} cannot be formatted")
            if f.name in seen:
                raise BadRequestError(f"multiple label name '{f.name}' not allowed in a single format operation")
            seen.add(f.name)
        self.formats: list[tuple[LabelFmt, Template | None]] = []
        for f in formats:
            tmpl = None
            if not f.rename:
                try:
                    tmpl = parse_template(f.value, "label")
                except BadRequestError as exc:
                    raise BadRequestError(f"invalid template for label '{f.name}': {exc}") from None
            self.formats.append((f, tmpl))

    def required_label_names(self) -> list[str]:
        names: list[str] = []
        for f, tmpl in self.formats:
            names.extend([f.value] if tmpl is None else tmpl.fields())
        return list(dict.fromkeys(names))

    def process(self, ts: int, line: str, lbs: LabelsBuilder) -> tuple[str, bool]:
        snapshot: dict[str, str] | None = None
        for f, tmpl in self.formats:
            if tmpl is None:
                found = lbs.get_with_category(f.value)
                if found is not None:
                    lbs.set(PARSED, f.name, found[0])
                    lbs.delete(f.value)
                continue
            if not snapshot:
                snapshot = lbs.labels()
            try:
                value = tmpl.render(snapshot, line, ts)
            except TemplateError as exc:
                lbs.err, lbs.err_details = TEMPLATE_ERROR, str(exc)
                continue
            lbs.set(PARSED, f.name, value)
        return line, True
