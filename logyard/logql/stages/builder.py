"""Per-entry label state while a log pipeline runs, with Loki's category rules.

Loki keeps three categories of labels for each entry — stream labels, structured metadata and
parsed labels — plus the `__error__` / `__error_details__` pair kept apart from them. Stages read
and write labels only through this builder, so every stage sees the same precedence:

* parsed > structured metadata > stream: setting a parsed label hides a structured metadata or
  stream label of the same name; a structured metadata label hides a stream label.
* a parser that extracts a key equal to a stream label or a structured metadata name stores it as
  `<key>_extracted` instead (`extracted_name`), so parsing never overwrites what came with the entry.
* structured metadata whose name is a stream label also gets the `_extracted` suffix on entry.
* `__error__` is read with `err` (label filters on `__error__` see it even though it is not a label).
* every parsed label name set during an entry is remembered (`extracted`): parsers skip a key that
  is already extracted, so within one entry the first value of a key wins, across parser stages too
  (Loki's parser hints `Extracted`/`RecordExtracted`, active in log queries as well).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

STREAM = 0
METADATA = 1
PARSED = 2

ERROR_LABEL = "__error__"
ERROR_DETAILS_LABEL = "__error_details__"
PRESERVE_ERROR_LABEL = "__preserve_error__"
DUPLICATE_SUFFIX = "_extracted"


@dataclass(frozen=True, slots=True)
class ParserHints:
    """Loki's parser hints for metric queries: which labels the query can observe.

    `required` empty means "extract everything" (log queries, `without`, no grouping). With
    `no_labels`, implicit parsers do not parse at all — so `sum(count_over_time({…} | json [5m]))`
    never sees a JSON error. With `required`, parsers extract only those labels and stop as soon
    as all are found (errors further along the line then go unnoticed, as in Loki).
    """

    required: frozenset[str] = frozenset()
    no_labels: bool = False

    @property
    def preserve_error(self) -> bool:
        return ERROR_LABEL in self.required

    @classmethod
    def for_metric(cls, required_names: Iterable[str], groups: Iterable[str] | None, without: bool,
                   no_labels: bool, metric_label: str = "") -> ParserHints:
        """Loki's NewParserHint: `required_names` are the labels the stages read (label filters,
        templates), `groups` the aggregation's `by`/`without` labels, `metric_label` the unwrapped
        label; `no_labels` is true when the aggregation keeps no label at all."""
        groups = list(groups or [])
        hints: list[str] = []
        for name in [*required_names, *groups, metric_label]:
            if not name:
                continue
            hints.append(name)
            if name.endswith(DUPLICATE_SUFFIX):
                hints.append(name[: -len(DUPLICATE_SUFFIX)])
        if no_labels:
            return cls(frozenset(hints)) if hints else cls(no_labels=True)
        if without or not groups:
            return cls()
        return cls(frozenset(hints))


NO_HINTS = ParserHints()


class LabelsBuilder:
    """The labels of one log entry as they change through the pipeline stages.

    `stream` is never mutated; additions live in per-category dicts and deletions in a set,
    mirroring Loki's LabelsBuilder so that the final label map and the precedence are Loki's.
    """

    __slots__ = ("stream", "add", "deleted", "err", "err_details", "extracted", "hints")

    def __init__(self, stream: Mapping[str, str], metadata: Mapping[str, str] | None = None,
                 hints: ParserHints = NO_HINTS) -> None:
        self.stream = stream
        self.hints = hints
        self.add: tuple[dict[str, str], dict[str, str], dict[str, str]] = ({}, {}, {})
        self.deleted: set[str] = set()
        self.err = ""
        self.err_details = ""
        self.extracted: set[str] = set()
        if metadata:
            for name, value in metadata.items():
                # Loki quirk (LabelsBuilder.Add): metadata named like a stream label is renamed.
                if name in stream:
                    name += DUPLICATE_SUFFIX
                if name == ERROR_LABEL:
                    self.err = value
                elif name == ERROR_DETAILS_LABEL:
                    self.err_details = value
                else:
                    self.set(METADATA, name, value)

    def copy(self) -> LabelsBuilder:
        other = LabelsBuilder.__new__(LabelsBuilder)
        other.stream = self.stream
        other.add = (dict(self.add[0]), dict(self.add[1]), dict(self.add[2]))
        other.deleted = set(self.deleted)
        other.err = self.err
        other.err_details = self.err_details
        other.extracted = set(self.extracted)
        other.hints = self.hints
        return other

    # --- reading -------------------------------------------------------------------------------
    def base_has(self, name: str) -> bool:
        return name in self.stream

    def has_in_category(self, name: str, category: int) -> bool:
        return name in self.add[category]

    def extracted_name(self, key: str) -> str:
        """The name a parser stores `key` under: `<key>_extracted` when it collides with a stream
        label or a structured metadata name (Loki's duplicate rule)."""
        if key in self.stream or key in self.add[METADATA]:
            return key + DUPLICATE_SUFFIX
        return key

    def get_with_category(self, name: str) -> tuple[str, int] | None:
        for category in (STREAM, METADATA, PARSED):
            value = self.add[category].get(name)
            if value is not None:
                return value, category
        if name in self.deleted:
            return None
        value = self.stream.get(name, "")
        # Loki reads an empty stream label value as absent.
        if value != "":
            return value, STREAM
        return None

    def get(self, name: str) -> str | None:
        found = self.get_with_category(name)
        return None if found is None else found[0]

    def value(self, name: str) -> str:
        """A label's value as label filters see it: `__error__` is the error, a missing label is ""."""
        if name == ERROR_LABEL:
            return self.err
        found = self.get_with_category(name)
        return "" if found is None else found[0]

    def has_err(self) -> bool:
        return self.err != ""

    # --- parser hints ----------------------------------------------------------------------------
    def should_extract(self, name: str) -> bool:
        required = self.hints.required
        return not required or name in required

    def should_extract_prefix(self, prefix: str) -> bool:
        required = self.hints.required
        return not required or any(r.startswith(prefix) for r in required)

    def all_required_extracted(self) -> bool:
        required = self.hints.required
        return bool(required) and required <= self.extracted

    def no_labels(self) -> bool:
        """Implicit parsers skip the line: the query observes no label (Loki's NoLabels)."""
        return self.hints.no_labels or self.all_required_extracted()

    # --- writing -------------------------------------------------------------------------------
    def set(self, category: int, name: str, value: str) -> None:
        """Set a label in a category, following Loki's precedence parsed > metadata > stream."""
        add = self.add
        if category == PARSED:
            add[METADATA].pop(name, None)
            add[STREAM].pop(name, None)
        elif category == METADATA:
            add[STREAM].pop(name, None)
            if name in add[PARSED]:
                return
        elif name in add[METADATA] or name in add[PARSED]:
            return
        target = add[category]
        if category == PARSED and name not in target:
            self.extracted.add(name)
        target[name] = value

    def set_parsed(self, key: str, value: str) -> bool:
        """What every implicit parser does with an extracted key: rename it on collision
        (`extracted_name`), skip it when not wanted by the hints or already extracted in this
        entry, else set it as parsed. True when set."""
        name = self.extracted_name(key)
        if name in self.extracted or not self.should_extract(name):
            return False
        self.set(PARSED, name, value)
        return True

    def delete(self, name: str) -> None:
        for category in self.add:
            category.pop(name, None)
        self.deleted.add(name)

    def set_error(self, kind: str, details: str | None = None) -> None:
        """Record a pipeline error the way parsers do (Loki's addErrLabel): the kind always,
        details when known, and `__preserve_error__` when the query groups by `__error__`."""
        self.err = kind
        if details is not None:
            self.err_details = details
        if self.hints.preserve_error:
            self.set(PARSED, PRESERVE_ERROR_LABEL, "true")

    # --- result --------------------------------------------------------------------------------
    def labels(self) -> dict[str, str]:
        """The entry's final labels (stream + metadata + parsed + error labels), as Loki returns them."""
        add = self.add
        out: dict[str, str] = {}
        for name, value in self.stream.items():
            if name in self.deleted or name in add[METADATA] or name in add[PARSED]:
                continue
            out[name] = add[STREAM].get(name, value)
        for name, value in add[METADATA].items():
            if name not in add[PARSED]:
                out[name] = value
        out.update(add[PARSED])
        if self.err:
            out[ERROR_LABEL] = self.err
        if self.err_details:
            out[ERROR_DETAILS_LABEL] = self.err_details
        return out
